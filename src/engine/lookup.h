// Speculative decoding without a draft model (`--lookup N`): prompt lookup.
// Text often repeats what came before it: summaries, code edits and
// extraction quote their prompt, and stories repeat names and phrases. So the
// tokens that followed the last earlier occurrence of the newest n-gram are a
// free guess at what comes next. Each step evaluates the token just drawn and
// up to N guessed ones in ONE forward pass, draws from each row's logits in
// turn while the draws agree with the guess, and drops the KV rows of the
// first guess that was wrong. A step costs about one decode pass (the
// weights are read once), and yields 1 + (guesses accepted) tokens.
//
// The draws are exactly those of plain decoding, greedy or sampled with a
// seed: every row's logits are the bits a one-row decode step gives (on the
// CPU the pass's 1 + N <= 15 rows take the row kernels, as a decode step
// does, and attention rounds a row alike in any pass), and the sampler is
// asked for the same tokens in the same order.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace scout::engine {

class Session;
class Generation;

// The most tokens a step guesses: with the token drawn, 15 rows, below the
// 16 rows from which the CPU's prompt (panel) kernels would round differently.
constexpr int kMaxLookup = 14;

// Up to max_draft tokens that followed the most recent earlier occurrence of
// history's last n tokens, trying n = max_ngram down to min_ngram (the
// longest n with a match wins); empty when none occurs.
std::vector<int32_t> lookup_draft(std::span<const int32_t> history, int max_draft, int max_ngram = 3,
                                  int min_ngram = 2);

struct LookupStats {
  uint64_t passes = 0;    // verification passes run
  uint64_t drafted = 0;   // tokens guessed
  uint64_t accepted = 0;  // ... and drawn as guessed
};

// Runs g to its end on sequence 0 of session, which holds the prompt and
// every token drawn before `next` (the token to evaluate next); history is
// the prompt and those tokens. Each step drafts up to n_draft (1..kMaxLookup)
// tokens by lookup_draft and checks them in one pass.
void generate_with_lookup(Session& session, Generation& g, std::vector<int32_t> history, int32_t next, int n_draft,
                          LookupStats& stats);

}  // namespace scout::engine
