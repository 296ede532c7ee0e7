// libFuzzer entry point for a `scout batch` JSONL line (batch/job.h) and the
// images it names (vision/image_source.h): any input must parse to a job or
// to a job with its error set, never throw or crash; each data: URI image
// must decode or be an ImageError. Also linked into batch_line_fuzz_replay,
// which replays corpus-batch/ in ordinary builds.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "batch/job.h"
#include "vision/image.h"
#include "vision/image_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  std::set<std::string> unknown;
  const scout::batch::Job job = scout::batch::parse_jsonl_line(line, 1, unknown, "/nonexistent");
  for (const auto& m : job.messages) {
    for (const std::string& url : m.images) {
      if (!scout::vision::is_data_uri(url)) continue;  // paths are read from disk, not fuzzed here
      try {
        scout::vision::load_image_url(url, "fuzz");
      } catch (const scout::vision::ImageError&) {
      }
    }
  }
  return 0;
}
