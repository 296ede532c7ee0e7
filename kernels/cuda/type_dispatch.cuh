// One switch from a run-time TensorType to a kernel template instantiated for
// it, shared by the matmul and lookup launchers so the list of types the GPU
// reads is written once.
#pragma once

#include <stdexcept>
#include <string>

#include "kernels/cuda/block_decode.cuh"

namespace scout::cuda {

// The plain float types (read element by element, any row length).
template <TensorType T>
constexpr bool kFloatType = T == TensorType::F32 || T == TensorType::F16 || T == TensorType::BF16;

// Calls f.template operator()<T>() for the compile-time T equal to t; false
// (nothing called) for a type without a decoder.
template <class F>
bool try_dispatch_type(TensorType t, F&& f) {
  switch (t) {
    case TensorType::F32: f.template operator()<TensorType::F32>(); return true;
    case TensorType::F16: f.template operator()<TensorType::F16>(); return true;
    case TensorType::BF16: f.template operator()<TensorType::BF16>(); return true;
    case TensorType::Q4_0: f.template operator()<TensorType::Q4_0>(); return true;
    case TensorType::Q4_1: f.template operator()<TensorType::Q4_1>(); return true;
    case TensorType::Q5_0: f.template operator()<TensorType::Q5_0>(); return true;
    case TensorType::Q5_1: f.template operator()<TensorType::Q5_1>(); return true;
    case TensorType::Q8_0: f.template operator()<TensorType::Q8_0>(); return true;
    case TensorType::Q2_K: f.template operator()<TensorType::Q2_K>(); return true;
    case TensorType::Q3_K: f.template operator()<TensorType::Q3_K>(); return true;
    case TensorType::Q4_K: f.template operator()<TensorType::Q4_K>(); return true;
    case TensorType::Q5_K: f.template operator()<TensorType::Q5_K>(); return true;
    case TensorType::Q6_K: f.template operator()<TensorType::Q6_K>(); return true;
    case TensorType::IQ4_NL: f.template operator()<TensorType::IQ4_NL>(); return true;
    case TensorType::IQ4_XS: f.template operator()<TensorType::IQ4_XS>(); return true;
    default: return false;
  }
}

// The same, throwing for a type without a decoder.
template <class F>
void dispatch_type(TensorType t, F&& f) {
  if (!try_dispatch_type(t, f))
    throw std::invalid_argument("the CUDA kernels do not read " + std::string(type_name(t)) + " weights");
}

// The launch grid for n items of `per_block` each.
inline unsigned blocks_for(int64_t n, int64_t per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

}  // namespace scout::cuda
