#include "tokenizer/spm_tokenizer.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "gguf/reader.h"

namespace scout::tokenizer {

namespace {

// Protobuf wire format, just what ModelProto needs.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, uint32_t field, uint32_t wire_type) { put_varint(out, (uint64_t{field} << 3) | wire_type); }
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}
void put_uint(std::string& out, uint32_t field, uint64_t v) {
  put_key(out, field, 0);
  put_varint(out, v);
}
void put_float(std::string& out, uint32_t field, float f) {
  put_key(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  out.append(b, 4);
}

constexpr int32_t kControl = 3, kUserDefined = 4, kByte = 6;

// "<0x0A>" -> 0x0A; -1 when the piece is not of that form.
int parse_byte_piece(const std::string& p) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = p[i];
    v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -256);
  }
  return v < 0 ? -1 : v;
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_processor(const std::string& proto, const std::string& what) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->LoadFromSerializedProto(proto);
  if (!status.ok()) throw std::runtime_error(fmt::format("{}: sentencepiece rejected the vocabulary: {}", what, status.ToString()));
  return sp;
}

}  // namespace

std::string serialize_spm_model(const SpmVocab& vocab, bool add_dummy_prefix) {
  std::string out;
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    std::string piece;
    put_bytes(piece, 1, vocab.pieces[i]);
    put_float(piece, 2, i < vocab.scores.size() ? vocab.scores[i] : 0.0f);
    const int32_t type = i < vocab.types.size() && vocab.types[i] >= 1 && vocab.types[i] <= 6 ? vocab.types[i] : 1;
    put_uint(piece, 3, static_cast<uint64_t>(type));
    put_bytes(out, 1, piece);
  }
  std::string trainer;
  put_uint(trainer, 3, 2);   // model_type = BPE: the scores are merge priorities
  put_uint(trainer, 35, 1);  // byte_fallback
  put_bytes(out, 2, trainer);
  std::string normalizer;
  put_bytes(normalizer, 1, "identity");
  put_uint(normalizer, 3, add_dummy_prefix ? 1 : 0);
  put_uint(normalizer, 4, 0);  // keep whitespace as written
  put_bytes(out, 3, normalizer);
  return out;
}

SpmTokenizer::SpmTokenizer(SpmVocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.pieces.empty()) throw std::runtime_error("empty SentencePiece vocabulary");
  first_ = load_processor(serialize_spm_model(vocab_, true), "vocabulary");
  rest_ = load_processor(serialize_spm_model(vocab_, false), "vocabulary");
  index_specials();
}

SpmTokenizer::~SpmTokenizer() = default;

void SpmTokenizer::index_specials() {
  if (vocab_.types.size() < vocab_.pieces.size()) vocab_.types.resize(vocab_.pieces.size(), 1);
  for (size_t i = 0; i < vocab_.pieces.size(); ++i)
    if ((vocab_.types[i] == kControl || vocab_.types[i] == kUserDefined) && !vocab_.pieces[i].empty())
      specials_.push_back(static_cast<int32_t>(i));
  std::stable_sort(specials_.begin(), specials_.end(),
                   [&](int32_t a, int32_t b) { return vocab_.pieces[a].size() > vocab_.pieces[b].size(); });
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_gguf(const gguf::GgufFile& file) {
  auto fail = [&](const std::string& what) { return std::runtime_error(file.path() + ": " + what); };
  const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->is_array() || tokens->array_type() != gguf::ValueType::STRING)
    throw fail("no tokenizer.ggml.tokens array of strings");
  SpmVocab v;
  v.pieces = tokens->strings();
  const size_t n = v.pieces.size();
  if (const gguf::Value* scores = file.find("tokenizer.ggml.scores")) {
    if (!scores->is_array() || scores->array_size() != n) throw fail("tokenizer.ggml.scores does not match the token count");
    for (size_t i = 0; i < n; ++i) v.scores.push_back(static_cast<float>(scores->float_at(i)));
  }
  if (const gguf::Value* types = file.find("tokenizer.ggml.token_type")) {
    if (!types->is_array() || types->array_size() != n) throw fail("tokenizer.ggml.token_type does not match the token count");
    for (size_t i = 0; i < n; ++i) v.types.push_back(static_cast<int32_t>(types->int_at(i)));
  }
  auto id_key = [&](const char* key, int32_t fallback) {
    const uint64_t id = file.get_uint(key).value_or(static_cast<uint64_t>(fallback));
    if (id >= n) throw fail(fmt::format("{} = {} is outside the vocabulary of {}", key, id, n));
    return static_cast<int32_t>(id);
  };
  v.bos_id = id_key("tokenizer.ggml.bos_token_id", 1);
  v.eos_id = id_key("tokenizer.ggml.eos_token_id", 2);
  v.add_bos = file_adds_bos(file);
  try {
    return std::make_unique<SpmTokenizer>(std::move(v));
  } catch (const std::runtime_error& e) {
    throw fail(e.what());
  }
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_model_file(const std::string& path) {
  sentencepiece::SentencePieceProcessor sp;
  if (const auto status = sp.Load(path); !status.ok())
    throw std::runtime_error(fmt::format("{}: cannot load SentencePiece model: {}", path, status.ToString()));
  SpmVocab v;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    v.pieces.push_back(sp.IdToPiece(i));
    v.scores.push_back(sp.GetScore(i));
    v.types.push_back(sp.IsControl(i) ? kControl : sp.IsUnknown(i) ? 2 : sp.IsUnused(i) ? 5 : sp.IsByte(i) ? kByte : 1);
  }
  if (sp.bos_id() >= 0) v.bos_id = sp.bos_id();
  if (sp.eos_id() >= 0) v.eos_id = sp.eos_id();
  return std::make_unique<SpmTokenizer>(std::move(v));
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(vocab_.bos_id);
  auto encode_text = [&](std::string_view fragment, bool at_start) {
    if (fragment.empty()) return;
    std::vector<int> ids;
    const auto status = (at_start ? first_ : rest_)->Encode(fragment, &ids);
    if (!status.ok()) throw std::runtime_error("sentencepiece encode failed: " + status.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (!parse_special) {
    encode_text(text, true);
    return out;
  }
  size_t start = 0, i = 0;
  while (i < text.size()) {
    int32_t match = -1;
    for (int32_t id : specials_) {
      const std::string& s = vocab_.pieces[id];
      if (text.compare(i, s.size(), s) == 0) { match = id; break; }
    }
    if (match < 0) { ++i; continue; }
    encode_text(text.substr(start, i - start), start == 0);
    out.push_back(match);
    i += vocab_.pieces[match].size();
    start = i;
  }
  encode_text(text.substr(start), start == 0);
  return out;
}

std::string SpmTokenizer::token_bytes(int32_t id, bool render_specials) const {
  const std::string& piece = vocab_.pieces.at(static_cast<size_t>(id));
  const int32_t type = vocab_.types[static_cast<size_t>(id)];
  if (type == kControl) return render_specials ? piece : std::string();
  if (type == kByte) {
    const int b = parse_byte_piece(piece);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  // U+2581 (LOWER ONE EIGHTH BLOCK, "▁") stands for a space.
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, "\xe2\x96\x81") == 0) { out += ' '; i += 3; }
    else out += piece[i++];
  }
  return out;
}

}  // namespace scout::tokenizer
