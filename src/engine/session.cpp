#include "engine/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>

namespace scout::engine {

using backend::DType;

KvCacheConfig kv_config(const Model& model, KvTypes types, uint32_t n_seq, const std::string& kv_dir) {
  const Hparams& hp = model.hparams();
  KvCacheConfig c;
  c.n_layer = hp.n_layer;
  c.n_head_kv = hp.n_head_kv;
  c.head_dim_k = hp.head_dim_k;
  c.head_dim_v = hp.head_dim_v;
  c.layer_chunk = model.layer_chunks();
  c.types = types;
  c.storage.dir = kv_dir;
  c.n_seq = n_seq;
  return c;
}

namespace {

std::atomic<uint64_t> next_session_id{1};

}  // namespace

Session::Session(const Model& model, SessionOptions opts)
    : model_(model),
      be_(model.backend()),
      opts_(opts),
      n_ctx_(opts.n_ctx ? opts.n_ctx : model.hparams().context_length),
      kv_(kv_config(model, opts.kv_type, opts.n_seq, opts.kv_dir), model.backend()),
      id_(next_session_id++) {
  if (opts_.n_batch == 0) throw std::invalid_argument("batch size must be at least 1");
  // The inputs of a pass at their largest, once: a decode step's buffers then never move.
  reserve(std::max<int64_t>(opts_.n_batch, opts_.n_seq), std::max<uint32_t>(opts_.n_seq, 1));
}

void Session::reserve(int64_t n, int64_t n_out, int k) {
  const Hparams& hp = model_.hparams();
  if (n > tokens_.capacity_rows()) {
    tokens_ = be_.alloc(DType::I32, n, 1);
    positions_ = be_.alloc(DType::I32, n, 1);
    out_rows_ = be_.alloc(DType::I32, n, 1);
    act_.reserve(be_, hp, n);
    ++generation_;
  }
  if (n_out > logits_.capacity_rows()) {
    logits_ = be_.alloc(DType::F32, n_out, hp.n_vocab);
    ++generation_;
  }
  if (k > 0 && (n_out > top_ids_.capacity_rows() || k != top_ids_.tensor().cols)) {
    top_ids_ = be_.alloc(DType::I32, std::max(n_out, top_ids_.capacity_rows()), k);
    top_logits_ = be_.alloc(DType::F32, top_ids_.capacity_rows(), k);
    ++generation_;
  }
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

void Session::run_pass(std::span<const int32_t> tokens, std::span<const SeqRows> rows, const Output& out,
                       std::span<const float> embd) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t d = model_.hparams().d_model;
  if (!embd.empty() && static_cast<int64_t>(embd.size()) != n * d)
    throw std::logic_error(fmt::format("pass: {} embedding values for {} rows of {}", embd.size(), n, d));
  // Everything is checked before the cache changes.
  int64_t total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const SeqRows& r = rows[i];
    if (r.seq >= n_seq() || r.n <= 0)
      throw std::logic_error(fmt::format("pass: bad segment (sequence {} of {}, {} rows)", r.seq, n_seq(), r.n));
    for (size_t j = 0; j < i; ++j)
      if (rows[j].seq == r.seq) throw std::logic_error(fmt::format("pass: sequence {} appears twice", r.seq));
    const int64_t first = kv_.seq_len(r.seq);
    if (const int64_t b = kv_.next_chunk_boundary(first); b >= 0 && first + r.n > b)
      throw std::logic_error(fmt::format("pass: positions [{}, {}) of sequence {} cross a chunk boundary", first,
                                         first + r.n, r.seq));
    total += r.n;
  }
  if (total != n) throw std::logic_error(fmt::format("pass: segments hold {} rows, the batch {}", total, n));

  // Positions continue each row's own sequence; the rows' KV slots are reserved.
  std::vector<int32_t> pos(static_cast<size_t>(n)), last_rows;
  int64_t row = 0;
  for (const SeqRows& r : rows) {
    std::iota(pos.begin() + row, pos.begin() + row + r.n, static_cast<int32_t>(kv_.seq_len(r.seq)));
    kv_.append(r.seq, r.n);
    row += r.n;
    last_rows.push_back(static_cast<int32_t>(row - 1));
  }
  kv_.describe(rows, pass_kv_);

