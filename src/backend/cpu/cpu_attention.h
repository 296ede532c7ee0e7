// The CPU backend's attention (Backend::attention): flash-style, tiled over
// queries and KV blocks with an online softmax, over the paged cache, every KV type
// (kv_layout.h), accumulating in f32.
#pragma once

#include <cstdint>

#include "backend/cpu/cpu_kv.h"

namespace scout::backend::cpu {

void cpu_attention(const float* q, const int32_t* pos, int64_t n_rows, const KvLayerView& kv, const AttentionParams& p,
                   float* out, int n_threads);

}  // namespace scout::backend::cpu
