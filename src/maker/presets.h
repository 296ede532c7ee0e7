// Model-maker presets: models/presets/*.json, compiled into the binary by
// tools/embed_presets.cmake so `scout make-model --preset NAME` works anywhere.
#pragma once

#include <string_view>
#include <vector>

namespace scout::maker {

struct EmbeddedPreset {
  std::string_view name;  // file name without .json
  std::string_view json;
};

const std::vector<EmbeddedPreset>& embedded_presets();

}  // namespace scout::maker
