// Dot products of quantized weight rows with 8-bit quantized activations: the
// inner loop of every matmul on a quantized model, as llama.cpp computes it.
//
// An activation row is quantized once per matmul (act_quant.h) into the
// format its weight type pairs with: 32-element blocks for the legacy types
// (Q4_0 .. Q8_0, IQ4_NL), 256-element blocks for the K-quants and IQ4_XS.
// The weight row is then multiplied in integers block by block and each
// block's sum scaled once in float.
//
// Each kernel exists once per instruction-set level: a plain scalar
// reference (quant_dot_scalar.cpp, the definition of the result) and SIMD
// versions (quant_dot_x86.h) tested against it on every type and shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tensor/types.h"

namespace scout::kernels {

// The activation layouts (act_quant.h).
enum class ActFormat { Q8_32, Q8_256 };

// Instruction-set levels, lowest first. A level needs the CPU features named.
enum class CpuLevel {
  Scalar,  // plain C++, the reference
  Avx2,    // AVX2 + FMA + F16C (Haswell, Zen 1 and later)
  Vnni,    // + AVX-512 VNNI/VL on 256-bit vectors (Ice Lake, Sapphire Rapids, Zen 4 and later)
  Avx512,  // the same features on 512-bit vectors, where written; falls back to Vnni
};
constexpr int kCpuLevels = 4;
std::string_view cpu_level_name(CpuLevel level);

// The highest level this CPU supports, lowered by the environment variable
// SCOUT_CPU_LEVEL=scalar|avx2|vnni|avx512 when set (for comparisons and benchmarks).
CpuLevel cpu_level();
bool cpu_supports(CpuLevel level);

// out[r] = dot(weight row w, activation row r) for r < n_act (1..kMaxActRows),
// where activation row r starts at act + r * act_stride bytes. n is the row
// length in elements (a multiple of the weight type's block size).
using QuantDotFn = void (*)(int64_t n, const uint8_t* w, const uint8_t* act, size_t act_stride, int n_act,
                            float* out);
constexpr int kMaxActRows = 4;

// A QuantDotFn from a kernel written for a compile-time row count:
// K<NA>::run(n, w, act, stride, out) for NA = 1..kMaxActRows, so the SIMD
// kernels keep their per-row accumulators in registers.
template <template <int> class K>
void by_rows(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_act, float* out) {
  static_assert(kMaxActRows == 4);
  switch (n_act) {
    case 1: K<1>::run(n, w, act, stride, out); break;
    case 2: K<2>::run(n, w, act, stride, out); break;
    case 3: K<3>::run(n, w, act, stride, out); break;
    default: K<4>::run(n, w, act, stride, out); break;
  }
}

struct QuantDot {
  ActFormat act;
  QuantDotFn fn;
};

// The kernel for weights of type t at this level, or nullptr when t has no
// integer dot product (float types, exotic formats): those go through f32.
const QuantDot* quant_dot(TensorType t, CpuLevel level);

// Per-level tables, defined in the level's own translation unit.
const QuantDot* quant_dot_scalar(TensorType t);
const QuantDot* quant_dot_avx2(TensorType t);
const QuantDot* quant_dot_vnni(TensorType t);
const QuantDot* quant_dot_avx512(TensorType t);

}  // namespace scout::kernels
