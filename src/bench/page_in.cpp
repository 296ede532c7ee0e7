#include "bench/page_in.h"

#include "gguf/reader.h"

namespace scout::bench {

uint64_t page_in_weights(const gguf::GgufFile& file) {
  constexpr uint64_t kPage = 4096;
  uint64_t bytes = 0;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (!t.data) continue;
    // Volatile reads: they have no other use, so they must not be optimised away.
    const volatile uint8_t* p = t.data;
    for (uint64_t off = 0; off < t.nbytes; off += kPage) static_cast<void>(p[off]);
    if (t.nbytes) static_cast<void>(p[t.nbytes - 1]);
    bytes += t.nbytes;
  }
  return bytes;
}

}  // namespace scout::bench
