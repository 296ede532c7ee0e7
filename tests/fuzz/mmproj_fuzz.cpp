// libFuzzer entry point for the vision projector's reader (vision/mmproj.h):
// any input must be read or rejected with GgufError. Also linked into
// mmproj_fuzz_replay, which replays corpus-mmproj/ in ordinary builds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/reader.h"
#include "vision/mmproj.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const scout::gguf::GgufFile f = scout::gguf::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz");
    scout::vision::read_vision_hparams(f);
  } catch (const scout::gguf::GgufError&) {
  }
  return 0;
}
