#include <filesystem>

#include "cli/command.h"

namespace scout::cli {

std::string default_model_path() {
  // Beside the binary first (BUILD/scout -> BUILD/models/default.gguf), so a
  // copied build tree works; then the path the build wrote it to.
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = exe.parent_path() / "models" / "default.gguf";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  return SCOUT_DEFAULT_MODEL;
}

}  // namespace scout::cli
