// Picks the kernel level once from the CPU's features (and SCOUT_CPU_LEVEL).
#include "kernels/cpu/quant_dot.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

namespace scout::kernels {

std::string_view cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::Scalar: return "scalar";
    case CpuLevel::Avx2: return "avx2";
    case CpuLevel::Vnni: return "vnni";
    case CpuLevel::Avx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(CpuLevel level) {
#if defined(__x86_64__) || defined(__i386__)
  switch (level) {
    case CpuLevel::Scalar: return true;
    case CpuLevel::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case CpuLevel::Vnni:
      return cpu_supports(CpuLevel::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
    case CpuLevel::Avx512: return cpu_supports(CpuLevel::Vnni);
  }
  return false;
#else
  return level == CpuLevel::Scalar;
#endif
}

namespace {

CpuLevel detect_level() {
  CpuLevel best = CpuLevel::Scalar;
  for (CpuLevel l : {CpuLevel::Avx2, CpuLevel::Vnni, CpuLevel::Avx512})
    if (cpu_supports(l)) best = l;
  const char* env = std::getenv("SCOUT_CPU_LEVEL");
  if (!env || !*env) return best;
  for (int i = 0; i < kCpuLevels; ++i) {
    const auto l = static_cast<CpuLevel>(i);
    if (cpu_level_name(l) != env) continue;
    if (!cpu_supports(l)) {
      spdlog::warn("SCOUT_CPU_LEVEL={}: this CPU lacks it; using {}", env, cpu_level_name(best));
      return best;
    }
    return l;
  }
  spdlog::warn("SCOUT_CPU_LEVEL={}: not one of scalar, avx2, vnni, avx512; using {}", env, cpu_level_name(best));
  return best;
}

}  // namespace

CpuLevel cpu_level() {
  static const CpuLevel level = detect_level();
  return level;
}

const QuantDot* quant_dot(TensorType t, CpuLevel level) {
  // A level without its own kernel for t falls back to the level below.
  const QuantDot* k = nullptr;
  switch (level) {
    case CpuLevel::Avx512: k = quant_dot_avx512(t); break;
    case CpuLevel::Vnni: k = quant_dot_vnni(t); break;
    case CpuLevel::Avx2: k = quant_dot_avx2(t); break;
    case CpuLevel::Scalar: break;
  }
  if (k) return k;
  if (level == CpuLevel::Avx512) return quant_dot(t, CpuLevel::Vnni);
  if (level == CpuLevel::Vnni) return quant_dot(t, CpuLevel::Avx2);
  return quant_dot_scalar(t);
}

}  // namespace scout::kernels
