#include "tokenizer/tiktoken_import.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "gguf/value.h"
#include "gguf/writer.h"
#include "tokenizer/gpt2_bytes.h"

namespace scout::tokenizer {

namespace {

// ---- The Llama 4 special tokens ---------------------------------------------
// Meta's list is a few named tokens with numbered reserved tokens filling the
// gaps; reproduced here as runs of names and numbered ranges.
struct SpecialRun {
  const char* name;  // a literal token name, or a stem for a numbered range
  int first = -1;    // -1: `name` is the token itself
  int last = -1;     // inclusive
};

const SpecialRun kSpecialRuns[] = {
    {"begin_of_text"}, {"end_of_text"}, {"fim_prefix"}, {"fim_middle"}, {"fim_suffix"},
    {"header_start"}, {"header_end"}, {"eom"}, {"eot"}, {"step"},
    {"text_post_train_reserved_special_token_", 0, 5},
    {"python_start"}, {"python_end"}, {"finetune_right_pad"},
    {"text_post_train_reserved_special_token_", 8, 68},
    {"image_start"}, {"image_end"},
    {"vision_reserved_special_token_", 0, 1},
    {"tile_x_separator"}, {"tile_y_separator"},
    {"vision_reserved_special_token_", 2, 5},
    {"image"},
    {"vision_reserved_special_token_", 6, 6},
    {"patch"},
    {"vision_reserved_special_token_", 7, 1047},
    {"reasoning_reserved_special_token_", 0, 7},
    {"reasoning_thinking_start"}, {"reasoning_thinking_end"},
    {"reserved_special_token_", 0, 903},
};

std::vector<std::string> build_specials() {
  std::vector<std::string> out;
  out.reserve(kLlama4SpecialCount);
  for (const SpecialRun& run : kSpecialRuns) {
    if (run.first < 0) {
      out.push_back(fmt::format("<|{}|>", run.name));
      continue;
    }
    for (int i = run.first; i <= run.last; ++i) out.push_back(fmt::format("<|{}{}|>", run.name, i));
  }
  return out;
}

// Positions of the named specials in the list (ids are N + position).
constexpr uint32_t kBeginOfText = 0;
constexpr uint32_t kEom = 7;
constexpr uint32_t kEot = 8;

void append_specials(GgufVocab& v) {
  v.n_bpe = static_cast<uint32_t>(v.tokens.size());
  for (const std::string& s : llama4_special_tokens()) {
    v.tokens.push_back(s);
    v.token_types.push_back(kTokenTypeControl);
  }
  v.bos_id = v.n_bpe + kBeginOfText;
  v.eot_id = v.n_bpe + kEot;
  v.eom_id = v.n_bpe + kEom;
  v.eos_id = v.eot_id;  // the instruct models end a turn with <|eot|>
}

// ---- tiktoken parsing -------------------------------------------------------

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding; nullopt on any malformation.
std::optional<std::string> base64_decode(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (s.back() == '=') pad = (s[s.size() - 2] == '=') ? 2 : 1;
  std::string out;
  out.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    uint32_t acc = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = s[i + j];
      int v;
      if (c == '=') {
        if (!last || j < 4 - pad) return std::nullopt;  // '=' only as final padding
        v = 0;
      } else {
        v = base64_value(c);
        if (v < 0) return std::nullopt;
      }
      acc = (acc << 6) | static_cast<uint32_t>(v);
    }
    const size_t n = last ? 3 - pad : 3;
    for (size_t j = 0; j < n; ++j) out.push_back(static_cast<char>((acc >> (16 - 8 * j)) & 0xFF));
  }
  return out;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using RankMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct RankedTokens {
  std::vector<std::string> bytes;  // by rank
  std::vector<size_t> lines;       // source line of each rank
  RankMap rank_of;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open tiktoken file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("{}: read error", path));
  return std::move(ss).str();
}

