#include "tokenizer/vocab.h"

#include <fmt/format.h>

#include <functional>
#include <stdexcept>

#include "gguf/reader.h"
#include "tokenizer/gpt2_bytes.h"

namespace scout::tokenizer {

namespace {

[[noreturn]] void bad_vocab(const std::string& what) { throw std::runtime_error("bad tokenizer vocabulary: " + what); }

const std::vector<std::string>& string_array(const gguf::GgufFile& f, std::string_view key, bool required) {
  static const std::vector<std::string> kEmpty;
  const gguf::Value* v = f.find(key);
  if (!v) {
    if (required) bad_vocab(fmt::format("{} is missing", key));
    return kEmpty;
  }
  if (!v->is_array() || v->array_type() != gguf::ValueType::STRING) {
    bad_vocab(fmt::format("{} is not an array of strings", key));
  }
  return v->strings();
}

TokenId optional_id(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (!v) return kNoToken;
  if (!v->is_integer()) bad_vocab(fmt::format("{} is not an integer", key));
  const int64_t id = v->as_int();
  if (id < 0 || id > INT32_MAX) bad_vocab(fmt::format("{} = {} is out of range", key, id));
  return static_cast<TokenId>(id);
}

size_t table_size(size_t n) {  // a power of two, at most half full
  size_t size = 16;
  while (size < 2 * n) size *= 2;
  return size;
}

uint64_t hash_bytes(std::string_view s) { return std::hash<std::string_view>{}(s); }

}  // namespace

// ---- Hash tables -----------------------------------------------------------------

void TokenIndex::reserve(size_t n) {
  if (!slots_.empty()) throw std::logic_error("TokenIndex::reserve after insert");
  slots_.assign(table_size(n), 0);
}

void TokenIndex::insert(const std::vector<std::string>& keys, TokenId id) {
  if (2 * (count_ + 1) > slots_.size()) throw std::logic_error("TokenIndex is full");
  const std::string_view s = keys[static_cast<size_t>(id)];
  const uint64_t h = hash_bytes(s);
  const uint64_t tag = h & 0xFFFFFFFF00000000ull;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) {
      slots_[i] = tag | (static_cast<uint64_t>(id) + 1);
      ++count_;
      return;
    }
    if ((slot & 0xFFFFFFFF00000000ull) == tag && keys[(slot & 0xFFFFFFFFu) - 1] == s) return;
  }
}

TokenId TokenIndex::find(const std::vector<std::string>& keys, std::string_view s) const {
  if (slots_.empty()) return kNoToken;
  const uint64_t h = hash_bytes(s);
  const uint64_t tag = h & 0xFFFFFFFF00000000ull;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return kNoToken;
    if ((slot & 0xFFFFFFFF00000000ull) == tag) {
      const size_t id = (slot & 0xFFFFFFFFu) - 1;
      if (keys[id] == s) return static_cast<TokenId>(id);
    }
  }
}

void PairTable::reserve(size_t n) {
  if (!slots_.empty()) throw std::logic_error("PairTable::reserve after insert");
  slots_.assign(table_size(n), Entry{});
}

void PairTable::insert(TokenId l, TokenId r, uint32_t rank, TokenId result) {
  if (2 * (count_ + 1) > slots_.size()) throw std::logic_error("PairTable is full");
  const uint64_t key = pack(l, r);
  for (size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
    Entry& e = slots_[i];
    if (e.key == key) return;
    if (e.key == kEmpty) {
      e = Entry{key, rank, result};
      ++count_;
      return;
    }
  }
}

// ---- Loading ---------------------------------------------------------------------

Vocab Vocab::from_gguf(const gguf::GgufFile& file) {
  VocabSource src;
  src.model = file.get_string("tokenizer.ggml.model").value_or("");
  if (src.model != "gpt2") {
    bad_vocab(fmt::format("tokenizer.ggml.model is '{}', not the byte-level BPE model 'gpt2'", src.model));
  }
  src.pre = file.get_string("tokenizer.ggml.pre").value_or("default");
  src.tokens = string_array(file, "tokenizer.ggml.tokens", true);
  src.merges = string_array(file, "tokenizer.ggml.merges", false);
  if (const gguf::Value* types = file.find("tokenizer.ggml.token_type")) {
    if (!types->is_array() || !gguf::is_integer_type(types->array_type())) {
      bad_vocab("tokenizer.ggml.token_type is not an array of integers");
    }
    src.token_types.resize(types->array_size());
    for (size_t i = 0; i < src.token_types.size(); ++i) {
      src.token_types[i] = static_cast<int32_t>(types->int_at(i));
    }
  }
  src.bos_id = optional_id(file, "tokenizer.ggml.bos_token_id");
  src.eos_id = optional_id(file, "tokenizer.ggml.eos_token_id");
  if (auto add = file.get_bool("tokenizer.ggml.add_bos_token")) src.add_bos = *add ? 1 : 0;
  Vocab v = from_source(std::move(src));
  // Explicit eot/eom keys win over the names.
  if (TokenId id = optional_id(file, "tokenizer.ggml.eot_token_id"); id != kNoToken) {
    if (!v.valid_id(id)) bad_vocab(fmt::format("eot_token_id {} is out of range", id));
    v.eot_ = id;
  }
  if (TokenId id = optional_id(file, "tokenizer.ggml.eom_token_id"); id != kNoToken) {
    if (!v.valid_id(id)) bad_vocab(fmt::format("eom_token_id {} is out of range", id));
    v.eom_ = id;
  }
  return v;
}

