// A byte-level BPE vocabulary as GGUF stores it (tokenizer.ggml.model =
// "gpt2"): token strings in the GPT-2 byte-to-unicode form, token types,
// merges in rank order, and the special ids. Everything is validated on load,
// so the encoder can index without checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scout::gguf {
class GgufFile;
}

namespace scout::tokenizer {

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

// GGUF / llama.cpp token types.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// What a vocabulary is built from: GGUF arrays, or any other source (tests,
// the tiktoken importer).
// Llama 3 and 4 prepend <|begin_of_text|> unless the file says otherwise.
bool bpe_default_add_bos(std::string_view pre);

struct VocabSource {
  std::string model = "gpt2";   // tokenizer.ggml.model
  std::string pre = "gpt2";     // tokenizer.ggml.pre
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;   // empty: all Normal
  std::vector<std::string> merges;    // "left right" in rank order
  TokenId bos_id = kNoToken;          // kNoToken: found by name when possible
  TokenId eos_id = kNoToken;
  int add_bos = -1;                   // -1: the default for `pre`
};

// Open-addressing hash tables for the two lookups the encoder does per piece
// and per pair. Flat arrays rather than node-based maps: a vocabulary has
// 200k entries, and building or probing node maps of that size is dominated
// by allocation and cache misses.
class TokenIndex {  // string -> id; the strings stay in the caller's vector
 public:
  void reserve(size_t n);
  // Adds id under keys[id] unless an equal string is present (first wins).
  void insert(const std::vector<std::string>& keys, TokenId id);
  TokenId find(const std::vector<std::string>& keys, std::string_view s) const;

 private:
  std::vector<uint64_t> slots_;  // hash high bits << 32 | (id + 1); 0 = empty
  size_t count_ = 0;
};

class PairTable {  // (left, right) -> merge rank and result
 public:
  struct Entry {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    TokenId result = kNoToken;
  };
  void reserve(size_t n);
  // Adds the pair unless present (the lowest rank is inserted first and wins).
  void insert(TokenId l, TokenId r, uint32_t rank, TokenId result);
  const Entry* find(TokenId l, TokenId r) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(l, r);
    for (size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are < 2^31: never a real key
  static uint64_t pack(TokenId l, TokenId r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  size_t slot_of(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & (slots_.size() - 1);
  }
  std::vector<Entry> slots_;
  size_t count_ = 0;
};

class Vocab {
 public:
  // Throws std::runtime_error naming the problem for a bad vocabulary
  // (missing tokens, merges naming unknown tokens, ids out of range, ...).
  static Vocab from_gguf(const gguf::GgufFile& file);
  static Vocab from_source(VocabSource src);  // by value: the token list moves in

  size_t size() const { return tokens_.size(); }
  const std::string& pre() const { return pre_; }
  const std::string& token_text(TokenId id) const { return tokens_.at(static_cast<size_t>(id)); }
  // The raw bytes a token stands for (GPT-2 mapping undone; specials verbatim).
  const std::string& token_bytes(TokenId id) const { return bytes_.at(static_cast<size_t>(id)); }
  TokenType token_type(TokenId id) const { return types_.at(static_cast<size_t>(id)); }
  // Control and user-defined tokens: matched as text only with parse_special.
  bool is_special(TokenId id) const;
  bool valid_id(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < tokens_.size(); }

  // A non-special token whose bytes are exactly `bytes`, or kNoToken.
  TokenId find_bytes(std::string_view bytes) const;
  // Any token whose GGUF string is `text`, or kNoToken.
  TokenId find_text(std::string_view text) const;
  // The single-byte token for byte b (always present).
  TokenId byte_token(uint8_t b) const { return byte_tokens_[b]; }

  // Merge of two adjacent tokens: its rank and the merged token.
  using Merge = PairTable::Entry;  // .rank, .result
  const Merge* find_merge(TokenId left, TokenId right) const { return merges_.find(left, right); }
  size_t merge_count() const { return merges_.size(); }

  // The control and user-defined tokens, in id order.
  const std::vector<TokenId>& special_ids() const { return special_ids_; }

  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }  // <|eot|>, kNoToken if absent
  TokenId eom() const { return eom_; }  // <|eom|>
  TokenId end_of_text() const { return end_of_text_; }  // <|end_of_text|>
  bool add_bos() const { return add_bos_; }
  // Whether generation stops at `id` (eos, eot, eom, end_of_text).
  bool is_end_of_generation(TokenId id) const;

 private:
  std::string pre_;
  std::vector<std::string> tokens_;
  std::vector<std::string> bytes_;
  std::vector<TokenType> types_;
  TokenIndex by_bytes_;  // non-special tokens, keyed by bytes_
  TokenIndex by_text_;   // all tokens, keyed by tokens_
  TokenId byte_tokens_[256] = {};
  PairTable merges_;
  std::vector<TokenId> special_ids_;
  TokenId bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken, end_of_text_ = kNoToken;
  bool add_bos_ = false;
};

}  // namespace scout::tokenizer
