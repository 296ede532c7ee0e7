// The token ids a benchmark feeds the model: random ids from a fixed seed, as
// llama-bench does, but never control tokens (BOS, <|eot|>, ...) or unused
// ids, whose embeddings may be untrained and whose presence could change how
// a model behaves. Speed does not depend on which ids, only that they are valid.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace scout::gguf {
class GgufFile;
}

namespace scout::bench {

class TokenPool {
 public:
  // Ids below n_vocab whose tokenizer.ggml.token_type is normal, byte or
  // user-defined (every id when the file has no token types).
  TokenPool(const gguf::GgufFile& file, uint32_t n_vocab, uint64_t seed);

  std::vector<int32_t> draw(int64_t n);
  size_t size() const { return ids_.size(); }

 private:
  std::vector<int32_t> ids_;
  std::mt19937_64 rng_;
};

}  // namespace scout::bench
