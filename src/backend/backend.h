// The backend interface: the memory and the operations a forward pass needs.
// A model is written against this file only; the engine uses it to move
// token ids in and logits out. Implementations: cpu/ (host memory, SIMD
// kernels, OpenMP) and cuda/ (device memory, CUDA kernels). A backend owns
// its memory: activations, scratch, the KV cache's blocks and the placed
// weights live in it, addressed by Tensor handles nobody else dereferences.
//
// Conventions: a Tensor is a row-major [rows][cols] array; a "row" is one
// token's vector. Shapes come from the tensors and are checked by the ops.
// Ops are asynchronous on a GPU; download() and synchronize() wait. A backend
// is used from one thread at a time (the engine runs one pass at a time), and
// every Buffer must go before the backend that made it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/kv_layout.h"
#include "tensor/types.h"

namespace scout::backend {

enum class DType : uint8_t { F32, I32, F64 };
size_t dtype_size(DType t);

// A 2-D array in a backend's memory (host memory on the CPU backend, device
// memory on a GPU). A handle: only the backend that made it reads `data`.
struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;

  bool empty() const { return data == nullptr; }
  int64_t size() const { return rows * cols; }
  size_t bytes() const { return static_cast<size_t>(size()) * dtype_size(dtype); }
  // Rows [first, first + n).
  Tensor slice_rows(int64_t first, int64_t n) const;
  // The same elements seen as rows of `new_cols`: [n][heads * dim] as [n * heads][dim].
  Tensor view_as(int64_t new_cols) const;
  // The first r * c elements seen as [r][c] (a narrower use of a scratch buffer).
  Tensor prefix(int64_t r, int64_t c) const;
};

class Backend;

// Memory a backend allocated; freed when the Buffer goes. Move-only.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* owner, Tensor t) : owner_(owner), t_(t) {}
  Buffer(Buffer&& o) noexcept : owner_(o.owner_), t_(o.t_) { o.owner_ = nullptr; o.t_ = {}; }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  const Tensor& tensor() const { return t_; }
  // The first n rows.
  Tensor rows(int64_t n) const { return t_.slice_rows(0, n); }
  int64_t capacity_rows() const { return t_.rows; }
  void reset();

 private:
  Backend* owner_ = nullptr;
  Tensor t_;
};

// A weight matrix: n_out rows of n_in elements in any ggml type, as stored in
// the model file. `host` is the row data in the (read or mapped) file; `data`
// is where the backend reads it: the same bytes on the CPU, a device copy on
// a GPU, or the host bytes again when the matrix was left in host memory
// (on_host: --cpu-moe, -ngl), where a GPU backend multiplies it on the CPU.
struct Weight {
  std::string_view name;       // the GGUF tensor name (owned by the file)
  TensorType type = TensorType::F32;
  int64_t n_in = 0;            // ne[0]: the row length, the input dimension
  int64_t n_out = 0;           // number of rows, the output dimension
  size_t row_bytes = 0;        // stored bytes of one row
  const uint8_t* data = nullptr;
  const uint8_t* host = nullptr;
  bool on_host = true;

  bool empty() const { return data == nullptr; }
  size_t bytes() const { return static_cast<size_t>(n_out) * row_bytes; }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  // Rows [first, first + n): one expert's matrix inside a stacked [n_in, F, E] tensor.
  Weight rows(int64_t first, int64_t n) const;
};

// A routed-experts FFN: n_expert SwiGLU experts stacked in three matrices,
// expert e's rows [e*F, (e+1)*F) of gate and up and [e*d, (e+1)*d) of down.
struct ExpertWeights {
  Weight gate, up, down;
  int n_expert = 0;
};

// How a router's logits become expert weights: Llama 4 takes the top k by
// logit and weighs each by sigmoid(logit); Mixtral weighs the top k by a
// softmax over their logits.
enum class Gating { Sigmoid, SoftmaxTopK };
// Where the routing weight goes: Llama 4 scales each expert's input, Mixtral its output.
enum class RouteWeighting { Input, Output };

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;          // grouped-query: head h reads kv head h / (n_head / n_head_kv)
  int head_dim_k = 0;
  int head_dim_v = 0;
  float scale = 1.0f;         // applied to q.k, usually 1/sqrt(head_dim_k)
  int64_t chunk_size = 0;     // > 0: a query at p sees keys in [p - p % chunk, p]; 0: [0, p]
  bool causal = true;         // false: every query sees every key of its sequence (encoders)

  // The first position a query at `pos` may see.
  int64_t first_visible(int64_t pos) const { return chunk_size > 0 ? pos - pos % chunk_size : 0; }
};

