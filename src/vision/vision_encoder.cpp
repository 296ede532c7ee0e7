#include "vision/vision_encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tensor/dequant.h"

namespace scout::vision {

using backend::Buffer;
using backend::DType;
using backend::Tensor;

namespace {

// Tiles per pass through the encoder: all of an image's (up to 10) at once
// keeps every weight read once per image; the cap bounds the activations.
constexpr size_t kMaxBatchTiles = 10;
constexpr double kRopeBase = 10000.0;  // not stored in the file; llama.cpp's constant for llama4

}  // namespace

VisionEncoder::VisionEncoder(const std::string& path, std::shared_ptr<backend::Backend> be,
                             backend::ComputeOptions compute)
    : file_(gguf::GgufFile::open(path, gguf::LoadMode::Auto)),
      hp_(read_vision_hparams(file_)),
      be_(std::move(be)),
      compute_(compute) {
  // Every matmul in f32 against dequantized weights: with 577 rows a tile
  // the encoder is compute-bound, and the CPU's float panel kernel beats
  // 8-bit activations through the row kernels (a Q8_0 Scout projector: 31 s
  // -> 26 s a tile on 2 AVX2 cores), and rounds less.
  compute_.quantize_activations = false;
  WeightBinder b(file_, *be_, storage_);
  const uint64_t C = hp_.width, p = hp_.patch_size, P = hp_.adapter, R2 = uint64_t{hp_.merge} * hp_.merge;
  auto name = [](std::string_view s) { return std::string(s); };
  patch_embd_ = b.matrix(name(vnames::kPatchEmbd), {3 * p * p, C});
  pre_ln_w_ = b.vector(name(vnames::kPreLn) + ".weight", C);
  pre_ln_b_ = b.vector(name(vnames::kPreLn) + ".bias", C);
  post_ln_w_ = b.vector(name(vnames::kPostLn) + ".weight", C);
  post_ln_b_ = b.vector(name(vnames::kPostLn) + ".bias", C);
  for (uint32_t il = 0; il < hp_.n_layer; ++il) {
    Layer L;
    L.ln1_w = b.vector(vnames::layer(il, vnames::kLn1, "weight"), C);
    L.ln1_b = b.vector(vnames::layer(il, vnames::kLn1, "bias"), C);
    L.ln2_w = b.vector(vnames::layer(il, vnames::kLn2, "weight"), C);
    L.ln2_b = b.vector(vnames::layer(il, vnames::kLn2, "bias"), C);
    L.wq = b.matrix(vnames::layer(il, vnames::kAttnQ, "weight"), {C, C});
    L.wk = b.matrix(vnames::layer(il, vnames::kAttnK, "weight"), {C, C});
    L.wv = b.matrix(vnames::layer(il, vnames::kAttnV, "weight"), {C, C});
    L.wo = b.matrix(vnames::layer(il, vnames::kAttnOut, "weight"), {C, C});
    L.bq = b.vector(vnames::layer(il, vnames::kAttnQ, "bias"), C);
    L.bk = b.vector(vnames::layer(il, vnames::kAttnK, "bias"), C);
    L.bv = b.vector(vnames::layer(il, vnames::kAttnV, "bias"), C);
    L.bo = b.vector(vnames::layer(il, vnames::kAttnOut, "bias"), C);
    L.up = b.matrix(vnames::layer(il, vnames::kFfnUp, "weight"), {C, hp_.ff});
    L.b_up = b.vector(vnames::layer(il, vnames::kFfnUp, "bias"), hp_.ff);
    L.down = b.matrix(vnames::layer(il, vnames::kFfnDown, "weight"), {hp_.ff, C});
    L.b_down = b.vector(vnames::layer(il, vnames::kFfnDown, "bias"), C);
    layers_.push_back(L);
  }
  adapter1_ = b.matrix(name(vnames::kAdapter1), {R2 * C, P});
  adapter2_ = b.matrix(name(vnames::kAdapter2), {P, P});
  projector_ = b.matrix(name(vnames::kProjector), {P, hp_.out_width});

  // Position embeddings with the class embedding added on the last row: CLS
  // is appended after the 576 patches, and both are added in one step.
  const uint32_t n_pos = hp_.n_positions();
  const gguf::TensorInfo* pos = file_.find_tensor(vnames::kPositionEmbd);  // shape checked by read_vision_hparams
  pos_cls_host_.resize(static_cast<size_t>(n_pos) * C);
  dequantize_row(pos->type, pos->data, pos_cls_host_.data(), static_cast<int64_t>(pos_cls_host_.size()));
  const std::vector<float> cls = b.host_vector(name(vnames::kClassEmbd), C);
  for (uint64_t i = 0; i < C; ++i) pos_cls_host_[(n_pos - 1) * C + i] += cls[i];
  pos_cls_ = be_->place_constant(DType::F32, pos_cls_host_.data(), n_pos, static_cast<int64_t>(C));

  // 2D RoPE as a rotation table per position: pairs i < D/4 turn by
  // pos_x f_i, pairs D/4 + i by pos_y f_i, f_i = 10000^(-4i/D); patch n is at
  // column n % G + 1 and row n / G + 1 (1-based), CLS at 0 (no rotation).
  const uint32_t D = hp_.head_dim(), G = hp_.grid(), quarter = D / 4;
  rope_host_.assign(static_cast<size_t>(n_pos) * D, 0.0f);
  for (uint32_t n = 0; n < n_pos; ++n) {
    const bool cls_row = n == n_pos - 1;
    const double px = cls_row ? 0 : n % G + 1, py = cls_row ? 0 : n / G + 1;
    for (uint32_t i = 0; i < quarter; ++i) {
      const double f = std::pow(kRopeBase, -4.0 * i / D);
      for (const auto& [pair, angle] : {std::pair{i, px * f}, std::pair{quarter + i, py * f}}) {
        rope_host_[static_cast<size_t>(n) * D + 2 * pair] = static_cast<float>(std::cos(angle));
        rope_host_[static_cast<size_t>(n) * D + 2 * pair + 1] = static_cast<float>(std::sin(angle));
      }
    }
  }
  rope_ = be_->place_constant(DType::F32, rope_host_.data(), n_pos, D);
}

VisionEncoder::~VisionEncoder() = default;

std::vector<float> VisionEncoder::patch_rows(const Image& tile) const {
  const int p = static_cast<int>(hp_.patch_size), G = static_cast<int>(hp_.grid());
  if (tile.width != static_cast<int>(hp_.image_size) || tile.height != static_cast<int>(hp_.image_size))
    throw std::logic_error(fmt::format("patch_rows: a {}x{} tile, expected {}", tile.width, tile.height, hp_.image_size));
  const size_t row = 3 * static_cast<size_t>(p) * p;
  std::vector<float> x(hp_.n_positions() * row, 0.0f);
  for (int c = 0; c < 3; ++c)
    for (int Y = 0; Y < G * p; ++Y)
      for (int X = 0; X < G * p; ++X) {
        const size_t n = static_cast<size_t>(Y / p) * G + X / p;
        const float v = (static_cast<float>(tile.at(X, Y, c)) / 255.0f - hp_.mean[c]) / hp_.std[c];
        x[n * row + static_cast<size_t>(c) * p * p + static_cast<size_t>(Y % p) * p + X % p] = v;
      }
  return x;
}

std::vector<float> VisionEncoder::encode(const std::vector<Image>& tiles, TokenOrder order,
                                         const StageObserver& observe) const {
  be_->set_compute_options(compute_);
  const size_t per_tile = static_cast<size_t>(hp_.tokens_per_tile()) * hp_.out_width;
  std::vector<float> out(tiles.size() * per_tile);
  for (size_t first = 0; first < tiles.size(); first += kMaxBatchTiles) {
    const size_t n = std::min(kMaxBatchTiles, tiles.size() - first);
    encode_batch(tiles, first, n, order, out.data() + first * per_tile, first == 0 ? observe : nullptr);
  }
  return out;
}

void VisionEncoder::encode_batch(const std::vector<Image>& tiles, size_t first, size_t n, TokenOrder order,
                                 float* out, const StageObserver& observe) const {
  backend::Backend& be = *be_;
  const int64_t S = hp_.n_positions(), N = static_cast<int64_t>(n) * S, C = hp_.width;
  const int64_t patch_in = patch_embd_.n_in, D = hp_.head_dim();
  const int64_t T = hp_.tokens_per_tile(), R2 = int64_t{hp_.merge} * hp_.merge;
  const int64_t M = static_cast<int64_t>(n) * T;  // output tokens of the batch

  auto buf = [&](int64_t rows, int64_t cols, DType t = DType::F32) { return be.alloc(t, rows, cols); };
  Buffer x = buf(N, patch_in), h = buf(N, C), a = buf(N, C), q = buf(N, C), k = buf(N, C), v = buf(N, C),
         o = buf(N, C), y = buf(N, C), f = buf(N, hp_.ff);
  auto stage = [&](std::string_view name, const Tensor& t, int64_t rows, int64_t cols) {
    if (!observe) return;
    std::vector<float> host(static_cast<size_t>(t.size()));
    be.download(host.data(), t);
    host.resize(static_cast<size_t>(rows * cols));
    observe(name, host, cols);
  };

  // Patches -> patch embeddings, positions and CLS, pre-LayerNorm.
  std::vector<float> xs;
  xs.reserve(static_cast<size_t>(N * patch_in));
  for (size_t i = 0; i < n; ++i) {
    const std::vector<float> r = patch_rows(tiles[first + i]);
    xs.insert(xs.end(), r.begin(), r.end());
  }
  be.upload(x.tensor(), xs.data());
  be.matmul(patch_embd_, x.tensor(), h.tensor());
  stage("patch_conv", h.tensor(), S - 1, C);
  for (int64_t t = 0; t < static_cast<int64_t>(n); ++t) be.add(h.tensor().slice_rows(t * S, S), pos_cls_.tensor());
  stage("pos_embed", h.tensor(), S, C);
  be.layer_norm(h.tensor(), pre_ln_w_, pre_ln_b_, h.tensor(), hp_.eps);
  stage("pre_ln", h.tensor(), S, C);

  backend::AttentionParams ap;
  ap.n_head = ap.n_head_kv = static_cast<int>(hp_.n_head);
  ap.head_dim_k = ap.head_dim_v = static_cast<int>(D);
  ap.scale = 1.0f / std::sqrt(static_cast<float>(D));
  ap.causal = false;
  for (size_t il = 0; il < layers_.size(); ++il) {
    const Layer& L = layers_[il];
    // Attention: biased projections, 2D RoPE on q and k, every patch sees every patch of its tile.
    be.layer_norm(h.tensor(), L.ln1_w, L.ln1_b, a.tensor(), hp_.eps);
    be.matmul(L.wq, a.tensor(), q.tensor());
    be.add_row(q.tensor(), L.bq);
    be.matmul(L.wk, a.tensor(), k.tensor());
    be.add_row(k.tensor(), L.bk);
    be.matmul(L.wv, a.tensor(), v.tensor());
    be.add_row(v.tensor(), L.bv);
    for (int64_t t = 0; t < static_cast<int64_t>(n); ++t) {
      be.rope(q.tensor().slice_rows(t * S, S), rope_.tensor(), static_cast<int>(D));
      be.rope(k.tensor().slice_rows(t * S, S), rope_.tensor(), static_cast<int>(D));
    }
    be.attention_dense(q.tensor(), k.tensor(), v.tensor(), ap, S, o.tensor());
    be.matmul(L.wo, o.tensor(), y.tensor());
    be.add_row(y.tensor(), L.bo);
    be.add(h.tensor(), y.tensor());
    // MLP: up, GELU, down, all biased.
    be.layer_norm(h.tensor(), L.ln2_w, L.ln2_b, a.tensor(), hp_.eps);
    be.matmul(L.up, a.tensor(), f.tensor());
    be.add_row(f.tensor(), L.b_up);
    be.gelu(f.tensor(), f.tensor());
    be.matmul(L.down, f.tensor(), y.tensor());
    be.add_row(y.tensor(), L.b_down);
    be.add(h.tensor(), y.tensor());
    stage(fmt::format("layer_out-{}", il), h.tensor(), S, C);
  }
  be.layer_norm(h.tensor(), post_ln_w_, post_ln_b_, h.tensor(), hp_.eps);

  // Pixel shuffle: token (r2, c2) is the r x r patches from (r r2, r c2),
  // row by row, side by side; CLS is left out. One gather of patch rows.
  const int64_t G = hp_.grid(), r = hp_.merge, side = G / r;
  std::vector<int32_t> ids(static_cast<size_t>(M * R2));
  for (int64_t t = 0; t < static_cast<int64_t>(n); ++t)
    for (int64_t tok = 0; tok < T; ++tok) {
      const int64_t r2 = order == TokenOrder::ColumnMajor ? tok % side : tok / side;
      const int64_t c2 = order == TokenOrder::ColumnMajor ? tok / side : tok % side;
      for (int64_t j = 0; j < R2; ++j)
        ids[static_cast<size_t>((t * T + tok) * R2 + j)] =
            static_cast<int32_t>(t * S + (r * r2 + j / r) * G + r * c2 + j % r);
    }
  Buffer idb = buf(M * R2, 1, DType::I32), merged = buf(M, R2 * C);
  be.upload(idb.tensor(), ids.data());
  be.gather_rows(h.tensor(), idb.tensor(), merged.tensor().view_as(C));
  stage("pixel_shuffle", merged.tensor(), T, R2 * C);

  // Adapter MLP (two GELU layers, no biases) and the projection to the text width.
  Buffer p1 = buf(M, hp_.adapter), p2 = buf(M, hp_.adapter), e = buf(M, hp_.out_width);
  be.matmul(adapter1_, merged.tensor(), p1.tensor());
  be.gelu(p1.tensor(), p1.tensor());
  be.matmul(adapter2_, p1.tensor(), p2.tensor());
  be.gelu(p2.tensor(), p2.tensor());
  stage("adapter_mlp", p2.tensor(), T, hp_.adapter);
  be.matmul(projector_, p2.tensor(), e.tensor());
  stage("projected", e.tensor(), T, hp_.out_width);
  be.download(out, e.tensor());
}

}  // namespace scout::vision
