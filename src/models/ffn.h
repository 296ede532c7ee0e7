// Feed-forward blocks shared by the architectures: the dense SwiGLU and the
// mixture of experts with the batch's tokens grouped by expert, so each
// expert's weights are read once per batch however many tokens chose it.
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"
#include "runtime/backend.h"
#include "runtime/weight.h"

namespace scout {

// out = down(silu(gate x) * up x) for n rows of x. Uses buf.gate / buf.up.
void swiglu_ffn(runtime::Backend& be, const runtime::WeightView& gate, const runtime::WeightView& up,
                const runtime::WeightView& down, const float* x, int64_t n, float* out, ForwardBuffers& buf);

struct ExpertRoute {
  int32_t expert = 0;
  float weight = 0.0f;
};

// The k experts with the highest router logits (ties: lower index first), in
// descending order; weights are left at the raw logits for the caller to gate.
void top_k_experts(const float* logits, int n_expert, int k, ExpertRoute* out);

// Where the routing weight goes: Llama 4 scales each expert's input, Mixtral
// its output.
enum class RouteWeighting { Input, Output };

// out[t] += sum over t's routes of expert_e(x[t]) with the routing weight
// applied as `weighting` says. routes is [n][k]; expert e's matrices are rows
// [e*F, (e+1)*F) of gate/up and [e*d, (e+1)*d) of down. Counts the routes
// into buf.expert_stats when set (ExpertStats's constructor is in ffn.cpp).
void moe_ffn(runtime::Backend& be, const runtime::WeightView& gate_exps, const runtime::WeightView& up_exps,
             const runtime::WeightView& down_exps, int n_expert, const std::vector<ExpertRoute>& routes, int k,
             RouteWeighting weighting, const float* x, int64_t n, float* out, ForwardBuffers& buf);

}  // namespace scout
