#include "tokenizer/bpe_tokenizer.h"

#include <queue>
#include <stdexcept>

#include "gguf/reader.h"
#include "tokenizer/utf8.h"

namespace scout::tokenizer {

namespace {

// Pieces this short are merged by scanning; longer ones with the heap. Words
// are almost always short, and the scan is faster there.
constexpr size_t kScanMaxBytes = 48;
// The cache holds pieces up to this size, and at most this many of them.
constexpr size_t kCacheMaxPieceBytes = 128;
constexpr size_t kCacheMaxEntries = 1 << 16;

}  // namespace

// ---- BPE merging ---------------------------------------------------------------

void bpe_merge_scan(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out) {
  std::vector<TokenId> syms;
  syms.reserve(piece.size());
  for (char c : piece) syms.push_back(vocab.byte_token(static_cast<uint8_t>(c)));
  while (syms.size() > 1) {
    const Vocab::Merge* best = nullptr;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const Vocab::Merge* m = vocab.find_merge(syms[i], syms[i + 1]);
      if (m && (!best || m->rank < best->rank)) {  // strict: leftmost wins ties
        best = m;
        best_at = i;
      }
    }
    if (!best) break;
    syms[best_at] = best->result;
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

void bpe_merge_heap(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out) {
  // Symbols form a doubly linked list over the byte positions; a merged
  // symbol lives on at its left position.
  const auto n = static_cast<int32_t>(piece.size());
  if (n == 0) return;
  std::vector<TokenId> id(static_cast<size_t>(n));
  std::vector<int32_t> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    id[static_cast<size_t>(i)] = vocab.byte_token(static_cast<uint8_t>(piece[static_cast<size_t>(i)]));
    prev[static_cast<size_t>(i)] = i - 1;
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
  }

  // A queued pair is (rank << 32 | left position): smallest first, leftmost
  // on ties. It is stale when the pair now at `left` has another rank; a rank
  // names exactly one merge, so an equal rank means the same pair.
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> queue;
  auto merge_at = [&](int32_t l) -> const Vocab::Merge* {
    if (l < 0 || id[static_cast<size_t>(l)] == kNoToken) return nullptr;
    const int32_t r = next[static_cast<size_t>(l)];
    if (r < 0) return nullptr;
    return vocab.find_merge(id[static_cast<size_t>(l)], id[static_cast<size_t>(r)]);
  };
  auto consider = [&](int32_t l) {
    if (const Vocab::Merge* m = merge_at(l)) queue.push(static_cast<uint64_t>(m->rank) << 32 | static_cast<uint32_t>(l));
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const uint64_t top = queue.top();
    queue.pop();
    const auto left = static_cast<int32_t>(top & 0xFFFFFFFFu);
    const Vocab::Merge* m = merge_at(left);
    if (!m || m->rank != static_cast<uint32_t>(top >> 32)) continue;
    const auto l = static_cast<size_t>(left);
    const auto r = static_cast<size_t>(next[l]);
    id[l] = m->result;
    id[r] = kNoToken;  // merged away
    next[l] = next[r];
    if (next[l] >= 0) prev[static_cast<size_t>(next[l])] = left;
    consider(prev[l]);
    consider(left);
  }
  for (int32_t i = 0; i >= 0; i = next[static_cast<size_t>(i)]) out.push_back(id[static_cast<size_t>(i)]);
}

// ---- Special tokens ------------------------------------------------------------

// A byte trie over the special tokens' texts: finds the longest special token
// starting at a position in one walk. Most bytes cannot start any special
// token, which a 256-entry table rules out before touching the trie.
struct BpeTokenizer::SpecialMatcher {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;
    TokenId token = kNoToken;
  };
  std::vector<Node> nodes{1};
  bool can_start[256] = {};

  void add(std::string_view text, TokenId id) {
    if (text.empty()) return;
    can_start[static_cast<uint8_t>(text[0])] = true;
    int32_t at = 0;
    for (char ch : text) {
      const auto b = static_cast<uint8_t>(ch);
      int32_t child = find_child(at, b);
      if (child < 0) {
        child = static_cast<int32_t>(nodes.size());
        nodes[static_cast<size_t>(at)].children.emplace_back(b, child);
        nodes.emplace_back();
      }
      at = child;
    }
    if (nodes[static_cast<size_t>(at)].token == kNoToken) nodes[static_cast<size_t>(at)].token = id;
  }

