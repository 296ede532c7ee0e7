// Perplexity the way llama.cpp's perplexity tool computes it, so scout's
// numbers compare with published ones: the text is tokenized once (BOS at its
// start) and cut into consecutive, non-overlapping windows of n_ctx tokens (a
// partial last window is dropped); each window's first token becomes BOS, the
// window is evaluated from an empty context, and only the predictions of its
// second half are scored (positions n_ctx/2 .. n_ctx-2 predicting the next
// token), so every scored token sees at least n_ctx/2 tokens of context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace scout::eval {

struct WindowPlan {
  size_t n_ctx = 0;
  size_t n_windows = 0;
  size_t first = 0;  // first scored position: n_ctx / 2
  size_t predictions_per_window() const { return n_ctx - 1 - first; }
  size_t predictions() const { return n_windows * predictions_per_window(); }
};

// Throws std::runtime_error when the text does not fill even one window.
// max_windows > 0 caps the count (llama.cpp's --chunks).
WindowPlan plan_windows(size_t n_tokens, size_t n_ctx, size_t max_windows = 0);

// Window w's tokens: tokens[w*n_ctx, (w+1)*n_ctx) with the first one replaced
// by bos (when bos >= 0).
std::vector<int32_t> window_tokens(std::span<const int32_t> tokens, const WindowPlan& plan, size_t w, int32_t bos);

// log(sum(exp(row))), in double.
double log_sum_exp(std::span<const float> row);

// -log p(window[i+1]) under the softmax of row i, for each scored position
// i = first .. n_ctx-2, from logits [n_ctx][n_vocab] (log-softmax in double).
// n_threads: OpenMP threads, 0 for OpenMP's default.
std::vector<double> score_window(std::span<const float> logits, size_t n_vocab, std::span<const int32_t> window,
                                 size_t first, int n_threads = 0);

// OpenMP's thread count for n_threads = 0, else n_threads.
int resolve_threads(int n_threads);

}  // namespace scout::eval
