#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace scout::sampling {

int32_t greedy(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("greedy: no logits");
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplerParams params) : params_(params), state_(params.seed) {}

void Sampler::reset() {
  history_.clear();
  state_ = params_.seed;
}

void Sampler::accept(int32_t token) {
  if (params_.repeat_last_n <= 0) return;
  history_.push_back(token);
  while (history_.size() > static_cast<size_t>(params_.repeat_last_n)) history_.pop_front();
}

double Sampler::uniform() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("sample: no logits");
  const SamplerParams& p = params_;

  std::vector<Candidate> c(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), logits[i]};

  // Penalties over the recent window, as llama.cpp applies them: the repetition
  // penalty (CTRL style) once per distinct token, then the OpenAI-style
  // presence (once) and frequency (per occurrence) penalties.
  const bool penalize = p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  if (penalize && !history_.empty()) {
    std::unordered_map<int32_t, int> count;
    for (int32_t id : history_) count[id]++;
    for (const auto& [id, n] : count) {
      if (id < 0 || static_cast<size_t>(id) >= c.size()) continue;
      float& l = c[static_cast<size_t>(id)].logit;
      if (p.repeat_penalty != 1.0f) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
      l -= static_cast<float>(n) * p.frequency_penalty + p.presence_penalty;
    }
  }
  if (p.temperature <= 0.0f) {
    return std::max_element(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; })
        ->id;
  }

  // Most likely first (ties: lower id), keeping only the top k when set.
  const auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = c.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) n = static_cast<size_t>(p.top_k);
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), c.end(), by_logit);
  c.resize(n);
  return draw(c);
}

int32_t Sampler::candidates_needed() const {
  const SamplerParams& p = params_;
  const bool penalize = p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  if (penalize) return 0;
  if (p.temperature <= 0.0f) return 1;
  return p.top_k > 0 && p.top_k <= kMaxCandidates ? p.top_k : 0;
}

int32_t Sampler::sample_top(std::span<const int32_t> ids, std::span<const float> logits) {
  const int32_t need = candidates_needed();
  if (need == 0 || ids.empty() || logits.size() != ids.size())
    throw std::invalid_argument("sample_top: these settings need every logit, or no candidates were given");
  if (params_.temperature <= 0.0f) return ids[0];
  std::vector<Candidate> c(std::min(ids.size(), static_cast<size_t>(need)));
  for (size_t i = 0; i < c.size(); ++i) c[i] = {ids[i], logits[i]};
  return draw(c);
}

int32_t Sampler::draw(std::vector<Candidate>& c) {
  const SamplerParams& p = params_;
  size_t n = c.size();

  // Probabilities at temperature 1 for top-p and min-p.
  std::vector<double> prob(n);
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += (prob[i] = std::exp(static_cast<double>(c[i].logit - c[0].logit)));
  for (double& q : prob) q /= total;

  if (p.top_p < 1.0f) {
    double cum = 0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += prob[i];
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (p.min_p > 0.0f) {
    size_t keep = 1;
    while (keep < n && prob[keep] >= p.min_p * prob[0]) ++keep;
    n = keep;
  }

  // Temperature, then one draw.
  std::vector<double> w(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (w[i] = std::exp(static_cast<double>(c[i].logit - c[0].logit) / p.temperature));
  double r = uniform() * sum;
  for (size_t i = 0; i < n; ++i) {
    if (r < w[i]) return c[i].id;
    r -= w[i];
  }
  return c[n - 1].id;  // rounding left r just past the end
}

}  // namespace scout::sampling
