#include "models/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

namespace scout {

// Each architecture's file defines its two functions.
Hparams read_llama4_hparams(const gguf::GgufFile& file);
std::unique_ptr<Model> load_llama4(gguf::GgufFile file, Hparams hp, const LoadOptions& opts);
Hparams read_llama_hparams(const gguf::GgufFile& file);
std::unique_ptr<Model> load_llama(gguf::GgufFile file, Hparams hp, const LoadOptions& opts);

namespace {

constexpr Architecture kArchitectures[] = {
    {"llama4", read_llama4_hparams, load_llama4},
    {"llama", read_llama_hparams, load_llama},
};

}  // namespace

std::span<const Architecture> architectures() { return kArchitectures; }

const Architecture& find_architecture(const gguf::GgufFile& file) {
  const std::string name = file.architecture();
  std::vector<std::string_view> known;
  for (const Architecture& a : kArchitectures) {
    if (a.name == name) return a;
    known.push_back(a.name);
  }
  throw gguf::GgufError(fmt::format("{}: unsupported architecture '{}' (scout runs {})", file.path(), name,
                                    fmt::join(known, ", ")));
}

Hparams read_hparams(const gguf::GgufFile& file) { return find_architecture(file).read_hparams(file); }

}  // namespace scout
