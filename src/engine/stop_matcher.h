// Stop strings in streamed text: generated text is held back while it could
// still turn into a stop string, so what is emitted never includes one, nor
// any prefix of one that might complete.
#pragma once

#include <string>
#include <vector>

namespace scout::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends text; returns what may be emitted now. Sets `stopped` when a stop
  // string appeared (the text from it on is dropped).
  std::string push(const std::string& piece, bool& stopped);
  // The end of generation: nothing can complete any more.
  std::string finish();
  const std::string& text() const { return text_; }

 private:
  // Length of the longest tail of text_ that is a proper prefix of a stop string.
  size_t held_prefix() const;

  std::vector<std::string> stops_;
  std::string text_;
  size_t emitted_ = 0;
};

}  // namespace scout::engine
