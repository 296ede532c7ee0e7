#include "tensor/types.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

namespace scout {

namespace {
using T = TensorType;
// Block sizes and bytes follow ggml's type_traits table (ggml.c).
const std::vector<TypeTraits> kTypes = {
    {T::F32, "f32", 1, 4, false},         {T::F16, "f16", 1, 2, false},
    {T::Q4_0, "q4_0", 32, 18, true},      {T::Q4_1, "q4_1", 32, 20, true},
    {T::Q5_0, "q5_0", 32, 22, true},      {T::Q5_1, "q5_1", 32, 24, true},
    {T::Q8_0, "q8_0", 32, 34, true},      {T::Q8_1, "q8_1", 32, 36, true},
    {T::Q2_K, "q2_K", 256, 84, true},     {T::Q3_K, "q3_K", 256, 110, true},
    {T::Q4_K, "q4_K", 256, 144, true},    {T::Q5_K, "q5_K", 256, 176, true},
    {T::Q6_K, "q6_K", 256, 210, true},    {T::Q8_K, "q8_K", 256, 292, true},
    {T::IQ2_XXS, "iq2_xxs", 256, 66, true}, {T::IQ2_XS, "iq2_xs", 256, 74, true},
    {T::IQ3_XXS, "iq3_xxs", 256, 98, true}, {T::IQ1_S, "iq1_s", 256, 50, true},
    {T::IQ4_NL, "iq4_nl", 32, 18, true},  {T::IQ3_S, "iq3_s", 256, 110, true},
    {T::IQ2_S, "iq2_s", 256, 82, true},   {T::IQ4_XS, "iq4_xs", 256, 136, true},
    {T::I8, "i8", 1, 1, false},           {T::I16, "i16", 1, 2, false},
    {T::I32, "i32", 1, 4, false},         {T::I64, "i64", 1, 8, false},
    {T::F64, "f64", 1, 8, false},         {T::IQ1_M, "iq1_m", 256, 56, true},
    {T::BF16, "bf16", 1, 2, false},       {T::TQ1_0, "tq1_0", 256, 54, true},
    {T::TQ2_0, "tq2_0", 256, 66, true},   {T::MXFP4, "mxfp4", 32, 17, true},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}
}  // namespace

const std::vector<TypeTraits>& all_type_traits() { return kTypes; }

const TypeTraits* find_type_traits(uint32_t id) {
  for (const TypeTraits& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const TypeTraits& type_traits(TensorType t) {
  const TypeTraits* tt = find_type_traits(static_cast<uint32_t>(t));
  if (!tt) throw std::logic_error("type_traits: unknown tensor type " + std::to_string(static_cast<uint32_t>(t)));
  return *tt;
}

std::optional<TensorType> type_from_name(std::string_view name) {
  const std::string want = lower(name);
  for (const TypeTraits& t : kTypes)
    if (lower(t.name) == want) return t.type;
  return std::nullopt;
}

}  // namespace scout
