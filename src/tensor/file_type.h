// general.file_type: llama.cpp's LLAMA_FTYPE numbering, which names the
// quantization mix of a whole file ("Q4_K_M") rather than one tensor's type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tensor/types.h"

namespace scout {

// "Q4_K_M" for 15; "unknown (N)" for an id without a name.
std::string file_type_name(uint32_t ftype);
// The file type of a file whose weights are all of one tensor type, if any.
std::optional<uint32_t> file_type_for(TensorType weight_type);

}  // namespace scout
