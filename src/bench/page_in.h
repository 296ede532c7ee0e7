// Brings a model's mapped weights into memory before anything is timed: the
// file is mapped, and a page is only read from the page cache (or disk) the
// first time a token touches it. A MoE token touches few experts, so without
// this, generation runs would keep faulting in experts no run has used yet.
#pragma once

#include <cstdint>

namespace scout::gguf {
class GgufFile;
}

namespace scout::bench {

// Reads one byte per 4 KiB page of every tensor; returns the bytes covered.
uint64_t page_in_weights(const gguf::GgufFile& file);

}  // namespace scout::bench
