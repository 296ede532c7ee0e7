// KL divergence between a base model's next-token distributions (saved to a
// file by one run) and another model's (a quantization of the same model,
// evaluated by a later run) at the same positions of the same text.
//
// What is saved per scored position (a "row", row_bytes(n_vocab) bytes), the
// same idea as llama.cpp's --kl-divergence-base files:
//   f64 nll      -log p(actual next token), exact, for the base's PPL
//   f32 floor    log-probability of quantized level 1
//   f32 scale    log-probability step between levels
//   i32 top      the base's most likely token (first on ties)
//   i32 next     the actual next token (a check that the rows match the text)
//   u16 q[n_vocab]  log p(i) = floor + (q - 1) * scale; q = 0: below the floor
// The levels cover the top 16 nats (or all of the row's range when smaller):
// a step of at most 2.4e-4 nats. Tokens more than 16 nats below the top
// (p < 1.1e-7 of the top token's) count as 0 in the KL sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace scout::eval {

constexpr double kLogProbRange = 16.0;

size_t row_bytes(size_t n_vocab);

// Writes the row for one position's logits and the token that followed.
void encode_row(std::span<const float> logits, int32_t next_token, uint8_t* row);

struct RowComparison {
  double kl = 0;        // KL(base || this), nats
  double nll_base = 0;  // -log p_base(next)
  double nll = 0;       // -log p_this(next)
  bool same_top = false;
};

RowComparison compare_row(const uint8_t* base_row, std::span<const float> logits, int32_t next_token);

// The rows of a window's scored positions (perplexity.h: first .. n_ctx-2),
// from logits [n_ctx][n_vocab]; and their comparison with another model's
// logits for the same window. n_threads: OpenMP threads, 0 for the default.
std::vector<uint8_t> encode_window(std::span<const float> logits, size_t n_vocab, std::span<const int32_t> window,
                                   size_t first, int n_threads = 0);
std::vector<RowComparison> compare_window(std::span<const uint8_t> rows, std::span<const float> logits, size_t n_vocab,
                                          std::span<const int32_t> window, size_t first, int n_threads = 0);

}  // namespace scout::eval
