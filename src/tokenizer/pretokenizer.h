// The pre-tokenizer: splits text into the pieces BPE works on, with the
// regex the model was trained with (tokenizer.ggml.pre selects it). PCRE2 with
// real Unicode properties runs the regex exactly as written, so scripts whose
// words carry combining marks (Devanagari, Thai, ...) split like the
// reference tokenizer rather than at every mark.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace scout::tokenizer {

// The regexes, as their definitions give them.
extern const char* const kLlama4Pattern;  // "llama4" (o200k style, as gpt-4o)
extern const char* const kLlama3Pattern;  // "llama-bpe"
extern const char* const kGpt2Pattern;    // "gpt2", and the fallback

class PreTokenizer {
 public:
  // Compiles `pattern` (PCRE2, UTF + UCP, JIT when available). Throws
  // std::runtime_error with PCRE2's message when it does not compile.
  explicit PreTokenizer(std::string_view pattern);
  // The pre-tokenizer for a tokenizer.ggml.pre value; an unknown value logs a
  // warning and gives gpt2's.
  static PreTokenizer for_name(std::string_view pre);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of `text` to `out`; their concatenation is `text`.
  // Valid UTF-8 runs go through the regex; each byte that is not part of a
  // valid character becomes a piece of its own (BPE makes it a byte token).
  void split(std::string_view text, std::vector<std::string_view>& out) const;
  std::vector<std::string_view> split(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }
  bool jit() const { return jit_; }

 private:
  struct Impl;
  void split_valid(std::string_view run, std::vector<std::string_view>& out, void* match_data) const;

  std::string pattern_;
  std::unique_ptr<Impl> impl_;
  bool jit_ = false;
};

}  // namespace scout::tokenizer
