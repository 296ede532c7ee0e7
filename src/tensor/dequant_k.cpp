// Dequantization of the 256-element K-quant super-blocks and the IQ4 formats.
// Each formula keeps ggml's float operation order (e.g. Q4_K is (d*sc)*q - dmin*m,
// two roundings for the scale, no fused multiply-add), so results are bit-exact.
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/dequant.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace scout::blocks {

namespace {
template <typename Block>
Block load(const uint8_t* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}
}  // namespace

// Q2_K: each 128-element half uses 32 bytes of qs; element 32*k + l of the half
// is bits 2k..2k+1 of byte l. Sub-block s (16 elements) has scale byte s.
void dequant_q2_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Q2_K>(src, i);
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    int s = 0;  // sub-block index, in output order
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int k = 0; k < 4; ++k) {          // 2-bit plane k
        for (int part = 0; part < 2; ++part, ++s) {  // bytes 0-15, then 16-31
          const float dl = d * (b.scales[s] & 0xF);
          const float ml = dmin * (b.scales[s] >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[16 * part + l] >> (2 * k)) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K: the low 2 bits are laid out as in Q2_K; the third bit of the element
// at byte index idx of 2-bit plane k in half h is bit 4h+k of hmask[idx].
void dequant_q3_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Q3_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    int s = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int k = 0; k < 4; ++k) {
        const int plane = 4 * half + k;  // which hmask bit
        for (int part = 0; part < 2; ++part, ++s) {
          const float dl = d * (unpack_scale_q3_k(b.scales, s) - 32);
          for (int l = 0; l < 16; ++l) {
            const int idx = 16 * part + l;
            const int lo = (q[idx] >> (2 * k)) & 3;
            const int high_set = (b.hmask[idx] >> plane) & 1;
            *y++ = dl * (lo - (high_set ? 0 : 4));
          }
        }
      }
    }
  }
}

// Q4_K: each 64 elements use 32 bytes of qs: low nibbles are the first 32
// elements (sub-block 2p), high nibbles the next 32 (sub-block 2p+1).
void dequant_q4_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Q4_K>(src, i);
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int p = 0; p < 4; ++p) {
      const uint8_t* q = b.qs + 32 * p;
      for (int h = 0; h < 2; ++h) {
        int sc, m;
        unpack_scale_min_k4(b.scales, 2 * p + h, sc, m);
        const float d1 = d * sc, m1 = dmin * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * ((q[l] >> (4 * h)) & 0xF) - m1;
      }
    }
  }
}

// Q5_K: Q4_K plus a 5th bit: sub-block s takes bit s of qh[l].
void dequant_q5_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Q5_K>(src, i);
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int p = 0; p < 4; ++p) {
      const uint8_t* q = b.qs + 32 * p;
      for (int h = 0; h < 2; ++h) {
        const int s = 2 * p + h;
        int sc, m;
        unpack_scale_min_k4(b.scales, s, sc, m);
        const float d1 = d * sc, m1 = dmin * m;
        for (int l = 0; l < 32; ++l) {
          const int v = ((q[l] >> (4 * h)) & 0xF) + (((b.qh[l] >> s) & 1) << 4);
          *y++ = d1 * v - m1;
        }
      }
    }
  }
}

// Q6_K: each 128 elements use 64 bytes of ql and 32 of qh. Element 32*k + l
// (k = 0..3) has its low nibble in ql[l + 32*(k&1)] (high nibble when k >= 2)
// and its top 2 bits at bits 2k of qh[l]. Scales cover 16 elements each.
void dequant_q6_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Q6_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 32; ++l) {
          const int lo = (ql[l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
          const int hi = (qh[l] >> (2 * k)) & 3;
          const int q = (lo | (hi << 4)) - 32;
          y[32 * k + l] = d * sc[2 * k + l / 16] * q;  // (d*sc)*q, as ggml
        }
      }
      y += 128;
    }
  }
}

void dequant_q8_K(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    const auto b = load<Q8_K>(src, i);
    for (int j = 0; j < QK_K; ++j) y[j] = b.d * b.qs[j];
  }
}

void dequant_iq4_nl(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const auto b = load<IQ4_NL>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = d * kIq4Values[b.qs[j] & 0xF];
      y[j + QK / 2] = d * kIq4Values[b.qs[j] >> 4];
    }
  }
}

// IQ4_XS: eight IQ4_NL-shaped sub-blocks of 32 sharing one fp16 d, each with a
// 6-bit scale (low 4 bits: nibble s%2 of scales_l[s/2]; high 2: bits 2s of scales_h).
void dequant_iq4_xs(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<IQ4_XS>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int s = 0; s < 8; ++s, y += 32) {
      const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | (((b.scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * (ls - 32);
      const uint8_t* q = b.qs + 16 * s;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIq4Values[q[j] & 0xF];
        y[j + 16] = dl * kIq4Values[q[j] >> 4];
      }
    }
  }
}

}  // namespace scout::blocks
