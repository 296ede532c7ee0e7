// Byte-level BPE tokenization for GGUF vocabularies of type "gpt2" (Llama 3
// and 4): special tokens split out first, then the pre-tokenizer regex, then
// BPE merges by rank inside each piece. Decoding maps ids back to bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace scout::gguf {
class GgufFile;
}

namespace scout::tokenizer {

// BPE inside one piece: the piece's bytes start as byte tokens, and the
// adjacent pair with the lowest merge rank (leftmost on ties) is merged until
// no pair has a merge. Two implementations of the same rule: a scan for short
// pieces and a heap for long ones (linear scans would be quadratic there).
void bpe_merge_scan(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out);
void bpe_merge_heap(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out);

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab vocab);
  // Reads the vocabulary of a GGUF file (tokenizer.ggml.*); throws
  // std::runtime_error for a bad or non-BPE vocabulary.
  static BpeTokenizer from_gguf(const gguf::GgufFile& file);

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  const Vocab& vocab() const { return vocab_; }
  const PreTokenizer& pretokenizer() const { return pre_; }

  // Tokenizes arbitrary bytes (invalid UTF-8 becomes byte tokens). With
  // parse_special, the text of control and user-defined tokens (e.g.
  // "<|eot|>") becomes those tokens, longest match first; without it that
  // text is tokenized like any other. Thread-safe.
  std::vector<TokenId> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  // encode() with the vocabulary's add_bos_token and specials parsed.
  std::vector<TokenId> encode(std::string_view text) const { return encode(text, vocab_.add_bos(), true); }

  // The bytes of one token; specials give their text, or nothing when
  // render_specials is false. Throws std::out_of_range for an unknown id.
  std::string token_bytes(TokenId id, bool render_specials = true) const override;

  size_t n_vocab() const override { return vocab_.size(); }
  int32_t bos() const override { return vocab_.bos(); }
  bool add_bos() const override { return vocab_.add_bos(); }
  bool is_eog(int32_t id) const override { return vocab_.is_end_of_generation(id); }
  std::string token_text(int32_t id) const override { return vocab_.token_text(id); }

 private:
  struct SpecialMatcher;
  void encode_text(std::string_view text, std::vector<TokenId>& out) const;
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;

  Vocab vocab_;
  PreTokenizer pre_;
  std::unique_ptr<SpecialMatcher> specials_;
  // Piece -> ids for pieces that needed merging; bounded, cleared when full.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace scout::tokenizer
