// The VNNI level of quant_dot.h: the AVX2 kernels with vpdpbusd (AVX-512 VNNI
// on 256-bit vectors; built with -mavx512vnni -mavx512vl on top of AVX2).
#include "kernels/cpu/quant_dot.h"

#if defined(__x86_64__)
#define SCOUT_VNNI 1
#include "kernels/cpu/quant_dot_x86.h"

namespace scout::kernels {
const QuantDot* quant_dot_vnni(TensorType t) { return x86_table(t); }
}  // namespace scout::kernels
#else
namespace scout::kernels {
const QuantDot* quant_dot_vnni(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
