#include "eval/perplexity.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace scout::eval {

WindowPlan plan_windows(size_t n_tokens, size_t n_ctx, size_t max_windows) {
  // n_ctx/2 scored predictions need at least one token after the midpoint.
  if (n_ctx < 4) throw std::runtime_error(fmt::format("a window of {} tokens is too short (at least 4)", n_ctx));
  WindowPlan p;
  p.n_ctx = n_ctx;
  p.first = n_ctx / 2;
  p.n_windows = n_tokens / n_ctx;
  if (p.n_windows == 0)
    throw std::runtime_error(fmt::format(
        "the text tokenizes to {} tokens, less than one window of {} (use a longer text or a smaller -c)", n_tokens,
        n_ctx));
  if (max_windows > 0) p.n_windows = std::min(p.n_windows, max_windows);
  return p;
}

std::vector<int32_t> window_tokens(std::span<const int32_t> tokens, const WindowPlan& plan, size_t w, int32_t bos) {
  const auto begin = tokens.begin() + static_cast<std::ptrdiff_t>(w * plan.n_ctx);
  std::vector<int32_t> out(begin, begin + static_cast<std::ptrdiff_t>(plan.n_ctx));
  if (bos >= 0) out[0] = bos;
  return out;
}

int resolve_threads(int n_threads) { return n_threads > 0 ? n_threads : omp_get_max_threads(); }

double log_sum_exp(std::span<const float> row) {
  const float max = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row) sum += std::exp(static_cast<double>(x) - max);
  return max + std::log(sum);
}

std::vector<double> score_window(std::span<const float> logits, size_t n_vocab, std::span<const int32_t> window,
                                 size_t first, int n_threads) {
  const size_t n_ctx = window.size();
  if (logits.size() != n_ctx * n_vocab) throw std::invalid_argument("score_window: logits do not match the window");
  std::vector<double> nll(n_ctx - 1 - first);
  // Rows are independent; each writes its own slot, so the sum stays deterministic.
#pragma omp parallel for schedule(static) num_threads(resolve_threads(n_threads))
  for (size_t k = 0; k < nll.size(); ++k) {
    const size_t i = first + k;
    const std::span<const float> row = logits.subspan(i * n_vocab, n_vocab);
    nll[k] = log_sum_exp(row) - row[static_cast<size_t>(window[i + 1])];
  }
  return nll;
}

}  // namespace scout::eval