  const bool head = out.logits || out.top;
  const bool every_row = out.all_logits && !out.top;
  const int64_t n_out = !head ? 0 : every_row ? n : static_cast<int64_t>(rows.size());
  const int k = out.top ? std::min<int>(out.top->k, static_cast<int>(model_.hparams().n_vocab)) : 0;
  reserve(n, n_out, k);
  be_.set_compute_options({opts_.n_threads, opts_.quantize_activations});
  be_.upload(tokens_.rows(n), tokens.data());
  be_.upload(positions_.rows(n), pos.data());
  ForwardPass p;
  p.n_rows = n;
  p.tokens = tokens_.rows(n);
  p.positions = positions_.rows(n);
  if (!embd.empty()) {
    if (embd_.capacity_rows() < n) embd_ = be_.alloc(DType::F32, std::max<int64_t>(n, opts_.n_batch), d);
    be_.upload(embd_.rows(n), embd.data());
    p.embeddings = embd_.rows(n);
  }
  p.kv = &pass_kv_;
  if (head && !every_row) {
    be_.upload(out_rows_.rows(n_out), last_rows.data());
    p.out_rows = out_rows_.rows(n_out);
  }
  if (head) p.logits = logits_.rows(n_out);
  p.act = &act_;
  p.expert_stats = stats_;
  be_.begin_pass(pass_kv_);
  // A decode step (one row per sequence, the last rows' output) has the same
  // shape every time: the backend may record it once and replay it. Not with
  // expert stats, which read the routes back mid-pass.
  const bool step = !stats_ && embd.empty() && head && !every_row && n == static_cast<int64_t>(rows.size());
  const uint64_t key = step ? (id_ << 40) ^ (generation_ << 20) ^ (static_cast<uint64_t>(k) << 12) ^ static_cast<uint64_t>(n) : 0;
  be_.run_pass(key, [&] {
    model_.forward(p);
    if (k > 0) be_.top_k(p.logits, top_ids_.rows(n_out), top_logits_.rows(n_out));
  });
  if (k > 0) {
    out.top->k = k;
    out.top->ids.resize(static_cast<size_t>(n_out * k));
    out.top->logits.resize(static_cast<size_t>(n_out * k));
    be_.download(out.top->ids.data(), top_ids_.rows(n_out));
    be_.download(out.top->logits.data(), top_logits_.rows(n_out));
  } else if (out.logits) {
    be_.download(out.logits, p.logits);
  } else {
    be_.synchronize();
  }
}

void Session::eval_batches(uint32_t seq, std::span<const int32_t> tokens, const Output& last, std::vector<float>* all,
                           std::span<const float> embd) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const uint32_t n_vocab = model_.hparams().n_vocab;
  if (n == 0) throw std::invalid_argument("eval needs at least one token");
  check_room(seq, tokens.size());
  for (int32_t id : tokens) check_id(id);
  for (int64_t done = 0; done < n;) {
    // A batch ends at the batch size, the end of the input, or a chunk boundary.
    int64_t m = std::min<int64_t>(opts_.n_batch, n - done);
    const int64_t pos = kv_.seq_len(seq);
    if (const int64_t boundary = kv_.next_chunk_boundary(pos); boundary >= 0) m = std::min(m, boundary - pos);
    // Every batch's logits with `all`; else only the final batch runs the output head.
    Output o;
    if (all) {
      o.logits = all->data() + static_cast<size_t>(done) * n_vocab;
      o.all_logits = true;
    } else if (done + m == n) {
      o = last;
    }
    const SeqRows rows[] = {{seq, m}};
    const size_t d = model_.hparams().d_model;
    run_pass(tokens.subspan(static_cast<size_t>(done), static_cast<size_t>(m)), rows, o,
             embd.empty() ? embd : embd.subspan(static_cast<size_t>(done) * d, static_cast<size_t>(m) * d));
    done += m;
  }
}

