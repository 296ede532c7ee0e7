// SentencePiece tokenization for GGUF vocabularies of type "llama" (Llama 1/2,
// Mixtral): the GGUF tokens, scores and types become a SentencePiece model
// (serialized ModelProto, see shared/docs/sentencepiece-from-gguf.md) and the
// sentencepiece library does the work.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace scout::tokenizer {

struct SpmVocab {
  std::vector<std::string> pieces;   // with U+2581 for spaces
  std::vector<float> scores;
  std::vector<int32_t> types;        // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  bool add_bos = true;
};

// The ModelProto bytes for a vocabulary: BPE with byte fallback and the
// identity normalizer, as Llama's models are.
std::string serialize_spm_model(const SpmVocab& vocab, bool add_dummy_prefix);

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(SpmVocab vocab);
  // Reads tokenizer.ggml.tokens/scores/token_type and the special ids.
  static std::unique_ptr<SpmTokenizer> from_gguf(const gguf::GgufFile& file);
  // A tokenizer.model protobuf file.
  static std::unique_ptr<SpmTokenizer> from_model_file(const std::string& path);
  ~SpmTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string token_bytes(int32_t id, bool render_specials = true) const override;
  size_t n_vocab() const override { return vocab_.pieces.size(); }
  int32_t bos() const override { return vocab_.bos_id; }
  bool add_bos() const override { return vocab_.add_bos; }
  bool is_eog(int32_t id) const override { return id == vocab_.eos_id; }
  std::string token_text(int32_t id) const override { return vocab_.pieces.at(static_cast<size_t>(id)); }

 private:
  SpmTokenizer() = default;
  void index_specials();

  SpmVocab vocab_;
  // Text at the start of the input gets SentencePiece's dummy space prefix;
  // text after a special token does not (as llama.cpp tokenizes).
  std::unique_ptr<sentencepiece::SentencePieceProcessor> first_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> rest_;
  std::vector<int32_t> specials_;  // control and user-defined ids, longest text first
};

}  // namespace scout::tokenizer
