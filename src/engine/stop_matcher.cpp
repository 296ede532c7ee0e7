#include "engine/stop_matcher.h"

#include <algorithm>

namespace scout::engine {

std::string StopMatcher::push(const std::string& piece, bool& stopped) {
  text_ += piece;
  // Emitted text never holds the start of a stop string, so search after it.
  size_t cut = std::string::npos;
  for (const std::string& s : stops_)
    if (!s.empty()) cut = std::min(cut, text_.find(s, emitted_));
  stopped = cut != std::string::npos;
  const size_t ready = stopped ? cut : text_.size() - held_prefix();
  std::string out = ready > emitted_ ? text_.substr(emitted_, ready - emitted_) : std::string();
  emitted_ = std::max(emitted_, ready);
  if (stopped) text_.resize(cut);
  return out;
}

std::string StopMatcher::finish() {
  std::string out = text_.substr(std::min(emitted_, text_.size()));
  emitted_ = text_.size();
  return out;
}

size_t StopMatcher::held_prefix() const {
  size_t best = 0;
  for (const std::string& s : stops_)
    for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), text_.size()); k > best; --k)
      if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
        best = k;
        break;
      }
  return best;
}

}  // namespace scout::engine
