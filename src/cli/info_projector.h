#pragma once

#include "gguf/reader.h"

namespace scout::cli {

// `scout info` for a projector (vision::is_mmproj); GgufError when it is not a Llama 4 one.
void print_projector_info(const gguf::GgufFile& f, bool json, bool with_tensors);

}  // namespace scout::cli
