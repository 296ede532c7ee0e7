// `scout chat`: a conversation with a model in the terminal, or driven by a
// script through a pipe. Replies stream to stdout; the prompt marker ("> ",
// only when stdin is a terminal), notices and command output go to stderr, so
// stdout holds exactly the replies, each followed by a line break.
//
// Input: one line is one message; a line ending in '\' continues on the next;
// on a terminal, a paste of several lines is one message. Lines starting with
// '/' are commands (/help lists them; "//" sends a message starting with '/').
// Ctrl-C stops the reply being written (the conversation goes on), Ctrl-D ends.
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "chat/chat_session.h"
#include "chat/chat_template.h"
#include "chat/conversation.h"
#include "chat/line_reader.h"
#include "chat/turn_end_tokenizer.h"
#include "cli/command.h"
#include "cli/session_flags.h"
#include "cli/sampling_flags.h"
#include "cli/size_arg.h"
#include "cli/vision_flags.h"
#include "models/model.h"
#include "engine/generate.h"
#include "engine/kv_snapshot.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"
#include "vision/image.h"
#include "vision/media_prompt.h"

namespace scout::cli {

namespace {

struct ChatOptions {
  std::string model;
  std::string system;
  std::string chat_template;
  int64_t n_predict = 512;
  SessionFlags session;
  SamplingFlags sampling;
  VisionFlags vision;
};

// Set by Ctrl-C; generation asks between tokens, the line reader while waiting.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Ctrl-C handling for the life of an interactive chat; the old handler comes back after.
class SigintHandler {
 public:
  SigintHandler() {
    struct sigaction sa = {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // reads and writes carry on; the reader polls the flag
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintHandler() { sigaction(SIGINT, &old_, nullptr); }
  SigintHandler(const SigintHandler&) = delete;
  SigintHandler& operator=(const SigintHandler&) = delete;

 private:
  struct sigaction old_ = {};
};

constexpr const char* kHelp =
    "commands:\n"
    "  /help         this text\n"
    "  /reset        forget the conversation (the system prompt stays)\n"
    "  /save FILE    write the conversation as JSON {\"system\": ..., \"messages\": [...]}, its KV cache to FILE.kv\n"
    "  /load FILE    continue a saved conversation (from its KV cache when FILE.kv is there and fits)\n"
    "  /stats        tokens in the context and what the last turn evaluated\n"
    "  /image FILE   attach an image to the next message (with --mmproj; repeatable)\n"
    "  /exit         leave (as does Ctrl-D)\n"
    "input: a line is a message; end a line with \\ to continue it; a pasted block is one message;\n"
    "       start a message with // to send one beginning with /. Ctrl-C stops a reply.\n";

class ChatRepl {
 public:
  ChatRepl(const ChatOptions& o, engine::Session& session, const tokenizer::Tokenizer& tok, chat::ChatTemplate tmpl,
           chat::ChatVision vision, bool interactive)
      : o_(o), session_(session), chat_(session, tok, tmpl, vision), vision_(vision.encoder != nullptr),
        interactive_(interactive) {
    conv_.system = o.system;
    sampler_ = sampler_params(o.sampling);  // draws the seed once when it is -1
    seed_ = sampler_.seed;
  }

  void run() {
    chat::LineReader reader(STDIN_FILENO, interactive_, &g_interrupted);
    if (interactive_)
      note(fmt::format("scout chat: template {}, context {} tokens, seed {}. /help lists commands; Ctrl-C stops a "
                       "reply, Ctrl-D exits.",
                       chat_.chat_template().name(), session_.n_ctx(), seed_));
    for (;;) {
      if (interactive_) prompt("> ");
      std::string msg;
      const auto status = reader.read_message(msg, [&] {
        if (interactive_) prompt("... ");
      });
      if (status == chat::LineReader::Status::EndOfInput) break;
      if (status == chat::LineReader::Status::Interrupted) {
        g_interrupted.store(false);
        prompt("\n");
        continue;
      }
      if (chat::trim(msg).empty()) continue;
      if (msg[0] == '/') {
        if (msg.rfind("//", 0) != 0) {
          if (!command(msg)) return;
          continue;
        }
        msg.erase(0, 1);
      }
      respond(std::move(msg));
    }
    if (interactive_) prompt("\n");
  }

 private:
  static void note(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }
  static void prompt(const char* text) {
    std::fputs(text, stderr);
    std::fflush(stderr);
  }

  // A problem with one command or message: the session goes on at a
  // terminal; a script gets the usual error and exit code.
  void report(const std::exception& e) {
    if (!interactive_) throw;
    note(fmt::format("scout: {}", e.what()));
  }

  engine::GenerateOptions generate_options() {
    engine::GenerateOptions go;
    go.max_tokens = o_.n_predict;
    go.sampler = sampler_;
    go.sampler.seed = seed_ + turns_;  // a fresh draw each turn, reproducible from the seed
    go.should_stop = [] { return g_interrupted.load(); };
    return go;
  }

  void respond(std::string msg) {
    // Attached images go first in the message, or at its <__media__> markers.
    std::vector<std::string> images = std::move(staged_);
    staged_.clear();
    try {
      msg = vision::place_media_markers(msg, images.size());
    } catch (const std::runtime_error& e) {
      staged_ = std::move(images);  // kept for the corrected message
      report(e);
      return;
    }
    conv_.messages.push_back({"user", std::move(msg), std::move(images)});
    g_interrupted.store(false);  // a Ctrl-C before Enter was meant for the input
    auto stream = [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    };
    try {
      const engine::GenerateResult r = chat_.respond(conv_, generate_options(), stream);
      ++turns_;
      stream("\n");
      if (r.stop_reason == engine::StopReason::Cancelled) {
        g_interrupted.store(false);
        note("(reply stopped)");
      } else if (r.stop_reason == engine::StopReason::ContextFull) {
        note("(the context is full: older messages make room on the next turn)");
      }
      spdlog::debug("reply: {} tokens, {:.1f} tok/s, stop: {}", r.ids.size(), r.generated_tokens_per_second(),
                    engine::finish_reason(r.stop_reason));
    } catch (const std::runtime_error& e) {
      if (!conv_.messages.empty() && conv_.messages.back().role == "user") {
        // Its images stay attached for the next try.
        if (!conv_.messages.back().images.empty()) {
          staged_ = std::move(conv_.messages.back().images);
          note(fmt::format("({} image{} still attached to the next message)", staged_.size(), staged_.size() == 1 ? "" : "s"));
        }
        conv_.messages.pop_back();
      }
      report(e);
    }
  }

  // Runs a /command; false when the chat should end.
  bool command(const std::string& line) {
    const size_t space = line.find(' ');
    const std::string name = line.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : chat::trim(line.substr(space + 1));
    try {
      if (name == "/exit" || name == "/quit") return false;
      if (name == "/help") {
        std::fputs(kHelp, stderr);
      } else if (name == "/image") {
        if (arg.empty()) throw std::runtime_error("/image needs a file name");
        if (!vision_) throw std::runtime_error("/image needs a vision projector: start scout chat with --mmproj FILE");
        // Read now, so a file that is not an image says so at once; encoded with the message.
        vision::load_image(arg);
        staged_.push_back(arg);
        note(fmt::format("{} attached to the next message ({} image{})", arg, staged_.size(),
                         staged_.size() == 1 ? "" : "s"));
      } else if (name == "/reset") {
        staged_.clear();
        conv_.messages.clear();
        chat_.reset();
        note("conversation cleared");
      } else if (name == "/save" || name == "/load") {
        if (arg.empty()) throw std::runtime_error(name + " needs a file name");
        // The conversation as JSON in FILE, and the session's KV cache in FILE.kv.
        const std::string kv = arg + ".kv";
        if (name == "/save") {
          conv_.save(arg);
          const bool with_kv = chat_.save_kv(kv, conv_);
          note(fmt::format("saved {} messages to {}{}", conv_.messages.size(), arg,
                           with_kv ? fmt::format(" and their KV cache ({} tokens) to {}", chat_.held_tokens().size(), kv)
                                   : ""));
        } else {
          conv_ = chat::Conversation::load(arg);
          std::string how = "; the next turn evaluates them";
          if (std::filesystem::exists(kv)) {
            try {
              chat_.load_kv(kv, conv_);
              how = fmt::format(" and their KV cache ({} tokens) from {}", chat_.held_tokens().size(), kv);
            } catch (const engine::SnapshotError& e) {
              how = fmt::format("; {} not used ({}): the next turn evaluates them", kv, e.what());
            }
          }
          note(fmt::format("loaded {} messages from {}{}", conv_.messages.size(), arg, how));
        }
      } else if (name == "/stats") {
        const chat::TurnStats& s = chat_.last_turn();
        note(fmt::format("context: {} of {} tokens; last turn: {} evaluated, {} reused{}; {} messages",
                         chat_.held_tokens().size(), session_.n_ctx(), s.evaluated, s.reused,
                         s.full_prompt ? " (whole conversation)" : "", conv_.messages.size()));
      } else {
        throw std::runtime_error(fmt::format("unknown command '{}' (/help lists them)", name));
      }
    } catch (const std::runtime_error& e) {
      report(e);
    }
    return true;
  }

  const ChatOptions& o_;
  engine::Session& session_;
  chat::ChatSession chat_;
  bool vision_;                     // images can be attached
  std::vector<std::string> staged_;  // /image files for the next message
  chat::Conversation conv_;
  bool interactive_;
  sampling::SamplerParams sampler_;
  uint64_t seed_ = 0;
  uint64_t turns_ = 0;
};

void run_chat(const ChatOptions& o) {
  const std::string path = o.model.empty() ? default_model_path() : o.model;
  std::unique_ptr<Model> model = o.session.load_model(path);
  const chat::ChatTemplate tmpl = chat::ChatTemplate::for_model(model->file(), o.chat_template);
  std::unique_ptr<tokenizer::Tokenizer> tok =
      chat::stop_at_turn_end(tokenizer::Tokenizer::from_gguf(model->file()), tmpl);

  const engine::SessionOptions so =
      o.session.options(model->hparams().context_length);
  engine::Session session(*model, so);
  const std::unique_ptr<vision::VisionEncoder> projector = load_projector(*model, *tok, o.vision, o.session.threads);

  const bool interactive = isatty(STDIN_FILENO);
  std::optional<SigintHandler> sigint;
  if (interactive) sigint.emplace();  // a script's Ctrl-C still ends it
  ChatRepl(o, session, *tok, tmpl, {projector.get(), o.vision.vision_layout()}, interactive).run();
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model: interactive at a terminal, line by line from a pipe");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("--chat-template", o->chat_template,
                  "chat format: llama4, llama3, llama2, chatml, mistral (default: from the model)");
  cmd->add_option("-n,--n-predict", o->n_predict, "most tokens per reply; -1: until end of turn or a full context")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  add_session_flags(cmd, o->session);
  add_sampling_flags(cmd, o->sampling);
  add_vision_flags(cmd, o->vision, /*with_images=*/false);
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace scout::cli
