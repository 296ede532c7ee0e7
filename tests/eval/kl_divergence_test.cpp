// The saved base distributions: a row decodes back to the log-probabilities it
// was made from (within the 16-bit step), KL against itself is 0, KL against
// another distribution matches the exact sum, and the file round-trips and
// refuses truncation and foreign files.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "eval/kl_base_file.h"
#include "eval/kl_divergence.h"
#include "eval/kl_stats.h"
#include "eval/perplexity.h"
#include "test_util.h"

namespace scout::eval {
namespace {

std::vector<float> random_logits(size_t n, uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, spread);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double exact_kl(const std::vector<float>& p_logits, const std::vector<float>& q_logits) {
  const double lp = log_sum_exp(p_logits), lq = log_sum_exp(q_logits);
  double kl = 0;
  for (size_t i = 0; i < p_logits.size(); ++i) {
    const double a = p_logits[i] - lp, b = q_logits[i] - lq;
    kl += std::exp(a) * (a - b);
  }
  return kl;
}

TEST(KlDivergence, SelfIsZeroAndAgrees) {
  for (float spread : {0.1f, 1.0f, 4.0f, 20.0f}) {
    const std::vector<float> logits = random_logits(1000, 7, spread);
    std::vector<uint8_t> row(row_bytes(logits.size()));
    encode_row(logits, 12, row.data());
    const RowComparison c = compare_row(row.data(), logits, 12);
    EXPECT_NEAR(c.kl, 0.0, 1e-4) << spread;
    EXPECT_TRUE(c.same_top);
    EXPECT_EQ(c.nll_base, c.nll);
    EXPECT_NEAR(c.nll, log_sum_exp(logits) - logits[12], 1e-9);
  }
}

TEST(KlDivergence, MatchesTheExactSum) {
  const std::vector<float> p = random_logits(500, 1, 2.0f);
  std::vector<float> q = random_logits(500, 2, 0.5f);
  for (size_t i = 0; i < q.size(); ++i) q[i] += p[i];  // p, perturbed
  std::vector<uint8_t> row(row_bytes(p.size()));
  encode_row(p, 3, row.data());
  const RowComparison c = compare_row(row.data(), q, 3);
  EXPECT_GT(c.kl, 0.01);
  EXPECT_NEAR(c.kl, exact_kl(p, q), 1e-3 * exact_kl(p, q) + 1e-4);
}

TEST(KlDivergence, TopTokenDisagreement) {
  const std::vector<float> p = {0.0f, 3.0f, 1.0f};
  const std::vector<float> q = {0.0f, 1.0f, 3.0f};
  std::vector<uint8_t> row(row_bytes(3));
  encode_row(p, 0, row.data());
  const RowComparison c = compare_row(row.data(), q, 0);
  EXPECT_FALSE(c.same_top);
  EXPECT_NEAR(c.kl, exact_kl(p, q), 1e-3);
  EXPECT_THROW(compare_row(row.data(), q, 1), std::runtime_error);  // a row for another token
}

TEST(KlDivergence, FlatAndVeryPeakedRows) {
  // A flat row has no range to quantize; a peaked one clips its tail at 16 nats.
  const std::vector<float> flat(64, 1.5f);
  std::vector<uint8_t> row(row_bytes(flat.size()));
  encode_row(flat, 5, row.data());
  RowComparison c = compare_row(row.data(), flat, 5);
  EXPECT_NEAR(c.kl, 0.0, 1e-6);
  EXPECT_NEAR(c.nll_base, std::log(64.0), 1e-5);

  std::vector<float> peaked(64, -40.0f);
  peaked[9] = 10.0f;
  encode_row(peaked, 9, row.data());
  c = compare_row(row.data(), peaked, 9);
  EXPECT_NEAR(c.kl, 0.0, 1e-6);
  EXPECT_TRUE(c.same_top);
}

TEST(KlDivergence, WindowHelpersCoverTheScoredPositions) {
  const size_t n_vocab = 50, n_ctx = 12, first = 6;
  const std::vector<float> logits = random_logits(n_vocab * n_ctx, 3, 2.0f);
  std::vector<int32_t> window(n_ctx);
  for (size_t i = 0; i < n_ctx; ++i) window[i] = static_cast<int32_t>(i * 3 % n_vocab);
  const std::vector<uint8_t> rows = encode_window(logits, n_vocab, window, first);
  ASSERT_EQ(rows.size(), (n_ctx - 1 - first) * row_bytes(n_vocab));
  const std::vector<RowComparison> cs = compare_window(rows, logits, n_vocab, window, first);
  const std::vector<double> nll = score_window(logits, n_vocab, window, first);
  ASSERT_EQ(cs.size(), nll.size());
  for (size_t k = 0; k < cs.size(); ++k) {
    EXPECT_NEAR(cs[k].nll, nll[k], 1e-9);
    EXPECT_NEAR(cs[k].kl, 0.0, 1e-4);
  }
  std::vector<int32_t> other = window;
  other[first + 2] += 1;
  EXPECT_THROW(compare_window(rows, logits, n_vocab, other, first), std::runtime_error);
}

TEST(KlDivergence, StatsSummarise) {
  KlStats s;
  for (int i = 0; i < 4; ++i) s.add({0.1 * i, 1.0, 1.0 + 0.1 * i, i != 3});
  EXPECT_EQ(s.count(), 4u);
  EXPECT_NEAR(s.kl().mean(), 0.15, 1e-12);
  EXPECT_NEAR(s.kl_quantile(0.5), 0.15, 1e-12);
  EXPECT_NEAR(s.kl_quantile(1.0), 0.3, 1e-12);
  EXPECT_NEAR(s.same_top(), 0.75, 1e-12);
  EXPECT_NEAR(s.ppl_base().ppl(), std::exp(1.0), 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio().mean(), 0.15, 1e-12);
}

TEST(KlBaseFile, RoundTripsAndRejectsBadFiles) {
  test::TempDir tmp;
  KlBaseInfo info{8, 5, 2, 4, 1, 0x1234, {}};
  for (int i = 0; i < 16; ++i) info.tokens.push_back(i % 5);
  const size_t window_bytes = info.rows_per_window() * row_bytes(5);
  {
    KlBaseWriter w(tmp.path("base.kld"), info);
    w.append(std::vector<uint8_t>(window_bytes, 7));
    w.append(std::vector<uint8_t>(window_bytes, 9));
    w.close();
  }
  KlBaseReader r(tmp.path("base.kld"));
  EXPECT_EQ(r.info().n_ctx, 8u);
  EXPECT_EQ(r.info().n_vocab, 5u);
  EXPECT_EQ(r.info().n_windows, 2u);
  EXPECT_EQ(r.info().first, 4u);
  EXPECT_EQ(r.info().bos, 1);
  EXPECT_EQ(r.info().vocab_hash, 0x1234u);
  EXPECT_EQ(r.info().tokens, info.tokens);
  std::vector<uint8_t> rows;
  r.read_window(1, rows);
  EXPECT_EQ(rows, std::vector<uint8_t>(window_bytes, 9));

  // A base run cut short after one window.
  std::vector<uint8_t> bytes = test::read_file(tmp.path("base.kld"));
  bytes.resize(bytes.size() - window_bytes);
  test::write_file(tmp.path("short.kld"), bytes);
  try {
    KlBaseReader bad(tmp.path("short.kld"));
    FAIL() << "a truncated file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 1 of 2 windows"), std::string::npos) << e.what();
  }
  test::write_file(tmp.path("foreign.kld"), std::vector<uint8_t>(100, 'x'));
  EXPECT_THROW(KlBaseReader(tmp.path("foreign.kld")), std::runtime_error);
  EXPECT_THROW(KlBaseReader(tmp.path("missing.kld")), std::runtime_error);
}

}  // namespace
}  // namespace scout::eval