Vocab Vocab::from_source(VocabSource src) {
  if (src.tokens.empty()) bad_vocab("there are no tokens");
  if (src.tokens.size() > static_cast<size_t>(INT32_MAX)) bad_vocab("too many tokens");
  if (!src.token_types.empty() && src.token_types.size() != src.tokens.size()) {
    bad_vocab(fmt::format("{} token types for {} tokens", src.token_types.size(), src.tokens.size()));
  }
  Vocab v;
  v.pre_ = src.pre;
  v.tokens_ = std::move(src.tokens);
  const size_t n = v.tokens_.size();
  v.types_.resize(n, TokenType::Normal);
  v.bytes_.resize(n);
  v.by_text_.reserve(n);
  v.by_bytes_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<TokenId>(i);
    if (!src.token_types.empty()) {
      const int32_t t = src.token_types[i];
      if (t < 0 || t > static_cast<int32_t>(TokenType::Byte)) {
        bad_vocab(fmt::format("token {} has unknown type {}", i, t));
      }
      v.types_[i] = static_cast<TokenType>(t);
    }
    const std::string& text = v.tokens_[i];
    v.by_text_.insert(v.tokens_, id);  // the first of duplicates wins
    if (v.is_special(id)) {
      // Specials are stored verbatim, not in the byte mapping.
      v.bytes_[i] = text;
      v.special_ids_.push_back(id);
      continue;
    }
    auto bytes = gpt2_decode_string(text);
    // A string outside the GPT-2 table cannot come from bytes; keep it verbatim.
    v.bytes_[i] = bytes ? std::move(*bytes) : text;
    v.by_bytes_.insert(v.bytes_, id);
  }

  // Byte-level BPE starts from single bytes, so all 256 must exist.
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    const TokenId id = v.find_bytes(std::string_view(&byte, 1));
    if (id == kNoToken) bad_vocab(fmt::format("no token for byte 0x{:02X}", b));
    v.byte_tokens_[b] = id;
  }

  v.merges_.reserve(src.merges.size());
  for (size_t rank = 0; rank < src.merges.size(); ++rank) {
    const std::string& m = src.merges[rank];
    // Token strings hold no raw spaces (GPT-2 maps the space to U+0120), so
    // the first space after the first character separates the two halves.
    const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) bad_vocab(fmt::format("merge {} '{}' is not 'left right'", rank, m));
    const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
    const TokenId l = v.find_text(left), r = v.find_text(right);
    if (l == kNoToken) bad_vocab(fmt::format("merge {} '{}' names unknown token '{}'", rank, m, left));
    if (r == kNoToken) bad_vocab(fmt::format("merge {} '{}' names unknown token '{}'", rank, m, right));
    std::string joined;
    joined.reserve(left.size() + right.size());
    joined.append(left).append(right);
    const TokenId result = v.find_text(joined);
    if (result == kNoToken) bad_vocab(fmt::format("merge {} '{}' makes '{}', which is not a token", rank, m, joined));
    v.merges_.insert(l, r, static_cast<uint32_t>(rank), result);  // lowest rank wins
  }

  auto check_id = [&](TokenId id, const char* what) {
    if (id != kNoToken && !v.valid_id(id)) bad_vocab(fmt::format("{} id {} is out of range (vocab size {})", what, id, n));
    return id;
  };
  v.end_of_text_ = v.find_text("<|end_of_text|>");
  v.eot_ = v.find_text("<|eot|>");
  v.eom_ = v.find_text("<|eom|>");
  v.bos_ = src.bos_id != kNoToken ? check_id(src.bos_id, "bos") : v.find_text("<|begin_of_text|>");
  v.eos_ = src.eos_id != kNoToken ? check_id(src.eos_id, "eos") : v.end_of_text_;
  v.add_bos_ = src.add_bos >= 0 ? src.add_bos == 1 : bpe_default_add_bos(src.pre);
  if (v.add_bos_ && v.bos_ == kNoToken) bad_vocab("add_bos_token is set but there is no bos token");
  return v;
}

bool Vocab::is_special(TokenId id) const {
  const TokenType t = types_[static_cast<size_t>(id)];
  return t == TokenType::Control || t == TokenType::UserDefined;
}

TokenId Vocab::find_bytes(std::string_view bytes) const {
  return by_bytes_.find(bytes_, bytes);
}

TokenId Vocab::find_text(std::string_view text) const {
  return by_text_.find(tokens_, text);
}

bool Vocab::is_end_of_generation(TokenId id) const {
  return id != kNoToken && (id == eos_ || id == eot_ || id == eom_ || id == end_of_text_);
}

bool bpe_default_add_bos(std::string_view pre) { return pre == "llama4" || pre == "llama-bpe" || pre == "llama3"; }

}  // namespace scout::tokenizer
