// `scout make-model`: writes a random-weight model from a preset or a JSON
// config, with flags for the common overrides and --set for any field; with
// --mmproj-preset or --mmproj-config, a Llama 4 vision projector instead.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "maker/mmproj_maker.h"
#include "maker/model_config.h"
#include "maker/model_maker.h"

namespace scout::cli {

namespace {

struct MakeModelArgs {
  std::string preset;
  std::string config;
  std::string mmproj_preset;
  std::string mmproj_config;
  std::string output;
  uint64_t seed = 1;
  std::string type;
  std::optional<uint32_t> layers;
  std::string vocab;
  std::optional<uint64_t> max_ranks;
  bool no_data = false;
  std::vector<std::string> sets;
  bool list_presets = false;
};

void list_presets() {
  for (const std::string& name : maker::preset_names()) {
    const nlohmann::json j = maker::preset_json(name);
    const maker::ModelConfig c = maker::parse_model_config(j);
    std::cout << name << ": " << c.arch << ", " << c.n_layer << " layers, d_model " << c.d_model << ", "
              << c.n_expert << " experts, " << type_name(c.weight_type) << ", vocab "
              << (c.vocab.builtin ? std::string("builtin") : c.vocab.tiktoken) << "\n";
  }
  for (const std::string& name : maker::mmproj_preset_names()) {
    const maker::MmprojConfig c = maker::parse_mmproj_config(maker::mmproj_preset_json(name));
    const vision::VisionHparams& h = c.hp;
    std::cout << name << " (--mmproj-preset): llama4 vision projector, " << h.n_layer << " layers, width " << h.width
              << " (" << h.n_head << " heads), ff " << h.ff << ", adapter " << h.adapter << ", output width "
              << h.out_width << ", " << type_name(c.weight_type) << "\n";
  }
}

// The projector's config: the preset or file, --type, --layers and --set.
nlohmann::json build_mmproj_config(const MakeModelArgs& a) {
  if (!a.vocab.empty() || a.max_ranks) throw UsageError("--vocab and --max-ranks are for text models, not --mmproj-*");
  nlohmann::json j =
      a.mmproj_preset.empty() ? maker::read_config_file(a.mmproj_config) : maker::mmproj_preset_json(a.mmproj_preset);
  if (!j.is_object()) throw UsageError("the mmproj config must be a JSON object");
  if (!a.type.empty()) j["weight_type"] = a.type;
  if (a.layers) j["n_layer"] = *a.layers;
  for (const std::string& s : a.sets) maker::apply_setting(j, s);
  return j;
}

nlohmann::json build_config(const MakeModelArgs& a) {
  nlohmann::json j = a.preset.empty() ? maker::read_config_file(a.config) : maker::preset_json(a.preset);
  if (!j.is_object()) throw UsageError("the config must be a JSON object");
  if (!a.type.empty()) j["weight_type"] = a.type;
  if (a.layers) j["n_layer"] = *a.layers;
  if (a.vocab == "builtin") {
    if (a.max_ranks) throw UsageError("--max-ranks needs a tiktoken --vocab, not 'builtin'");
    j["vocab"] = {{"builtin", true}};
  } else if (!a.vocab.empty()) {
    // A new path keeps the config's truncation (the tiny preset's 4096 ranks).
    nlohmann::json v = {{"tiktoken", a.vocab}};
    if (j.contains("vocab") && j["vocab"].is_object() && j["vocab"].contains("max_ranks"))
      v["max_ranks"] = j["vocab"]["max_ranks"];
    j["vocab"] = v;
  }
  if (a.max_ranks) {
    if (!j.contains("vocab") || !j["vocab"].is_object() || !j["vocab"].contains("tiktoken"))
      throw UsageError("--max-ranks needs a tiktoken vocabulary (--vocab PATH)");
    j["vocab"]["max_ranks"] = *a.max_ranks;
  }
  for (const std::string& s : a.sets) maker::apply_setting(j, s);
  return j;
}

void run(const MakeModelArgs& a) {
  if (a.list_presets) {
    list_presets();
    return;
  }
  const int sources = !a.preset.empty() + !a.config.empty() + !a.mmproj_preset.empty() + !a.mmproj_config.empty();
  if (sources != 1)
    throw UsageError("make-model needs exactly one of --preset and --config (a text model), "
                     "--mmproj-preset and --mmproj-config (a vision projector)");
  if (a.output.empty()) throw UsageError("make-model needs -o/--output FILE");
  if (!a.mmproj_preset.empty() || !a.mmproj_config.empty()) {
    maker::make_mmproj(maker::parse_mmproj_config(build_mmproj_config(a)), a.seed, a.output, a.no_data);
    return;
  }

  const maker::ModelConfig cfg = maker::parse_model_config(build_config(a));
  if (!cfg.vocab.builtin && !std::filesystem::exists(cfg.vocab.tiktoken))
    throw std::runtime_error("vocabulary file '" + cfg.vocab.tiktoken + "' not found (relative paths are resolved " +
                             "against the current directory, " + std::filesystem::current_path().string() +
                             "); pass --vocab PATH or --vocab builtin");
  maker::make_model(cfg, a.seed, a.output, a.no_data);
}

}  // namespace

void add_make_model_command(CLI::App& app) {
  auto args = std::make_shared<MakeModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "make-model", "Write a random-weight Llama 4 / Llama GGUF model, or a Llama 4 vision projector (mmproj)");
  auto* preset = cmd->add_option("--preset", args->preset, "Built-in preset (see --list-presets)");
  auto* config = cmd->add_option("--config", args->config, "Model config JSON file");
  auto* mmproj_preset = cmd->add_option("--mmproj-preset", args->mmproj_preset,
                                        "Write a Llama 4 vision projector (mmproj) from a built-in shape: scout, tiny");
  auto* mmproj_config = cmd->add_option("--mmproj-config", args->mmproj_config,
                                        "Write a vision projector from a JSON config (fields: see --mmproj-preset's)");
  preset->excludes(config);
  for (auto* o : {preset, config}) o->excludes(mmproj_preset)->excludes(mmproj_config);
  mmproj_preset->excludes(mmproj_config);
  cmd->add_option("-o,--output", args->output, "Output GGUF file");
  cmd->add_option("--seed", args->seed, "Random seed (same seed, same bytes)")->capture_default_str();
  cmd->add_option("--type", args->type, "Weight type (f16, bf16, q8_0, q4_K, ...)");
  cmd->add_option("--layers", args->layers, "Number of layers (of the vision encoder with --mmproj-*)");
  cmd->add_option("--vocab", args->vocab, "tiktoken vocabulary file, or 'builtin'");
  cmd->add_option("--max-ranks", args->max_ranks, "Keep only the first N BPE ranks of the vocabulary");
  cmd->add_flag("--no-data", args->no_data, "Leave tensor data as a hole (sparse file; headers only)");
  cmd->add_option("--set", args->sets,
                  "Override a config field: KEY=VALUE (repeatable; JSON values; a projector's output width: "
                  "out_width=D_MODEL)")
      ->allow_extra_args(false);
  cmd->add_flag("--list-presets", args->list_presets, "List the built-in presets and exit");
  cmd->callback([args] { run(*args); });
}

}  // namespace scout::cli
