#include "eval/kl_base_file.h"

#include <sys/types.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "eval/kl_divergence.h"
#include "tokenizer/tokenizer.h"

namespace scout::eval {

namespace {

constexpr char kMagic[8] = {'S', 'C', 'O', 'U', 'T', 'K', 'L', 'D'};
constexpr uint32_t kVersion = 1;

// The fixed header after the magic, field by field in file order.
struct FixedHeader {
  uint32_t version, n_ctx, n_vocab, n_windows, first;
  int32_t bos;
  uint64_t vocab_hash;
};
static_assert(offsetof(FixedHeader, vocab_hash) == 24 && sizeof(FixedHeader) == 32, "no padding: read and written whole");

constexpr uint64_t kFixedHeaderBytes = sizeof kMagic + sizeof(FixedHeader);

}  // namespace

uint64_t vocab_hash(const tokenizer::Tokenizer& tok) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator no UTF-8 text contains
  };
  mix(std::to_string(tok.n_vocab()));
  for (size_t i = 0; i < tok.n_vocab(); ++i) mix(tok.token_text(static_cast<int32_t>(i)));
  return h;
}

KlBaseWriter::KlBaseWriter(const std::string& path, const KlBaseInfo& info) : path_(path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) throw std::runtime_error(fmt::format("{}: cannot create the KL base file: {}", path, std::strerror(errno)));
  const FixedHeader h{kVersion, info.n_ctx, info.n_vocab, info.n_windows, info.first, info.bos, info.vocab_hash};
  write(kMagic, sizeof kMagic);
  write(&h, sizeof h);
  write(info.tokens.data(), info.tokens.size() * sizeof(int32_t));
}

KlBaseWriter::~KlBaseWriter() {
  if (f_) std::fclose(f_);
}

void KlBaseWriter::write(const void* data, size_t n) {
  if (std::fwrite(data, 1, n, f_) != n)
    throw std::runtime_error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
}

void KlBaseWriter::append(const std::vector<uint8_t>& rows) { write(rows.data(), rows.size()); }

void KlBaseWriter::close() {
  const bool ok = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok) throw std::runtime_error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
}

KlBaseReader::KlBaseReader(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) throw std::runtime_error(fmt::format("{}: cannot open the KL base file: {}", path, std::strerror(errno)));
  char magic[8];
  FixedHeader h{};
  if (std::fread(magic, 1, 8, f_) != 8 || std::memcmp(magic, kMagic, 8) != 0)
    throw std::runtime_error(fmt::format(
        "{}: not a scout KL base file (write one with scout perplexity --kl-divergence-base FILE, without --kl-divergence)",
        path));
  if (std::fread(&h, 1, sizeof h, f_) != sizeof h)
    throw std::runtime_error(fmt::format("{}: truncated KL base file header", path));
  if (h.version != kVersion)
    throw std::runtime_error(fmt::format("{}: KL base file version {} (this scout reads {})", path, h.version, kVersion));
  if (h.n_ctx < 4 || h.first >= h.n_ctx - 1 || h.n_vocab == 0 || h.n_windows == 0)
    throw std::runtime_error(fmt::format("{}: corrupt KL base file header", path));
  info_ = {h.n_ctx, h.n_vocab, h.n_windows, h.first, h.bos, h.vocab_hash, {}};

  const uint64_t n_tokens = uint64_t{h.n_ctx} * h.n_windows;
  rows_offset_ = kFixedHeaderBytes + n_tokens * 4;
  const uint64_t want = rows_offset_ + uint64_t{h.n_windows} * info_.rows_per_window() * row_bytes(h.n_vocab);
  fseeko(f_, 0, SEEK_END);
  const uint64_t size = static_cast<uint64_t>(ftello(f_));
  if (size != want) {
    const uint64_t window_bytes = info_.rows_per_window() * row_bytes(h.n_vocab);
    const uint64_t have = size > rows_offset_ ? (size - rows_offset_) / window_bytes : 0;
    throw std::runtime_error(fmt::format("{}: KL base file is {} bytes, expected {}: it holds {} of {} windows "
                                         "(was the base run interrupted?)",
                                         path, size, want, have, h.n_windows));
  }
  fseeko(f_, static_cast<off_t>(kFixedHeaderBytes), SEEK_SET);
  info_.tokens.resize(n_tokens);
  if (std::fread(info_.tokens.data(), 4, n_tokens, f_) != n_tokens)
    throw std::runtime_error(fmt::format("{}: cannot read the tokens", path));
}

KlBaseReader::~KlBaseReader() {
  if (f_) std::fclose(f_);
}

void KlBaseReader::read_window(uint32_t w, std::vector<uint8_t>& rows) {
  const uint64_t bytes = info_.rows_per_window() * row_bytes(info_.n_vocab);
  rows.resize(bytes);
  if (fseeko(f_, static_cast<off_t>(rows_offset_ + w * bytes), SEEK_SET) != 0 || std::fread(rows.data(), 1, bytes, f_) != bytes)
    throw std::runtime_error(fmt::format("{}: cannot read window {}", path_, w + 1));
}

}  // namespace scout::eval