// KV blocks in a backend's memory, addressed by id (the engine's block
// tables hold ids; kv_layout.h the layout of one block).
class KvPool {
 public:
  explicit KvPool(KvLayout layout) : layout_(layout) {}
  virtual ~KvPool() = default;
  const KvLayout& layout() const { return layout_; }
  // Makes ids [0, n) usable (their contents undefined until written); never shrinks.
  virtual void reserve(int32_t n_blocks) = 0;
  virtual int32_t capacity() const = 0;
  // Copies block id's block_bytes() to host memory, or from it (saved caches).
  virtual void read_block(int32_t id, void* dst) const = 0;
  virtual void write_block(int32_t id, const void* src) = 0;
  size_t bytes_allocated() const { return static_cast<size_t>(capacity()) * layout_.block_bytes(); }

 private:
  KvLayout layout_;
};

// Where a KV pool keeps its blocks: in memory, or (dir set, --kv-dir) in a
// file created in dir and mapped, so the cache is bounded by disk, not RAM.
// The file is unlinked as soon as it is open: it never outlives the process.
struct KvStorage {
  std::string dir;
};

// Where the rows of one forward pass sit in the KV cache, built by the engine
// from its block tables: rows are grouped in segments, one per sequence; for
// every layer and segment, the positions the cache holds and their blocks.
// A layer's positions [base_pos, base_pos + n_pos) lie in block_ids[first_id ..
// first_id + n_blocks), block_size positions each (slot 0 of the first block
// holds base_pos). The segment's rows are at positions [first_pos, first_pos + n_rows),
// already inside n_pos.
struct KvSegment {
  int64_t row = 0;        // first row of the segment in the pass
  int64_t n_rows = 0;
  int64_t first_pos = 0;  // the sequence position of that row
};
struct KvTable {
  int64_t base_pos = 0;
  int64_t n_pos = 0;
  int32_t first_id = 0;   // index into KvPass::block_ids
  int32_t n_blocks = 0;
};
struct KvPass {
  KvPool* pool = nullptr;
  int n_layer = 0;
  std::vector<KvSegment> segs;
  std::vector<KvTable> tables;    // [layer][segment]
  std::vector<int32_t> block_ids;

  const KvTable& table(int layer, size_t seg) const { return tables[static_cast<size_t>(layer) * segs.size() + seg]; }
};

// How a backend computes, set by each session before its passes.
struct ComputeOptions {
  int n_threads = 0;  // CPU threads; 0: all cores (OpenMP's default)
  // Quantized weights are multiplied against activations rounded to 8 bits
  // per block (as llama.cpp does); false: dequantized, in f32 (--exact).
  bool quantize_activations = true;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual void set_compute_options(const ComputeOptions& o) = 0;

  // --- memory ---
  virtual Buffer alloc(DType dtype, int64_t rows, int64_t cols) = 0;
  // Host -> backend and backend -> host copies of a whole tensor. download waits for the result.
  virtual void upload(const Tensor& dst, const void* src) = 0;
  virtual void download(void* dst, const Tensor& src) = 0;
  // Waits for every op issued so far.
  virtual void synchronize() {}
  // Places a weight matrix for use: sets w.data (and w.on_host) and returns
  // what holds the placed copy (nothing on the CPU: the file's bytes are used
  // in place). keep_on_host leaves it in host memory on a GPU backend.
  virtual Buffer place_weight(Weight& w, bool keep_on_host = false) = 0;
  // A constant the model keeps (norm weights, RoPE frequencies) placed for use:
  // the Buffer's tensor. On the CPU, a Buffer that owns nothing and views
  // `host`, which must then outlive it; a GPU copies it.
  virtual Buffer place_constant(DType dtype, const void* host, int64_t rows, int64_t cols) = 0;
  virtual std::unique_ptr<KvPool> make_kv_pool(const KvLayout& layout, const KvStorage& storage) = 0;

  // Runs a pass's ops: a GPU backend records them once per `key` (the shape
  // of a decode step) and replays the recording afterwards; the CPU runs
  // them. Inputs uploaded before the call are seen by the replay.
  virtual void run_pass(uint64_t key, const std::function<void()>& ops) { (void)key; ops(); }
  // Makes the pass's KV tables visible to the kv ops (a GPU uploads them); before run_pass.
  virtual void begin_pass(const KvPass& kv) = 0;
  // Row groups: kernels are chosen by row counts, and kernels round
  // differently. A backend that answers true picks them per sequence inside a
  // pass: a matmul over the pass's rows by each segment's row count, a
  // moe_ffn by each sequence's rows routed to the expert, the output head over
  // one row per sequence by one row. Then a sequence's results are the same
  // bits whatever shares its pass (other jobs' prompts, decode rows), as in a
  // pass of its own. false (GPUs): by the pass's total, so a sequence's rows
  // round as alone only where the total picks the same kernels.
  virtual bool rounds_groups_alone() const { return false; }

