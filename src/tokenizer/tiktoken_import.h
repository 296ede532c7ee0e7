// Byte-level BPE vocabularies for GGUF files: the Llama 4 tiktoken file turned
// into the GPT-2 style arrays llama.cpp-compatible readers expect (tokens as
// mapped strings, merges as "left right" in rank order), plus the 2048 Llama 4
// special tokens, and a tiny built-in byte vocabulary for test models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scout::gguf {
class GgufWriter;
}

namespace scout::tokenizer {

constexpr int32_t kTokenTypeNormal = 1;
constexpr int32_t kTokenTypeControl = 3;
constexpr size_t kLlama4SpecialCount = 2048;

struct GgufVocab {
  std::string model = "gpt2";
  std::string pre = "llama4";
  std::vector<std::string> tokens;    // GPT-2 string form; specials verbatim
  std::vector<int32_t> token_types;   // kTokenTypeNormal / kTokenTypeControl
  std::vector<std::string> merges;    // "left right", in rank order of the result
  uint32_t n_bpe = 0;                 // tokens before the specials
  uint32_t bos_id = 0;                // <|begin_of_text|>
  uint32_t eos_id = 0;                // <|eot|>, as Llama 4 instruct files have it
  uint32_t eot_id = 0;                // <|eot|>
  uint32_t eom_id = 0;                // <|eom|>
};

// The 2048 Llama 4 special tokens in id order (ids N..N+2047 after N BPE tokens).
const std::vector<std::string>& llama4_special_tokens();

// Reads a tiktoken file ("base64(token) rank" per line, ranks 0..N-1 in order),
// keeping the first `max_ranks` ranks when non-zero. Derives the merge list
// from the ranks and appends the Llama 4 specials. Throws std::runtime_error
// "PATH:LINE: what" for malformed input.
GgufVocab import_tiktoken(const std::string& path, size_t max_ranks = 0);

// The 256 single bytes (ids 0..255 in byte order, no merges) plus the Llama 4
// specials: a vocabulary for test models without a tokenizer file.
GgufVocab builtin_byte_vocab();

// Sets tokenizer.ggml.{model,pre,tokens,token_type,merges,bos_token_id,
// eos_token_id,add_bos_token}, the keys and order of the reference files.
void write_vocab(gguf::GgufWriter& writer, const GgufVocab& vocab);

}  // namespace scout::tokenizer
