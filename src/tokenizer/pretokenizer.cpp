#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "tokenizer/utf8.h"

namespace scout::tokenizer {

const char* const kLlama4Pattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct PreTokenizer::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(std::string_view pattern) : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::runtime_error("pre-tokenizer regex does not compile at offset " + std::to_string(err_offset) +
                             ": " + reinterpret_cast<const char*>(msg));
  }
  // JIT makes matching several times faster; the interpreter gives the same
  // results where JIT support is missing.
  jit_ = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

PreTokenizer PreTokenizer::for_name(std::string_view pre) {
  // gpt-4o's regex is the same o200k pattern.
  if (pre == "llama4" || pre == "gpt-4o") return PreTokenizer(kLlama4Pattern);
  if (pre == "llama-bpe" || pre == "llama3") return PreTokenizer(kLlama3Pattern);
  if (pre != "gpt2" && pre != "default") {
    spdlog::warn("unknown pre-tokenizer '{}'; using gpt2's", pre);
  }
  return PreTokenizer(kGpt2Pattern);
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> out;
  split(text, out);
  return out;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (!md) throw std::bad_alloc();
  try {
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t run = utf8_valid_run(text, pos);
      if (run > 0) {
        split_valid(text.substr(pos, run), out, md);
        pos += run;
      } else {
        out.push_back(text.substr(pos, 1));  // an invalid byte stands alone
        ++pos;
      }
    }
  } catch (...) {
    pcre2_match_data_free(md);
    throw;
  }
  pcre2_match_data_free(md);
}

// Matches repeatedly, each search starting where the previous match ended.
// Text the regex skips (none for these patterns, which match any character)
// is kept as a piece of its own so nothing is ever lost.
void PreTokenizer::split_valid(std::string_view run, std::vector<std::string_view>& out, void* match_data) const {
  auto* md = static_cast<pcre2_match_data*>(match_data);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(run.data());
  size_t pos = 0;
  while (pos < run.size()) {
    int rc = jit_ ? pcre2_jit_match(impl_->code, subject, run.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                  : PCRE2_ERROR_JIT_BADOPTION;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_JIT_BADOPTION) {
      // Out of JIT stack (or no JIT): the interpreter keeps its frames on the heap.
      rc = pcre2_match(impl_->code, subject, run.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
      out.push_back(run.substr(pos));
      return;
    }
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw std::runtime_error(std::string("pre-tokenizer regex failed: ") + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0], end = ov[1];
    if (start > pos) out.push_back(run.substr(pos, start - pos));
    if (end > start) {
      out.push_back(run.substr(start, end - start));
      pos = end;
    } else {
      // An empty match: step over one character so the loop advances.
      const size_t n = utf8_char_length(run, start);
      out.push_back(run.substr(start, n ? n : 1));
      pos = start + (n ? n : 1);
    }
  }
}

}  // namespace scout::tokenizer
