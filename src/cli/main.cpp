// `scout`: one binary, one subcommand per workflow. Flags are parsed here and
// in src/cli/<command>.cpp; everything else lives in libscout.
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/device_flags.h"

namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("scout");
  logger->set_pattern("%^[%L]%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

int report_error(const std::string& what) {
  std::fflush(stdout);
  std::fprintf(stderr, "scout: error: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"scout: mixture-of-experts LLM inference (Llama 4 GGUF) on CPU", "scout"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "scout " SCOUT_VERSION);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "stderr log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag_callback("-q,--quiet", [&] { log_level = "warn"; }, "only warnings and errors on stderr");
  app.parse_complete_callback([&] { setup_logging(log_level); });

  scout::cli::add_run_command(app);
  scout::cli::add_chat_command(app);
  scout::cli::add_tokenize_command(app);
  scout::cli::add_detokenize_command(app);
  scout::cli::add_info_command(app);
  scout::cli::add_make_model_command(app);
  scout::cli::add_bench_command(app);
  scout::cli::add_perplexity_command(app);
  scout::cli::add_batch_command(app);
#ifdef SCOUT_HAVE_HTTP
  scout::cli::add_serve_command(app);
#endif

  // llama.cpp's single-dash long flags (-ngl) as scout's long ones.
  const std::vector<std::string> args = scout::cli::expand_flag_aliases(argc, argv);
  std::vector<char*> argp;
  for (const std::string& a : args) argp.push_back(const_cast<char*>(a.c_str()));
  try {
    app.parse(static_cast<int>(argp.size()), argp.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return report_error(std::string(e.what()) + " (see scout --help)");
  } catch (const std::exception& e) {
    return report_error(e.what());
  }
  return 0;
}
