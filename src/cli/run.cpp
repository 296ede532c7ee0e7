// `scout run`: one prompt in, generated text streamed to stdout.
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "chat/chat_prompt.h"
#include "chat/chat_template.h"
#include "chat/turn_end_tokenizer.h"
#include "cli/vision_flags.h"
#include "cli/command.h"
#include "cli/session_flags.h"
#include "cli/sampling_flags.h"
#include "cli/size_arg.h"
#include "models/model.h"
#include "engine/generate.h"
#include "engine/kv_snapshot.h"
#include "engine/speculative.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"
#include "vision/media_prompt.h"

namespace scout::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  SessionFlags session;
  SamplingFlags sampling;
  std::vector<std::string> stop;
  bool special = false;
  bool show_special = false;
  bool ignore_eos = false;
  bool truncate = false;
  bool json = false;
  bool chat = false;
  std::string system;
  std::string chat_template;
  std::string prompt_cache;
  int lookup = 0;
  std::string draft_model;
  int draft_max = 8;
  VisionFlags vision;
};

std::string read_prompt(const RunOptions& o, CLI::App* cmd) {
  if (cmd->count("--prompt") && cmd->count("--file")) throw UsageError("give either -p or -f, not both");
  if (cmd->count("--prompt")) return o.prompt;
  if (cmd->count("--file")) {
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in) throw std::runtime_error(o.prompt_file + ": cannot read the prompt file");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  if (!isatty(STDIN_FILENO)) return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return {};  // an empty prompt: generate from BOS alone
}

// A prompt that does not fit is an error unless --truncate: then its start is
// dropped (keeping BOS) so that max(n_predict, 1) tokens still fit, up to half the context.
void fit_prompt(std::vector<int32_t>& ids, uint64_t n_ctx, const RunOptions& o, int32_t bos) {
  if (ids.size() < n_ctx) return;
  if (!o.truncate)
    throw std::runtime_error(fmt::format("prompt of {} tokens does not fit the context of {} (use a larger -c, or --truncate)",
                                         ids.size(), n_ctx));
  const uint64_t room = std::clamp<uint64_t>(o.n_predict > 0 ? static_cast<uint64_t>(o.n_predict) : n_ctx / 2, 1, n_ctx / 2);
  const uint64_t keep = n_ctx - room;
  const bool has_bos = !ids.empty() && ids[0] == bos;
  std::vector<int32_t> kept;
  if (has_bos) kept.push_back(bos);
  kept.insert(kept.end(), ids.end() - static_cast<std::ptrdiff_t>(keep - kept.size()), ids.end());
  spdlog::warn("prompt of {} tokens truncated to its last {} to fit the context of {}", ids.size(), kept.size(), n_ctx);
  ids = std::move(kept);
}

// --prompt-cache FILE: when FILE holds this model's cache of a prefix of the
// prompt, load it and evaluate only the rest; otherwise evaluate the whole
// prompt. Either way FILE then holds the whole prompt's cache. Returns the
// logits after the prompt. A file that cannot be used is one warning; one
// that cannot be written is one warning too (the run goes on).
std::vector<float> evaluate_with_prompt_cache(engine::Session& session, std::span<const int32_t> ids,
                                              const std::string& path) {
  size_t have = 0;
  bool keep_file = false;  // another model's cache: used by its own runs, not replaced
  std::vector<float> logits;
  if (std::filesystem::exists(path)) {
    try {
      engine::LoadedSnapshot snap = engine::load_snapshot(path, session, 0);
      // (A cache without logits, a chat's, serves a longer prompt only.)
      const bool fits = snap.tokens.size() < ids.size() || (snap.tokens.size() == ids.size() && !snap.logits.empty());
      if (fits && std::equal(snap.tokens.begin(), snap.tokens.end(), ids.begin())) {
        have = snap.tokens.size();
        logits = std::move(snap.logits);
      } else {
        session.reset();
        spdlog::info("prompt cache {}: holds another prompt; evaluating this one and replacing it", path);
      }
    } catch (const engine::SnapshotError& e) {
      session.reset();
      keep_file = e.foreign;
      spdlog::warn("prompt cache {}: {}; evaluating the prompt instead{}", path, e.what(),
                   keep_file ? " (the file is left as it is)" : "");
    }
  }
  spdlog::info("prompt cache {}: {} of {} prompt tokens loaded, {} to evaluate", path, have, ids.size(), ids.size() - have);
  if (have == ids.size()) return logits;
  logits = session.eval(ids.subspan(have));
  if (keep_file) return logits;
  try {
    engine::save_snapshot(path, session, 0, ids, logits);
  } catch (const std::exception& e) {
    spdlog::warn("prompt cache {}: not saved: {}", path, e.what());
  }
  return logits;
}

