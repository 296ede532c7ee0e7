// `--expert-stats`: how often each routed expert was chosen, per MoE layer, as
// counts with a text histogram. Uneven routing is what makes MoE speed depend
// on the prompt: a batch reads every expert that any of its tokens chose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scout::bench {

using ExpertCounts = std::vector<std::vector<uint64_t>>;  // [layer][expert]; dense layers empty

// Adds b into a (same shape, or a empty).
void accumulate(ExpertCounts& a, const ExpertCounts& b);

// Per MoE layer: one line per expert with its count, share and a bar of █
// scaled to the layer's most chosen expert, then the layer's imbalance
// (max / mean). `title` heads the block.
std::string expert_histogram(const ExpertCounts& counts, const std::string& title);

}  // namespace scout::bench