  int32_t find_child(int32_t node, uint8_t b) const {
    for (const auto& [byte, child] : nodes[static_cast<size_t>(node)].children) {
      if (byte == b) return child;
    }
    return -1;
  }

  // The longest special token at text[pos]: its id and length, or {kNoToken, 0}.
  std::pair<TokenId, size_t> match(std::string_view text, size_t pos) const {
    std::pair<TokenId, size_t> best{kNoToken, 0};
    if (!can_start[static_cast<uint8_t>(text[pos])]) return best;
    int32_t at = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      at = find_child(at, static_cast<uint8_t>(text[i]));
      if (at < 0) break;
      if (TokenId t = nodes[static_cast<size_t>(at)].token; t != kNoToken) best = {t, i + 1 - pos};
    }
    return best;
  }
};

// ---- The tokenizer -------------------------------------------------------------

BpeTokenizer::BpeTokenizer(Vocab vocab)
    : vocab_(std::move(vocab)), pre_(PreTokenizer::for_name(vocab_.pre())),
      specials_(std::make_unique<SpecialMatcher>()) {
  for (TokenId id : vocab_.special_ids()) specials_->add(vocab_.token_text(id), id);
}

BpeTokenizer BpeTokenizer::from_gguf(const gguf::GgufFile& file) { return BpeTokenizer(Vocab::from_gguf(file)); }

// The mutex cannot move; a moved-to tokenizer gets a fresh one.
BpeTokenizer::BpeTokenizer(BpeTokenizer&& o) noexcept
    : vocab_(std::move(o.vocab_)), pre_(std::move(o.pre_)), specials_(std::move(o.specials_)),
      cache_(std::move(o.cache_)) {}

BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&& o) noexcept {
  vocab_ = std::move(o.vocab_);
  pre_ = std::move(o.pre_);
  specials_ = std::move(o.specials_);
  cache_ = std::move(o.cache_);
  return *this;
}

BpeTokenizer::~BpeTokenizer() = default;

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (vocab_.bos() == kNoToken) throw std::runtime_error("encode: the vocabulary has no bos token");
    out.push_back(vocab_.bos());
  }
  if (!parse_special) {
    encode_text(text, out);
    return out;
  }
  // Special tokens first: the text between them is tokenized as plain text.
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const auto [id, len] = specials_->match(text, pos);
    if (id == kNoToken) {
      ++pos;
      continue;
    }
    encode_text(text.substr(start, pos - start), out);
    out.push_back(id);
    pos += len;
    start = pos;
  }
  encode_text(text.substr(start), out);
  return out;
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  std::vector<std::string_view> pieces;
  pieces.reserve(text.size() / 4 + 1);
  pre_.split(text, pieces);
  for (std::string_view piece : pieces) encode_piece(piece, out);
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  // A piece that is a token as a whole is that token (most words are).
  if (TokenId id = vocab_.find_bytes(piece); id != kNoToken) {
    out.push_back(id);
    return;
  }
  const auto merge = [&] {
    if (piece.size() <= kScanMaxBytes) bpe_merge_scan(vocab_, piece, out);
    else bpe_merge_heap(vocab_, piece, out);
  };
  if (piece.size() > kCacheMaxPieceBytes) {
    merge();
    return;
  }
  const std::string key(piece);
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge();
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kCacheMaxEntries) cache_.clear();
  cache_.emplace(key, std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
}

std::string BpeTokenizer::token_bytes(TokenId id, bool render_specials) const {
  if (!vocab_.valid_id(id)) {
    throw std::out_of_range("token id " + std::to_string(id) + " is out of range (vocab size " +
                            std::to_string(vocab_.size()) + ")");
  }
  if (!render_specials && vocab_.is_special(id)) return {};
  return vocab_.token_bytes(id);
}

}  // namespace scout::tokenizer
