// Runs `scout batch` jobs on one loaded model and one session, turning each
// into its result object, or an error object for a job that cannot run.
// Up to n_parallel jobs are in flight, each in its own sequence of the
// session. Each step evaluates pieces of the prompts still in flight, several
// jobs' in one forward pass (oldest job first, up to the batch size), then
// gives every generating job its next token in another shared pass (the
// weights are read once for all of them). A job's prompt is cut into the
// pieces it is cut into alone, and on the CPU each job's rows pick their
// kernels as if alone (Backend::rounds_groups_alone), so per job the math is
// the same at any n_parallel: greedy output does not depend on it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batch/job.h"
#include "chat/chat_template.h"
#include "models/model.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"
#include "vision/image_embedding.h"
#include "vision/media_prompt.h"

namespace scout::batch {

// Run-wide settings; a job's overrides replace them field by field.
struct RunDefaults {
  int64_t max_tokens = 128;
  sampling::SamplerParams sampler;
  bool random_seed = false;  // a fresh random seed per job (unless the job sets one)
  std::vector<std::string> stop;
  bool parse_special = true;  // special-token text in plain prompts becomes those tokens
  std::string chat_template;  // override for "messages" jobs; empty: the model's
  // Images in messages go through this projector (not owned); null: a job with images is an error.
  const vision::VisionEncoder* projector = nullptr;
  vision::VisionLayout layout = vision::VisionLayout::LlamaCpp;
  std::string model_name;  // "model" of Batch response bodies whose request named none
};

// The error object for a job: {"id": ... (null when the line had none),
// "line": its 1-based place in the input (a file's, for a directory), "error": ...};
// for an OpenAI Batch line, its Batch error line (batch/openai_batch.h).
nlohmann::ordered_json error_result(const Job& job, const std::string& message);

class Runner {
 public:
  using Emit = std::function<void(const nlohmann::ordered_json& result)>;

  // n_parallel: jobs in flight at once (sequences of the session; each gets
  // the whole context).
  Runner(const Model& model, const engine::SessionOptions& session, RunDefaults defaults, uint32_t n_parallel = 1);

  // Runs the jobs; emit gets each result in the jobs' order, as soon as it and
  // every job before it are done. A result is {"id", "text", "prompt_tokens",
  // "completion_tokens", "finish_reason" ("stop", "length" or "context"),
  // "seed", "timings"}, or error_result(); for an OpenAI Batch line, its
  // Batch output line (batch/openai_batch.h).
  void run(const std::vector<const Job*>& jobs, const Emit& emit);
  nlohmann::ordered_json run(const Job& job);  // one job on its own

  uint64_t n_ctx() const { return session_.n_ctx(); }
  uint32_t n_parallel() const { return session_.n_seq(); }

  // Forward passes run so far: over prompt pieces (one per step however many
  // jobs' pieces it holds, plus one per image job, and on a GPU one per piece
  // of fewer than 16 tokens), and decode steps.
  struct Passes {
    uint64_t prompt = 0;
    uint64_t decode = 0;
  };
  Passes passes() const { return passes_; }

 private:
  struct Slot;  // a job in flight and its sequence

  // Tokenizes the job and readies its sequence; a prompt with images is
  // evaluated now, on its own. Returns its result when it is over already (an
  // error, or no token to generate); nullopt: it is in flight, with its text
  // prompt to evaluate (slot.prompt) or generating (slot.next is its next token).
  std::optional<nlohmann::ordered_json> start(const Job& job, Slot& slot);
  // One step of prompt evaluation for the active slots not yet generating;
  // `done` gets each slot that ends there (an error; nullopt: it drew no token).
  void prefill(std::vector<Slot>& active, const std::function<void(Slot&, std::optional<nlohmann::ordered_json>)>& done);
  nlohmann::ordered_json finish(Slot& slot);
  // The prompt's tokens and image rows, and the tokenizer whose end-of-generation set applies.
  vision::MediaPrompt prompt_for(const Job& job, const tokenizer::Tokenizer*& tok);
  const chat::ChatTemplate& chat_template();
  sampling::SamplerParams sampler_for(const Job& job) const;

  const Model& model_;
  RunDefaults defaults_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  engine::Session session_;
  int64_t n_batch_;
  Passes passes_;
  // Resolved on the first "messages" job: the template, and a tokenizer that
  // also ends generation at its end-of-turn tokens; or why there is none.
  bool chat_resolved_ = false;
  std::optional<chat::ChatTemplate> template_;
  std::unique_ptr<tokenizer::Tokenizer> chat_tok_;
  std::string chat_error_;
  // response_format json_object's token tables, one per tokenizer, built on first use.
  std::map<const tokenizer::Tokenizer*, std::shared_ptr<const engine::JsonTokenTable>> json_tables_;
};

}  // namespace scout::batch
