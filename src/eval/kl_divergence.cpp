#include "eval/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "eval/perplexity.h"

namespace scout::eval {

namespace {

constexpr size_t kHeaderBytes = 24;
constexpr double kLevels = 65534.0;  // q = 1 .. 65535; q = 0 marks "below the floor"

struct RowHeader {
  double nll;  // in double: the base's PPL comes out as the base run printed it
  float floor;
  float scale;
  int32_t top;
  int32_t next;
};
static_assert(sizeof(RowHeader) == kHeaderBytes, "no padding: rows are written byte for byte");

RowHeader read_header(const uint8_t* row) {
  RowHeader h;
  std::memcpy(&h, row, sizeof h);
  return h;
}

int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

}  // namespace

size_t row_bytes(size_t n_vocab) { return kHeaderBytes + 2 * n_vocab; }

void encode_row(std::span<const float> logits, int32_t next_token, uint8_t* row) {
  const int32_t top = argmax(logits);
  const double max_logit = logits[static_cast<size_t>(top)];
  const double lse = log_sum_exp(logits);
  const double min_logit = *std::min_element(logits.begin(), logits.end());
  const double floor_logit = std::max(min_logit, max_logit - kLogProbRange);
  const double range = max_logit - floor_logit;
  const double scale = range > 0 ? range / kLevels : 1.0;

  const RowHeader h{lse - logits[static_cast<size_t>(next_token)], static_cast<float>(floor_logit - lse),
                    static_cast<float>(scale), top, next_token};
  std::memcpy(row, &h, sizeof h);
  uint8_t* q = row + kHeaderBytes;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double x = logits[i];
    // Levels are relative to the floor's logit; the floor itself is level 1.
    const double level = x < floor_logit ? 0.0 : std::min(kLevels, std::round((x - floor_logit) / scale)) + 1;
    const uint16_t v = static_cast<uint16_t>(level);
    std::memcpy(q + 2 * i, &v, 2);
  }
}

RowComparison compare_row(const uint8_t* base_row, std::span<const float> logits, int32_t next_token) {
  const RowHeader h = read_header(base_row);
  if (h.next != next_token)
    throw std::runtime_error("the base row is for another token: the base file does not match this text");
  const uint8_t* q = base_row + kHeaderBytes;
  const double lse = log_sum_exp(logits);

  RowComparison c;
  c.nll_base = h.nll;
  c.nll = lse - logits[static_cast<size_t>(next_token)];
  c.same_top = argmax(logits) == h.top;
  double kl = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    uint16_t v;
    std::memcpy(&v, q + 2 * i, 2);
    if (v == 0) continue;
    const double log_p = static_cast<double>(h.floor) + (v - 1) * static_cast<double>(h.scale);
    kl += std::exp(log_p) * (log_p - (logits[i] - lse));
  }
  c.kl = kl;
  return c;
}

std::vector<uint8_t> encode_window(std::span<const float> logits, size_t n_vocab, std::span<const int32_t> window,
                                   size_t first, int n_threads) {
  const size_t n_rows = window.size() - 1 - first;
  const size_t bytes = row_bytes(n_vocab);
  std::vector<uint8_t> rows(n_rows * bytes);
#pragma omp parallel for schedule(static) num_threads(resolve_threads(n_threads))
  for (size_t k = 0; k < n_rows; ++k)
    encode_row(logits.subspan((first + k) * n_vocab, n_vocab), window[first + k + 1], rows.data() + k * bytes);
  return rows;
}

std::vector<RowComparison> compare_window(std::span<const uint8_t> rows, std::span<const float> logits, size_t n_vocab,
                                          std::span<const int32_t> window, size_t first, int n_threads) {
  const size_t n_rows = window.size() - 1 - first;
  const size_t bytes = row_bytes(n_vocab);
  if (rows.size() != n_rows * bytes) throw std::invalid_argument("compare_window: rows do not match the window");
  // Checked here, not in the loop: an exception must not leave an OpenMP region.
  for (size_t k = 0; k < n_rows; ++k)
    if (read_header(rows.data() + k * bytes).next != window[first + k + 1])
      throw std::runtime_error("the base file's rows are for other tokens: it does not match this text");
  std::vector<RowComparison> out(n_rows);
#pragma omp parallel for schedule(static) num_threads(resolve_threads(n_threads))
  for (size_t k = 0; k < n_rows; ++k)
    out[k] = compare_row(rows.data() + k * bytes, logits.subspan((first + k) * n_vocab, n_vocab), window[first + k + 1]);
  return out;
}

}  // namespace scout::eval
