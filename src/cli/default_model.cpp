#include <filesystem>

#include "cli/command.h"

namespace scout::cli {

namespace {

// Beside the binary first (BUILD/scout -> BUILD/models/NAME), so a copied
// build tree works; then the path the build wrote it to.
std::string find_build_model(const char* name, const char* build_path) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = exe.parent_path() / "models" / name;
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  return build_path;
}

}  // namespace

std::string default_model_path() { return find_build_model("default.gguf", SCOUT_DEFAULT_MODEL); }

std::string default_text_model_path() { return find_build_model("stories260K.gguf", SCOUT_DEFAULT_TEXT_MODEL); }

}  // namespace scout::cli
