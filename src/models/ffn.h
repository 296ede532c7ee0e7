// The dense SwiGLU feed-forward block, shared by the architectures (the
// routed experts are one backend op, Backend::moe_ffn).
#pragma once

#include "backend/backend.h"
#include "models/model.h"
#include "models/transformer_weights.h"

namespace scout {

// out = down(silu(gate x) * up x) for every row of x, using a.gate and a.up as scratch.
void swiglu_ffn(backend::Backend& be, const FfnWeights& f, const backend::Tensor& x, const backend::Tensor& out,
                const ActivationRows& a);

}  // namespace scout
