#include "bench/token_pool.h"

#include <algorithm>
#include <stdexcept>

#include "gguf/reader.h"

namespace scout::bench {

namespace {

// GGUF / llama.cpp token types (see tokenizer/vocab.h).
constexpr int64_t kUnknown = 2, kControl = 3, kUnused = 5;

}  // namespace

TokenPool::TokenPool(const gguf::GgufFile& file, uint32_t n_vocab, uint64_t seed) : rng_(seed) {
  const gguf::Value* types = file.find("tokenizer.ggml.token_type");
  const bool typed = types && types->is_array();
  const size_t n_typed = typed ? std::min<size_t>(types->array_size(), n_vocab) : 0;
  for (uint32_t id = 0; id < n_vocab; ++id) {
    if (typed && id < n_typed) {
      const int64_t t = types->int_at(id);
      if (t == kUnknown || t == kControl || t == kUnused) continue;
    }
    ids_.push_back(static_cast<int32_t>(id));
  }
  if (ids_.empty()) throw std::runtime_error(file.path() + ": the vocabulary has no ordinary tokens to benchmark with");
}

std::vector<int32_t> TokenPool::draw(int64_t n) {
  std::uniform_int_distribution<size_t> pick(0, ids_.size() - 1);
  std::vector<int32_t> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int32_t& id : out) id = ids_[pick(rng_)];
  return out;
}

}  // namespace scout::bench