std::vector<float> Session::eval_embeddings(std::span<const float> rows, uint32_t seq, bool want_logits) {
  const size_t d = model_.hparams().d_model;
  if (rows.empty() || rows.size() % d != 0)
    throw std::invalid_argument(fmt::format("eval_embeddings: {} values are not rows of {}", rows.size(), d));
  const std::vector<int32_t> ids(rows.size() / d, 0);  // in the ids' place only
  std::vector<float> logits(want_logits ? model_.hparams().n_vocab : 0);
  Output last;
  if (want_logits) last.logits = logits.data();
  eval_batches(seq, ids, last, nullptr, rows);
  return logits;
}

std::vector<float> Session::eval_seq(uint32_t seq, std::span<const int32_t> tokens, bool all_logits) {
  const uint32_t n_vocab = model_.hparams().n_vocab;
  std::vector<float> logits(static_cast<size_t>(all_logits ? tokens.size() : 1) * n_vocab);
  Output last;
  last.logits = logits.data();
  eval_batches(seq, tokens, last, all_logits ? &logits : nullptr);
  return logits;
}

TopTokens Session::eval_top(std::span<const int32_t> tokens, int k, uint32_t seq) {
  if (k < 1) throw std::invalid_argument("eval_top: k must be at least 1");
  TopTokens top;
  top.k = k;
  Output last;
  last.top = &top;
  eval_batches(seq, tokens, last, nullptr);
  return top;
}

std::vector<SeqRows> Session::batch_rows(std::span<const SeqTokens> parts, std::vector<int32_t>& tokens) const {
  if (parts.empty()) throw std::invalid_argument("a pass needs at least one sequence");
  std::vector<SeqRows> rows;
  for (const SeqTokens& p : parts) {
    if (p.tokens.empty()) throw std::invalid_argument(fmt::format("sequence {} is given no tokens", p.seq));
    check_room(p.seq, p.tokens.size());
    for (int32_t id : p.tokens) check_id(id);
    for (const SeqRows& r : rows)
      if (r.seq == p.seq) throw std::invalid_argument(fmt::format("sequence {} given twice in one pass", p.seq));
    tokens.insert(tokens.end(), p.tokens.begin(), p.tokens.end());
    rows.push_back({p.seq, static_cast<int64_t>(p.tokens.size())});
  }
  const size_t limit = std::max(opts_.n_batch, n_seq());  // a decode step of every sequence always fits
  if (tokens.size() > limit)
    throw std::invalid_argument(fmt::format("a pass of {} tokens is larger than the batch size {}", tokens.size(), limit));
  return rows;
}

std::vector<float> Session::decode(std::span<const SeqToken> steps) {
  std::vector<SeqTokens> parts;
  for (const SeqToken& s : steps) parts.push_back({s.seq, std::span(&s.token, 1)});
  return eval_batch(parts);
}

TopTokens Session::decode_top(std::span<const SeqToken> steps, int k) {
  if (k < 1) throw std::invalid_argument("decode_top: k must be at least 1");
  std::vector<SeqTokens> parts;
  for (const SeqToken& s : steps) parts.push_back({s.seq, std::span(&s.token, 1)});
  std::vector<int32_t> tokens;
  const std::vector<SeqRows> rows = batch_rows(parts, tokens);
  TopTokens top;
  top.k = k;
  Output o;
  o.top = &top;
  run_pass(tokens, rows, o);
  return top;
}

std::vector<float> Session::eval_batch(std::span<const SeqTokens> parts, bool all_logits) {
  std::vector<int32_t> tokens;
  const std::vector<SeqRows> rows = batch_rows(parts, tokens);
  std::vector<float> logits((all_logits ? tokens.size() : parts.size()) * model_.hparams().n_vocab);
  Output o;
  o.logits = logits.data();
  o.all_logits = all_logits;
  run_pass(tokens, rows, o);
  return logits;
}

}  // namespace scout::engine
