// libFuzzer entry point for the GGUF reader. Any input must either parse or be
// rejected with GgufError; every other exception, crash or sanitizer report is
// a finding. Also linked into gguf_fuzz_replay, which replays the corpus in
// ordinary builds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/reader.h"

namespace {

// After a successful parse, touch everything a caller may use, so a header
// that validates but describes something inconsistent shows up here.
void exercise(const scout::gguf::GgufFile& f) {
  using scout::gguf::GgufError;
  size_t sink = 0;
  for (const auto& [key, value] : f.metadata()) {
    sink += value.to_display().size();
    if (f.find(key) == nullptr) __builtin_trap();
    try {
      if (value.is_string()) sink += f.get_string(key)->size();
      if (value.is_integer()) sink += static_cast<size_t>(f.get_uint(key).value_or(0));
      if (value.is_float()) sink += static_cast<size_t>(*f.get_float(key) != 0);
    } catch (const GgufError&) {
      // A negative integer through get_uint: a clean rejection.
    }
  }
  try {
    sink += f.architecture().size();
  } catch (const GgufError&) {
  }
  for (const auto& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) __builtin_trap();
    // First and last byte of the data must lie inside the input.
    sink += t.data[0] + t.data[t.nbytes - 1] + t.shape_string().size();
  }
  asm volatile("" : : "r"(sink));  // keep the reads
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    exercise(scout::gguf::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz"));
  } catch (const scout::gguf::GgufError&) {
    // Rejected cleanly.
  }
  return 0;
}
