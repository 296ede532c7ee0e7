// The AVX2 level of quant_dot.h (built with -mavx2 -mfma -mf16c).
#include "kernels/cpu/quant_dot.h"

#if defined(__x86_64__)
#define SCOUT_VNNI 0
#include "kernels/cpu/quant_dot_x86.h"

namespace scout::kernels {
const QuantDot* quant_dot_avx2(TensorType t) { return x86_table(t); }
}  // namespace scout::kernels
#else
namespace scout::kernels {
const QuantDot* quant_dot_avx2(TensorType) { return nullptr; }
}  // namespace scout::kernels
#endif
