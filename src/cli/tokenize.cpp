// `scout tokenize` and `scout detokenize`: a model's tokenizer from the shell,
// for scripts. Only the vocabulary is read, not the weights.
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/command.h"
#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace scout::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool ids = false;
  bool pieces = false;
  bool count = false;
  bool special = false;
  bool no_bos = false;
  bool json = false;
};

struct DetokenizeOptions {
  std::string model;
  std::vector<std::string> ids;
  bool no_special = false;
};

std::string read_all(std::istream& in) { return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}; }

std::string read_text(const TokenizeOptions& o, CLI::App* cmd) {
  if (cmd->count("--prompt") && cmd->count("--file")) throw UsageError("give either -p or -f, not both");
  if (cmd->count("--prompt")) return o.prompt;
  if (cmd->count("--file")) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) throw std::runtime_error(o.file + ": cannot read the text file");
    return read_all(in);
  }
  if (!isatty(STDIN_FILENO)) return read_all(std::cin);
  throw UsageError("give the text with -p TEXT or -f FILE (or on stdin)");
}

// A token's bytes on one line: line breaks, tabs, backslashes, other control
// bytes and bytes that are not whole UTF-8 characters are escaped (\n, \t, \\, \xNN).
std::string escape_piece(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      const size_t n = tokenizer::utf8_char_length(bytes, i);
      if (n > 0) {
        out.append(bytes.substr(i, n));
        i += n;
        continue;
      }
    }
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
    ++i;
  }
  return out;
}

struct LoadedTokenizer {
  gguf::GgufFile file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

LoadedTokenizer load_tokenizer(const std::string& model) {
  gguf::GgufFile file = gguf::GgufFile::open(model.empty() ? default_model_path() : model);
  std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(file);
  return {std::move(file), std::move(tok)};
}

void tokenize(const TokenizeOptions& o, CLI::App* cmd) {
  const std::string text = read_text(o, cmd);
  const LoadedTokenizer t = load_tokenizer(o.model);
  const std::vector<int32_t> ids = t.tok->encode(text, t.tok->add_bos() && !o.no_bos, o.special);

  if (o.json) {
    nlohmann::json j = {{"count", ids.size()}};
    if (!o.count) j["ids"] = ids;
    if (o.pieces) {
      nlohmann::json pieces = nlohmann::json::array();
      for (int32_t id : ids) pieces.push_back(t.tok->token_bytes(id));
      j["pieces"] = std::move(pieces);
    }
    // A piece can be part of a UTF-8 character: such bytes are replaced.
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (o.count) {
    fmt::print("{}\n", ids.size());
  } else if (o.pieces) {
    for (int32_t id : ids) fmt::print("{}\t{}\n", id, escape_piece(t.tok->token_bytes(id)));
  } else {
    fmt::print("{}\n", fmt::join(ids, " "));
  }
}

// Ids are integers separated by white space or commas; brackets are ignored,
// so a JSON array works too.
std::vector<std::string> split_ids(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void detokenize(const DetokenizeOptions& o) {
  std::vector<std::string> words;
  for (const std::string& a : o.ids)
    for (std::string& w : split_ids(a)) words.push_back(std::move(w));
  if (o.ids.empty()) words = split_ids(read_all(std::cin));
  const LoadedTokenizer t = load_tokenizer(o.model);

  // Every id is checked before anything is printed.
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    int64_t id = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), id);
    if (ec != std::errc() || end != w.data() + w.size()) throw std::runtime_error(fmt::format("'{}' is not a token id", w));
    if (id < 0 || static_cast<uint64_t>(id) >= t.tok->n_vocab())
      throw std::runtime_error(fmt::format("token id {} is out of the vocabulary ({} tokens)", id, t.tok->n_vocab()));
    ids.push_back(static_cast<int32_t>(id));
  }
  const std::string text = t.tok->decode(ids, !o.no_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  // The text exactly as the ids stand for it; a terminal gets a line break too.
  if (isatty(STDOUT_FILENO)) std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (-p, -f or stdin)");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("-p,--prompt", o->prompt, "the text");
  cmd->add_option("-f,--file", o->file, "read the text from a file (raw bytes)");
  CLI::Option* ids = cmd->add_flag("--ids", o->ids, "print the ids, space-separated (the default)");
  CLI::Option* pieces = cmd->add_flag("--pieces", o->pieces, "print one token a line: id, tab, its text (escaped)");
  CLI::Option* count = cmd->add_flag("--count", o->count, "print only the number of tokens");
  ids->excludes(pieces)->excludes(count);
  pieces->excludes(count);
  cmd->add_flag("--special", o->special, "the text of special tokens (<|eot|>, <s>) becomes those tokens");
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token the vocabulary asks for");
  cmd->add_flag("--json", o->json, "print a JSON object: count, ids (and pieces with --pieces)");
  cmd->callback([o, cmd] { tokenize(*o, cmd); });
}

void add_detokenize_command(CLI::App& app) {
  auto o = std::make_shared<DetokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Print the text of token ids (arguments, or stdin)");
  cmd->add_option("-m,--model", o->model, "GGUF file (default: the embedded default model)");
  cmd->add_option("ids", o->ids, "token ids (none: read them from stdin)");
  cmd->add_flag("--no-special", o->no_special, "leave out the text of special tokens");
  cmd->callback([o] { detokenize(*o); });
}

}  // namespace scout::cli