  // --- ops ---
  // y[t][o] = sum_i W[o][i] * x[t][i]. x is [n][w.n_in], y is [n][w.n_out]; y must not alias x.
  virtual void matmul(const Weight& w, const Tensor& x, const Tensor& y) = 0;
  // out[t] = row ids[t] of w, dequantized: the embedding lookup. ids I32 [n][1], out [n][w.n_in].
  virtual void embed(const Weight& w, const Tensor& ids, const Tensor& out) = 0;
  // out[t] = src[ids[t]]: picks rows (the output head's last row of each sequence).
  virtual void gather_rows(const Tensor& src, const Tensor& ids, const Tensor& out) = 0;
  // out = x / sqrt(mean(x^2) + eps) * weight, per row; weight [1][cols] or empty
  // (no scale: QK norm). out may equal x.
  virtual void rmsnorm(const Tensor& x, const Tensor& weight, const Tensor& out, float eps) = 0;
  // cos/sin of pos[t] * theta[i] for every row: RoPE's rotation table, out
  // [n][2 * theta.cols] as (cos, sin) pairs. The angle is formed in double
  // precision, so position 10,000,000 rotates as exactly as position 10.
  virtual void rope_table(const Tensor& pos, const Tensor& theta, const Tensor& out) = 0;
  // Rotates pairs (x[2i], x[2i+1]), i < table.cols / 2, of every head_dim
  // head of every row in place by that row's table entry; dims past the
  // table's are left alone. x is [n][heads * head_dim].
  virtual void rope(const Tensor& x, const Tensor& table, int head_dim) = 0;
  // out[t] = 1 + scale * log(floor((pos[t] + 1) / floor_scale) + 1): Llama 4's
  // attention temperature for queries far into the context (out [n][1]).
  virtual void attn_temperature(const Tensor& pos, double floor_scale, double scale, const Tensor& out) = 0;
  // x[t][*] *= factor[t], in place.
  virtual void scale_rows(const Tensor& x, const Tensor& factor) = 0;
  // y += x, elementwise (the residual connection).
  virtual void add(const Tensor& y, const Tensor& x) = 0;
  // out = silu(gate) * up elementwise; out may equal gate or up.
  virtual void swiglu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
  virtual void fill_zero(const Tensor& x) = 0;

  // The k experts with the highest router logits per row (ties: lower index
  // first), in descending order, and their weights by `gating`. logits [n][E],
  // experts I32 [n][k], weights F32 [n][k].
  virtual void route(const Tensor& logits, Gating gating, const Tensor& experts, const Tensor& weights) = 0;
  // out[t] += sum over t's routes of expert_e(x[t]) with the routing weight
  // applied as `weighting` says; tokens are grouped by expert, so each chosen
  // expert's weights are read once per pass and the others not at all.
  virtual void moe_ffn(const ExpertWeights& w, const Tensor& experts, const Tensor& weights,
                       RouteWeighting weighting, const Tensor& x, const Tensor& out) = 0;

  // Writes the pass's keys and values of one layer into the cache: k is
  // [n][n_head_kv * head_dim_k], v [n][n_head_kv * head_dim_v], rows as in kv.segs.
  virtual void kv_write(const KvPass& kv, int layer, const Tensor& k, const Tensor& v) = 0;
  // Causal (optionally chunked) grouped-query attention of every row over its
  // own sequence's cached keys/values (which hold its own position). q is
  // [n][n_head * head_dim_k], out [n][n_head * head_dim_v].
  virtual void attention(const KvPass& kv, int layer, const Tensor& q, const AttentionParams& p,
                         const Tensor& out) = 0;

  // --- ops of encoders (the vision tower) ---
  // out = (x - mean) / sqrt(var + eps) * weight + bias per row, var the
  // biased variance of the row; weight and bias [1][cols]. out may equal x.
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, float eps) = 0;
  // y[t] += row for every row t (a bias); row is [1][y.cols].
  virtual void add_row(const Tensor& y, const Tensor& row) = 0;
  // out = GELU(x) = x Phi(x) (the exact, erf form), elementwise; out may equal x.
  virtual void gelu(const Tensor& x, const Tensor& out) = 0;
  // Bidirectional attention inside each run of seq_len consecutive rows (one
  // image tile): every query sees every key of its run. q, k, v and out are
  // [n][n_head * head_dim] (p.n_head_kv = p.n_head); n a multiple of seq_len.
  virtual void attention_dense(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                               int64_t seq_len, const Tensor& out) = 0;

  // The k largest values of each row and their column indices, largest first
  // (ties: lower index first): what sampling needs from the logits, so only
  // k values per row leave the device. ids I32 [n][k], values F32 [n][k].
  virtual void top_k(const Tensor& x, const Tensor& ids, const Tensor& values) = 0;

 protected:
  friend class Buffer;
  virtual void free(void* data) = 0;
};

// Checks shapes and types for the ops (std::logic_error naming the op).
void check_shape(const char* op, const Tensor& t, int64_t rows, int64_t cols, DType dtype = DType::F32);

// The CPU backend (cpu/cpu_backend.cpp).
std::unique_ptr<Backend> make_cpu_backend(const ComputeOptions& o = {});

}  // namespace scout::backend
