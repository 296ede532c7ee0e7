// Picking the next token from logits: greedy, or a chain of repetition
// penalty -> top-k -> top-p -> min-p -> temperature -> a draw from a seeded
// RNG (the order llama.cpp uses by default, so the same settings mean the same
// thing in both).
#pragma once

#include <cstdint>
#include <deque>
#include <span>

namespace scout::sampling {

struct SamplerParams {
  float temperature = 0.8f;     // <= 0: greedy (argmax), the other settings are ignored
  int32_t top_k = 40;           // keep the k most likely tokens; <= 0: off
  float top_p = 0.95f;          // keep the smallest set with this much probability; >= 1: off
  float min_p = 0.05f;          // drop tokens below min_p * p(most likely); <= 0: off
  float repeat_penalty = 1.0f;  // > 1 discourages tokens seen in the last repeat_last_n; 1: off
  float presence_penalty = 0.0f;   // subtracted once from every token in the window; 0: off
  float frequency_penalty = 0.0f;  // subtracted per occurrence in the window; 0: off
  int32_t repeat_last_n = 64;      // the window of recent tokens all three penalties look at
  uint64_t seed = 0;
};

// Index of the largest logit (the first on ties).
int32_t greedy(std::span<const float> logits);

class Sampler {
 public:
  explicit Sampler(SamplerParams params = {});

  // Draws a token from logits (n_vocab values); does not record it.
  int32_t sample(std::span<const float> logits);
  // Records a token (prompt or generated) for the repetition penalty.
  void accept(int32_t token);
  void reset();

  const SamplerParams& params() const { return params_; }

 private:
  // A uniform double in [0, 1) from the generator: defined here, not by a
  // standard library distribution, so a seed gives the same tokens everywhere.
  double uniform();

  SamplerParams params_;
  uint64_t state_;                // splitmix64
  std::deque<int32_t> history_;   // the last repeat_last_n tokens
};

}  // namespace scout::sampling
