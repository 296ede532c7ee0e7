// Speculative decoding: guess the next few tokens cheaply, then check the
// guesses with the model in ONE forward pass over the token just drawn and
// the guesses, draw from each row's logits in turn while the draws agree with
// the guesses, and drop the KV rows of the first guess that was wrong. A step
// costs about one decode pass when reading the weights is the limit (they
// are read once), and yields 1 + (guesses kept) tokens.
//
// Two ways to guess (a Drafter):
// - prompt lookup (`--lookup N`): text often repeats what came before it
//   (summaries, code edits and extraction quote their prompt; stories repeat
//   names and phrases), so the tokens that followed the latest earlier
//   occurrence of the newest n-gram are a free guess;
// - a draft model (`--draft-model F`): a smaller model with the same
//   vocabulary, decoding greedily in a session of its own.
//
// The draws are exactly those of plain decoding, greedy or sampled with a
// seed: every row's logits are the bits a one-row decode step gives (on the
// CPU the pass's 1 + N <= 15 rows take the row kernels, as a decode step
// does, and attention rounds a row alike in any pass), and the sampler is
// asked for the same tokens in the same order. Only the speed depends on
// the guesses.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace scout::engine {

class Session;
class Generation;

// The most tokens a step guesses: with the token drawn, 15 rows, below the
// 16 rows from which the CPU's prompt (panel) kernels would round differently.
constexpr int kMaxDraft = 14;

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Up to max (>= 1) tokens guessed to follow history: the prompt and every
  // token drawn so far, the last of which is not yet evaluated.
  virtual std::vector<int32_t> draft(std::span<const int32_t> history, int max) = 0;
};

// Up to max_draft tokens that followed the most recent earlier occurrence of
// history's last n tokens, trying n = max_ngram down to min_ngram (the
// longest n with a match wins); empty when none occurs.
std::vector<int32_t> lookup_draft(std::span<const int32_t> history, int max_draft, int max_ngram = 3,
                                  int min_ngram = 2);

class LookupDrafter final : public Drafter {
 public:
  std::vector<int32_t> draft(std::span<const int32_t> history, int max) override { return lookup_draft(history, max); }
};

// Greedy guesses of a draft model, in sequence 0 of its own session (same
// vocabulary as the target: check_same_vocabulary). The session keeps what
// it has evaluated and, each step, cuts back to the part history still
// shares and evaluates the rest, so it reads each token once.
class ModelDrafter final : public Drafter {
 public:
  explicit ModelDrafter(Session& session) : session_(session) {}
  std::vector<int32_t> draft(std::span<const int32_t> history, int max) override;

 private:
  Session& session_;
  std::vector<int32_t> held_;  // the tokens sequence 0 of session_ holds
};

// Throws std::runtime_error naming the first difference unless the draft's
// vocabulary is the target's: the same size and the same token texts.
void check_same_vocabulary(const tokenizer::Tokenizer& target, const tokenizer::Tokenizer& draft);

struct SpeculativeStats {
  uint64_t passes = 0;    // verification passes run
  uint64_t drafted = 0;   // tokens guessed
  uint64_t accepted = 0;  // ... and drawn as guessed
};

// Runs g to its end on sequence 0 of session, which holds the prompt and
// every token drawn before `next` (the token to evaluate next); history is
// the prompt and those tokens. Each step guesses up to n_draft (1..kMaxDraft)
// tokens with drafter and checks them in one pass.
void generate_speculative(Session& session, Generation& g, std::vector<int32_t> history, int32_t next, int n_draft,
                          Drafter& drafter, SpeculativeStats& stats);

}  // namespace scout::engine
