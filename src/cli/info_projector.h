#pragma once

#include <string>

namespace scout::cli {

// Whether the GGUF file at path is a vision projector (general.architecture = clip).
bool is_projector_file(const std::string& path);
// `scout info` for a projector; GgufError when it is not a Llama 4 one.
void print_projector_info(const std::string& path, bool json, bool with_tensors);

}  // namespace scout::cli
