// The architectures scout runs, one entry each: how to read a file's
// hyper-parameters and how to load it. Adding one is its own file
// (models/<arch>.cpp) plus its line in registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "gguf/reader.h"
#include "models/hparams.h"
#include "models/model.h"

namespace scout {

struct Architecture {
  std::string_view name;  // general.architecture
  Hparams (*read_hparams)(const gguf::GgufFile& file);
  std::unique_ptr<Model> (*load)(gguf::GgufFile file, Hparams hp, const LoadOptions& opts);
};

std::span<const Architecture> architectures();
// The file's architecture; gguf::GgufError ("unsupported architecture X (scout runs ...)") otherwise.
const Architecture& find_architecture(const gguf::GgufFile& file);
// find_architecture(file).read_hparams(file).
Hparams read_hparams(const gguf::GgufFile& file);

}  // namespace scout
