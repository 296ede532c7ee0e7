#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include "gguf/reader.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace scout::tokenizer {

bool file_adds_bos(const gguf::GgufFile& file) {
  if (const auto add = file.get_bool("tokenizer.ggml.add_bos_token")) return *add;
  if (file.get_string("tokenizer.ggml.model").value_or("") == "llama") return true;  // SentencePiece
  return bpe_default_add_bos(file.get_string("tokenizer.ggml.pre").value_or(""));
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  const std::string model = file.get_string("tokenizer.ggml.model").value_or("");
  if (model == "gpt2") return std::make_unique<BpeTokenizer>(BpeTokenizer::from_gguf(file));
  if (model == "llama") return SpmTokenizer::from_gguf(file);
  if (model.empty()) throw std::runtime_error(file.path() + ": the file has no vocabulary (tokenizer.ggml.model is missing)");
  throw std::runtime_error(fmt::format("{}: unsupported tokenizer model '{}' (scout reads gpt2 and llama)", file.path(), model));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_specials) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id, render_specials);
  return out;
}

std::string TextStream::push(int32_t id) {
  pending_ += tok_.token_bytes(id, render_specials_);
  const size_t hold = utf8_incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string TextStream::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace scout::tokenizer
