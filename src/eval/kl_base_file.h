// The file `scout perplexity --kl-divergence-base FILE` writes: what a later
// run on another quantization needs to compare against the base model without
// re-running it. Little-endian, in this order:
//   char[8] "SCOUTKLD", u32 version (1), u32 n_ctx, u32 n_vocab, u32 n_windows,
//   u32 first (scored positions start here), i32 bos (-1: none), u64 vocab_hash,
//   i32 tokens[n_windows * n_ctx]   the text's tokens as tokenized (before BOS
//                                   replaces each window's first token)
//   rows[n_windows][n_ctx - 1 - first], row_bytes(n_vocab) each (kl_divergence.h)
// Rows are appended window by window, so a run that is cut short leaves a
// file the reader rejects as truncated instead of misreading.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace scout::tokenizer {
class Tokenizer;
}

namespace scout::eval {

struct KlBaseInfo {
  uint32_t n_ctx = 0;
  uint32_t n_vocab = 0;
  uint32_t n_windows = 0;
  uint32_t first = 0;
  int32_t bos = -1;
  uint64_t vocab_hash = 0;
  std::vector<int32_t> tokens;  // n_windows * n_ctx
  uint64_t rows_per_window() const { return n_ctx - 1 - first; }
};

// FNV-1a over every token's text: tells vocabularies apart cheaply.
uint64_t vocab_hash(const tokenizer::Tokenizer& tok);

class KlBaseWriter {
 public:
  // Creates (truncates) path and writes the header and tokens.
  KlBaseWriter(const std::string& path, const KlBaseInfo& info);
  ~KlBaseWriter();
  KlBaseWriter(const KlBaseWriter&) = delete;
  KlBaseWriter& operator=(const KlBaseWriter&) = delete;

  void append(const std::vector<uint8_t>& rows);  // one window's rows
  void close();                                   // flushes; throws on a write error

 private:
  void write(const void* data, size_t n);
  std::string path_;
  std::FILE* f_ = nullptr;
};

class KlBaseReader {
 public:
  // Reads and checks the header; throws std::runtime_error naming the file
  // for a wrong magic or version, or a size that does not match (truncated).
  explicit KlBaseReader(const std::string& path);
  ~KlBaseReader();
  KlBaseReader(const KlBaseReader&) = delete;
  KlBaseReader& operator=(const KlBaseReader&) = delete;

  const KlBaseInfo& info() const { return info_; }
  // Window w's rows, rows_per_window() * row_bytes(n_vocab) bytes.
  void read_window(uint32_t w, std::vector<uint8_t>& rows);

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  KlBaseInfo info_;
  uint64_t rows_offset_ = 0;
};

}  // namespace scout::eval
