// Picking the next token from logits: greedy, or a chain of repetition
// penalty -> top-k -> top-p -> min-p -> temperature -> a draw from a seeded
// RNG (the order llama.cpp uses by default, so the same settings mean the same
// thing in both).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

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

  // How many of the most likely tokens sample() ever looks at: 1 for greedy,
  // top_k when it is set (at most kMaxCandidates); 0 when every logit can
  // matter (a penalty changes logits by token, or no top-k cut). With n > 0
  // a backend may hand over just those n (only they leave a GPU).
  int32_t candidates_needed() const;
  static constexpr int32_t kMaxCandidates = 256;
  // sample() given only the top candidates, at least candidates_needed() of
  // them (or the whole vocabulary when it is smaller), largest logit first,
  // ties to the lower id: the same draw.
  int32_t sample_top(std::span<const int32_t> ids, std::span<const float> logits);
  // Records a token (prompt or generated) for the repetition penalty.
  void accept(int32_t token);
  void reset();

  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  // top-p, min-p, temperature and the draw, over candidates sorted most likely first.
  int32_t draw(std::vector<Candidate>& c);

  // A uniform double in [0, 1) from the generator: defined here, not by a
  // standard library distribution, so a seed gives the same tokens everywhere.
  double uniform();

  SamplerParams params_;
  uint64_t state_;                // splitmix64
  std::deque<int32_t> history_;   // the last repeat_last_n tokens
};

}  // namespace scout::sampling
