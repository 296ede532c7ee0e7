#include "runtime/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/profiling_backend.h"

namespace scout::runtime {

Session::Session(const Model& model, SessionOptions opts)
    : model_(model),
      opts_(opts),
      n_ctx_(opts.n_ctx ? opts.n_ctx : model.hparams().context_length),
      backend_(make_backend(opts.device, opts.n_threads, opts.quantize_activations)),
      kv_(model.kv_config(opts.kv_type, opts.n_seq)) {
  if (opts_.n_batch == 0) throw std::invalid_argument("batch size must be at least 1");
  if (profiling_requested()) backend_ = make_profiling_backend(std::move(backend_));
}

void Session::check_room(uint32_t seq, uint64_t n) const {
  if (seq >= n_seq()) throw std::invalid_argument(fmt::format("sequence {} of a session of {}", seq, n_seq()));
  if (n_past(seq) + n <= n_ctx_) return;
  if (n_past(seq) == 0) throw std::runtime_error(fmt::format("prompt of {} tokens does not fit the context of {}", n, n_ctx_));
  throw std::runtime_error(fmt::format("prompt of {} tokens does not fit the context of {} ({} already used)", n, n_ctx_,
                                       n_past(seq)));
}

void Session::check_id(int32_t id) const {
  const uint32_t n_vocab = model_.hparams().n_vocab;
  if (id < 0 || static_cast<uint32_t>(id) >= n_vocab)
    throw std::runtime_error(fmt::format("token id {} is out of range (vocabulary of {})", id, n_vocab));
}

std::vector<float> Session::eval_seq(uint32_t seq, std::span<const int32_t> tokens, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const uint32_t n_vocab = model_.hparams().n_vocab;
  if (n == 0) throw std::invalid_argument("eval needs at least one token");
  check_room(seq, tokens.size());
  for (int32_t id : tokens) check_id(id);

  std::vector<float> logits(static_cast<size_t>(all_logits ? n : 1) * n_vocab);
  for (int64_t done = 0; done < n;) {
    // A batch ends at the batch size, the end of the input, or a chunk boundary.
    int64_t m = std::min<int64_t>(opts_.n_batch, n - done);
    const int64_t pos = kv_.seq_len(seq);
    if (const int64_t boundary = kv_.next_chunk_boundary(pos); boundary >= 0) m = std::min(m, boundary - pos);

    ForwardBatch batch;
    batch.tokens = tokens.data() + done;
    batch.n = m;
    batch.seq = seq;
    batch.all_logits = all_logits;
    // Without all_logits only the final batch runs the output head.
    float* out = all_logits ? logits.data() + static_cast<size_t>(done) * n_vocab
                 : done + m == n ? logits.data()
                                 : nullptr;
    if (buf_.expert_stats) buf_.expert_stats->next = 0;  // a pass starts at the first MoE layer
    model_.forward(batch, kv_, *backend_, buf_, out);
    done += m;
  }
  return logits;
}

std::vector<float> Session::decode(std::span<const SeqToken> steps) {
  if (steps.empty()) throw std::invalid_argument("decode needs at least one sequence");
  // One token never crosses a chunk boundary, so this is always one pass.
  ForwardBatch batch;
  std::vector<int32_t> tokens;
  for (const SeqToken& s : steps) {
    check_room(s.seq, 1);
    check_id(s.token);
    for (const BatchSegment& b : batch.segments)
      if (b.seq == s.seq) throw std::invalid_argument(fmt::format("decode: sequence {} given twice", s.seq));
    tokens.push_back(s.token);
    batch.segments.push_back({s.seq, 1});
  }
  batch.tokens = tokens.data();
  batch.n = static_cast<int64_t>(tokens.size());
  std::vector<float> logits(steps.size() * model_.hparams().n_vocab);
  if (buf_.expert_stats) buf_.expert_stats->next = 0;
  model_.forward(batch, kv_, *backend_, buf_, logits.data());
  return logits;
}

}  // namespace scout::runtime