void run(const RunOptions& o, CLI::App* cmd) {
  using Clock = std::chrono::steady_clock;
  const std::string prompt = read_prompt(o, cmd);
  // Without -m: the trained stories260K for plain text; the Llama 4 default
  // for --chat and images (stories260K has no chat template, no image tokens).
  const std::string path = !o.model.empty()           ? o.model
                           : o.chat || o.vision.any() ? default_model_path()
                                                      : default_text_model_path();

  const auto t_load = Clock::now();
  std::unique_ptr<Model> model = o.session.load_model(path);
  std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(model->file());
  const double load_seconds = std::chrono::duration<double>(Clock::now() - t_load).count();

  const engine::SessionOptions so =
      o.session.options(model->hparams().context_length);
  engine::Session session(*model, so);
  // --draft-model: a second model (same vocabulary) in a session of its own.
  std::unique_ptr<Model> draft_model;
  std::optional<engine::Session> draft_session;
  if (!o.draft_model.empty()) {
    if (o.lookup > 0) throw UsageError("give either --lookup or --draft-model, not both");
    draft_model = o.session.load_model(o.draft_model);
    engine::check_same_vocabulary(*tok, *tokenizer::Tokenizer::from_gguf(draft_model->file()));
    if (draft_model->hparams().n_vocab != model->hparams().n_vocab)
      throw std::runtime_error(fmt::format("the draft model has {} output rows, the model {}: they must be the same",
                                           draft_model->hparams().n_vocab, model->hparams().n_vocab));
    draft_session.emplace(*draft_model, so);
  }

  if (o.vision.any() && !o.prompt_cache.empty()) throw UsageError("--prompt-cache does not take images yet");
  if (o.vision.any() && o.truncate) throw UsageError("--truncate does not cut prompts with images");
  const std::unique_ptr<vision::VisionEncoder> projector = load_projector(*model, *tok, o.vision, o.session.threads);
  const std::vector<vision::EncodedImage> images = encode_images(projector.get(), o.vision);

  // --chat (and always with images): the prompt is the user's message in the
  // model's chat format; the rendered text carries its own BOS text, so no
  // second BOS is added.
  const std::optional<chat::ChatTemplate> tmpl = o.chat || o.vision.any()
                                                     ? std::optional(chat::ChatTemplate::for_model(model->file(), o.chat_template))
                                                     : std::nullopt;
  if (tmpl) tok = chat::stop_at_turn_end(std::move(tok), *tmpl);
  // With images: text and image rows (vision/media_prompt.h), evaluated here.
  std::optional<vision::MediaPrompt> media;
  if (o.vision.any()) {
    media = vision::build_media_prompt(
        *tok, tmpl->render(chat::single_turn(o.system, vision::place_media_markers(prompt, images.size()))),
        vision::pointers_to(images), model->hparams().d_model, o.vision.vision_layout());
    if (static_cast<uint64_t>(media->n_positions()) >= session.n_ctx())
      throw std::runtime_error(fmt::format("prompt of {} positions (images included) does not fit the context of {}",
                                           media->n_positions(), session.n_ctx()));
  }
  std::vector<int32_t> ids = media  ? media->text_tokens()
                             : tmpl ? chat::encode_chat_text(*tok, tmpl->render(chat::single_turn(o.system, prompt)))
                                    : tok->encode(prompt, tok->add_bos(), o.special);
  if (ids.empty()) throw std::runtime_error("the prompt is empty and the vocabulary adds no BOS token: nothing to start from");
  if (!media) fit_prompt(ids, session.n_ctx(), o, tok->bos());

  engine::GenerateOptions go;
  go.max_tokens = o.n_predict;
  go.stop = o.stop;
  go.ignore_eog = o.ignore_eos;
  go.render_specials = o.show_special;
  go.sampler = sampler_params(o.sampling);
  go.draft_max = draft_session ? o.draft_max : o.lookup;
  go.draft_session = draft_session ? &*draft_session : nullptr;

  auto stream = [&](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  std::vector<float> prompt_logits;
  double cached_prompt_seconds = 0;
  if (!o.prompt_cache.empty() || media) {
    const auto t0 = Clock::now();
    prompt_logits = media ? vision::eval_media_prompt(session, *media)
                          : evaluate_with_prompt_cache(session, ids, o.prompt_cache);
    cached_prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  engine::GenerateResult r = engine::generate(session, *tok, ids, go,
                                              o.json ? std::function<void(std::string_view)>() : stream, prompt_logits);
  if (!o.prompt_cache.empty() || media) r.prompt_seconds = cached_prompt_seconds;
  if (media) r.prompt_ids = media->positions();  // one per position, -1 for image rows

  if (o.json) {
    nlohmann::json j = {{"model", path},
                        {"text", r.text},
                        {"prompt_ids", r.prompt_ids},
                        {"ids", r.ids},
                        {"finish_reason", engine::finish_reason(r.stop_reason)},
                        {"seed", go.sampler.seed},
                        {"timings",
                         {{"load_ms", load_seconds * 1e3},
                          {"prompt_ms", r.prompt_seconds * 1e3},
                          {"prompt_tokens_per_s", r.prompt_tokens_per_second()},
                          {"generate_ms", r.generate_seconds * 1e3},
                          {"generate_tokens_per_s", r.generated_tokens_per_second()}}}};
    if (go.draft_max > 0) j["speculative"] = {{"drafted", r.drafted_tokens}, {"accepted", r.accepted_tokens}};
    // Invalid UTF-8 (random models emit any bytes) is replaced, not fatal.
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    stream("\n");
  }
  spdlog::info("prompt: {} tokens, {:.1f} tok/s | generated: {} tokens, {:.1f} tok/s | load {:.0f} ms | stop: {} | seed {}",
               r.prompt_ids.size(), r.prompt_tokens_per_second(), r.ids.size(), r.generated_tokens_per_second(),
               load_seconds * 1e3, engine::finish_reason(r.stop_reason), go.sampler.seed);
  if (go.draft_max > 0)
    spdlog::info("{}: {} of {} guessed tokens drawn ({:.0f}%)", draft_session ? "draft model" : "lookup",
                 r.accepted_tokens, r.drafted_tokens,
                 r.drafted_tokens ? 100.0 * static_cast<double>(r.accepted_tokens) / static_cast<double>(r.drafted_tokens)
                                  : 0.0);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (-p, -f or stdin), streamed to stdout");
  cmd->add_option("-m,--model", o->model,
                  "GGUF file (default: the bundled stories260K, a tiny trained story model; with --chat, "
                  "--mmproj or --image: the embedded random-weight Llama 4 default model)");
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate; -1: until end of generation or a full context")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  add_session_flags(cmd, o->session);
  add_sampling_flags(cmd, o->sampling);
  add_vision_flags(cmd, o->vision);
  cmd->add_option("--stop", o->stop, "stop when this text is generated (repeatable); it is not printed");
  cmd->add_flag("--special", o->special,
                "parse special-token text in the prompt (\"<|eot|>\") into those tokens; --chat always does");
  cmd->add_flag("--show-special", o->show_special, "print special tokens' text in the output");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_flag("--truncate", o->truncate, "drop the start of a prompt too long for the context instead of failing");
  cmd->add_flag("--json", o->json, "print one JSON object: text, token ids, timings, stop reason");
  cmd->add_option("--lookup", o->lookup,
                  "speculative decoding by prompt lookup: guess up to N tokens a step from earlier text (the prompt "
                  "and the output) and check them in one pass; the output is the same as without")
      ->check(CLI::Range(0, engine::kMaxDraft));
  CLI::Option* draft_model = cmd->add_option("--draft-model", o->draft_model,
                  "speculative decoding with a draft model: a smaller GGUF with the same vocabulary guesses "
                  "--draft-max tokens a step, checked in one pass; the output is the same as without");
  cmd->add_option("--draft-max", o->draft_max, "with --draft-model: the most tokens guessed a step")
      ->check(CLI::Range(1, engine::kMaxDraft))
      ->needs(draft_model)
      ->capture_default_str();
  cmd->add_option("--prompt-cache", o->prompt_cache,
                  "keep the prompt's KV cache in FILE: when FILE holds this model's cache of a prefix of the prompt, "
                  "only the rest is evaluated; FILE then holds the whole prompt's");
  CLI::Option* chat = cmd->add_flag("--chat", o->chat, "the prompt is a user message: apply the model's chat template");
  cmd->add_option("--system", o->system, "system prompt (with --chat)")->needs(chat);
  cmd->add_option("--chat-template", o->chat_template, "chat format: llama4, llama3, llama2, chatml, mistral (with --chat)")
      ->needs(chat);
  cmd->callback([o, cmd] { run(*o, cmd); });
}

}  // namespace scout::cli