RankedTokens parse_tiktoken(const std::string& path, size_t max_ranks) {
  const std::string text = read_all(path);
  RankedTokens rt;
  size_t pos = 0, line_no = 0;
  while (pos < text.size() && (max_ranks == 0 || rt.bytes.size() < max_ranks)) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto fail = [&](const std::string& what) {
      throw std::runtime_error(fmt::format("{}:{}: {}", path, line_no, what));
    };
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;  // as tiktoken's own loader, blank lines are skipped

    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) fail("expected 'BASE64 RANK'");
    const std::string_view b64 = line.substr(0, sp);
    const std::string_view rank_text = line.substr(sp + 1);
    auto token = base64_decode(b64);
    if (!token) fail(fmt::format("bad base64 '{}'", b64));
    if (token->empty()) fail("empty token");
    int64_t rank = -1;
    auto [p, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || p != rank_text.data() + rank_text.size() || rank < 0)
      fail(fmt::format("bad rank '{}'", rank_text));
    if (static_cast<size_t>(rank) != rt.bytes.size())
      fail(fmt::format("rank {} out of sequence (expected {}: ranks must be 0..N-1 in order)", rank, rt.bytes.size()));
    if (rank > std::numeric_limits<int32_t>::max()) fail("too many ranks");
    auto [it, inserted] = rt.rank_of.try_emplace(*token, static_cast<int32_t>(rank));
    if (!inserted) fail(fmt::format("duplicate token (same bytes as rank {})", it->second));
    rt.bytes.push_back(std::move(*token));
    rt.lines.push_back(line_no);
  }
  if (rt.bytes.empty()) throw std::runtime_error(fmt::format("{}: no tokens", path));
  return rt;
}

// For every multi-byte token of rank r, byte-level BPE over its bytes using
// only the tokens ranked below r must stop at exactly two parts: those two
// parts are the merge that creates it. Merges come out in rank order.
std::vector<std::string> derive_merges(const RankedTokens& rt, const std::vector<std::string>& encoded,
                                       const std::string& path) {
  std::vector<std::string> merges;
  std::vector<uint32_t> cut;  // part boundaries: part i is [cut[i], cut[i+1])
  for (size_t r = 0; r < rt.bytes.size(); ++r) {
    const std::string& tok = rt.bytes[r];
    if (tok.size() < 2) continue;
    const std::string_view tv(tok);
    cut.resize(tok.size() + 1);
    for (uint32_t i = 0; i <= tok.size(); ++i) cut[i] = i;
    while (cut.size() > 3) {
      int32_t best = std::numeric_limits<int32_t>::max();
      size_t best_i = 0;
      for (size_t i = 0; i + 2 < cut.size(); ++i) {
        auto it = rt.rank_of.find(tv.substr(cut[i], cut[i + 2] - cut[i]));
        if (it != rt.rank_of.end() && it->second < best) {
          best = it->second;
          best_i = i;
        }
      }
      if (best >= static_cast<int32_t>(r)) break;
      cut.erase(cut.begin() + static_cast<std::ptrdiff_t>(best_i) + 1);
    }
    if (cut.size() != 3)
      throw std::runtime_error(fmt::format("{}:{}: token of rank {} cannot be built from two lower-ranked tokens",
                                           path, rt.lines[r], r));
    auto left = rt.rank_of.find(tv.substr(0, cut[1]));
    auto right = rt.rank_of.find(tv.substr(cut[1]));
    if (left == rt.rank_of.end() || right == rt.rank_of.end())
      throw std::runtime_error(fmt::format("{}:{}: token of rank {} needs a byte that is not in the vocabulary",
                                           path, rt.lines[r], r));
    merges.push_back(encoded[static_cast<size_t>(left->second)] + " " + encoded[static_cast<size_t>(right->second)]);
  }
  return merges;
}

}  // namespace

const std::vector<std::string>& llama4_special_tokens() {
  static const std::vector<std::string> specials = [] {
    auto s = build_specials();
    if (s.size() != kLlama4SpecialCount) throw std::logic_error("llama4 special token table has the wrong size");
    return s;
  }();
  return specials;
}

GgufVocab import_tiktoken(const std::string& path, size_t max_ranks) {
  const RankedTokens rt = parse_tiktoken(path, max_ranks);
  GgufVocab v;
  v.tokens.reserve(rt.bytes.size() + kLlama4SpecialCount);
  for (const std::string& b : rt.bytes) v.tokens.push_back(gpt2_encode_bytes(b));
  v.token_types.assign(rt.bytes.size(), kTokenTypeNormal);
  v.merges = derive_merges(rt, v.tokens, path);
  append_specials(v);
  return v;
}

GgufVocab builtin_byte_vocab() {
  GgufVocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(gpt2_encode_bytes(std::string(1, static_cast<char>(b))));
  v.token_types.assign(256, kTokenTypeNormal);
  append_specials(v);
  return v;
}

void write_vocab(gguf::GgufWriter& w, const GgufVocab& v) {
  using gguf::Value;
  using gguf::ValueType;
  w.set("tokenizer.ggml.model", Value::string(v.model));
  w.set("tokenizer.ggml.pre", Value::string(v.pre));
  w.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  w.set("tokenizer.ggml.token_type", Value::array(ValueType::INT32, v.token_types));
  // Readers of gpt2-style vocabularies require the key even when it is empty.
  w.set("tokenizer.ggml.merges", Value::string_array(v.merges));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(v.bos_id));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(v.eos_id));
  w.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
}

}  // namespace scout::tokenizer
