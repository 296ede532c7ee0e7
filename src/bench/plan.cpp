#include "bench/plan.h"

#include <fmt/format.h>

namespace scout::bench {

std::string TestCase::name() const {
  std::string s = fmt::format("{}{}", kind == TestKind::Prompt ? "pp" : "tg", n_tokens);
  if (n_parallel > 1) s += fmt::format(" x{}", n_parallel);
  if (depth > 0) s += fmt::format(" @ d{}", depth);
  return s;
}

std::vector<TestCase> make_plan(const BenchParams& p) {
  std::vector<TestCase> plan;
  for (int64_t t : p.threads)
    for (size_t ib = 0; ib < p.batches.size(); ++ib)
      for (const std::string& tk : p.types_k)
        for (const std::string& tv : p.types_v)
          for (int64_t d : p.depths) {
            TestCase base;
            base.threads = static_cast<int>(t);
            base.batch = p.batches[ib];
            base.type_k = tk;
            base.type_v = tv;
            base.depth = d;
            for (int64_t n : p.prompts) {
              if (n <= 0) continue;
              TestCase c = base;
              c.kind = TestKind::Prompt;
              c.n_tokens = n;
              plan.push_back(c);
            }
            if (ib > 0) continue;  // tg rows: once per (threads, depth)
            for (int64_t n : p.gens) {
              if (n <= 0) continue;
              for (int64_t np : p.parallel) {
                TestCase c = base;
                c.kind = TestKind::Generate;
                c.n_tokens = n;
                c.n_parallel = np;
                plan.push_back(c);
              }
            }
          }
  return plan;
}

}  // namespace scout::bench
