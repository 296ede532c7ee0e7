// Images through `scout chat` (/image, kept across turns, /save and /load),
// `scout batch` (OpenAI content parts: data: URIs and relative paths, a bad
// image as that line's error) and `scout run --vision-layout meta`, end to
// end on the shared tiny models. Greedy text must be the same whichever way
// the same image and question come in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "test_util.h"

namespace scout {
namespace {

using test::CommandResult;
using test::run_scout;

std::string tiny_model() { return test::shared_dir() + "/testdata/llama4-tiny/llama4-tiny-f16.gguf"; }
std::string mmproj() { return test::vision_oracle_dir() + "mmproj-llama4-vision-tiny-f16.gguf"; }
std::string grad() { return test::vision_oracle_dir() + "images/grad-256x192.png"; }

// `scout run --image grad -p PROMPT`, greedy: the reference the others must match.
nlohmann::json run_grad(const std::string& prompt, int n) {
  const CommandResult r = run_scout({"run", "-m", tiny_model(), "--mmproj", mmproj(), "--image", grad(), "-p", prompt,
                                     "--temp", "0", "-n", std::to_string(n), "--json", "-t", "2", "-c", "2048"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(VisionBatch, ContentPartsWithErrorsPerLine) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const nlohmann::json want = run_grad("Describe this image.", 6);
  test::TempDir dir;
  std::filesystem::create_directory(dir.path("img"));
  std::filesystem::copy_file(grad(), dir.path("img/grad.png"));
  const std::string uri = "data:image/png;base64," + test::base64(test::read_file(grad()));
  auto line = [](const std::string& id, const std::string& url) {
    return nlohmann::json{{"id", id},
                          {"messages",
                           {{{"role", "user"},
                             {"content",
                              {{{"type", "image_url"}, {"image_url", {{"url", url}}}},
                               {{"type", "text"}, {"text", "Describe this image."}}}}}}}}
        .dump();
  };
  {
    std::ofstream in(dir.path("jobs.jsonl"));
    in << line("path", "img/grad.png") << "\n"
       << line("uri", uri) << "\n"
       << line("missing", "img/none.png") << "\n"
       << line("broken", "data:image/png;base64,iVBORw0KGgoAAAAN") << "\n"
       << R"({"id": "text", "prompt": "Once upon a time"})" << "\n";
  }
  // Run from another folder: relative image paths are the input file's.
  const CommandResult r = run_scout({"batch", "-m", tiny_model(), "--mmproj", mmproj(), "-i", dir.path("jobs.jsonl"), "-o",
                                     dir.path("out.jsonl"), "--temp", "0", "-n", "6", "-t", "2", "-c", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> out = read_lines(dir.path("out.jsonl"));
  ASSERT_EQ(out.size(), 5u);
  for (size_t i : {0, 1}) {
    EXPECT_EQ(out[i]["text"], want["text"]) << out[i].dump();
    EXPECT_EQ(out[i]["prompt_tokens"], want["prompt_ids"].size()) << "image rows count as prompt positions";
  }
  EXPECT_EQ(out[2]["id"], "missing");
  EXPECT_NE(out[2].value("error", "").find("img/none.png"), std::string::npos) << out[2].dump();
  EXPECT_EQ(out[3]["id"], "broken");
  EXPECT_NE(out[3].value("error", "").find("image 1"), std::string::npos) << out[3].dump();
  EXPECT_TRUE(out[4].contains("text")) << out[4].dump();

  // Without --mmproj, lines with images are errors and the others run.
  const CommandResult plain = run_scout({"batch", "-m", tiny_model(), "-i", dir.path("jobs.jsonl"), "-o",
                                         dir.path("plain.jsonl"), "--temp", "0", "-n", "2", "-t", "2", "-c", "2048"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const std::vector<nlohmann::json> p = read_lines(dir.path("plain.jsonl"));
  ASSERT_EQ(p.size(), 5u);
  EXPECT_NE(p[0].value("error", "").find("--mmproj"), std::string::npos) << p[0].dump();
  EXPECT_TRUE(p[4].contains("text")) << p[4].dump();
}

// "last turn: E evaluated, R reused" from /stats lines on stderr, in order.
std::vector<std::pair<int, int>> turn_stats(const std::string& err) {
  std::vector<std::pair<int, int>> out;
  const std::regex re("last turn: (\\d+) evaluated, (\\d+) reused");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it)
    out.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  return out;
}

TEST(VisionChat, ImageStaysInTheSessionAcrossTurns) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const nlohmann::json want = run_grad("Describe this image.", 6);
  test::TempDir dir;
  const std::vector<std::string> args = {"chat", "-m", tiny_model(), "--mmproj", mmproj(), "--temp", "0", "-n", "6",
                                         "-t", "2", "-c", "2048"};
  const CommandResult r = run_scout(args, "/image " + grad() + "\nDescribe this image.\n/stats\n/save " +
                                              dir.path("conv.json") + "\nAnd the colours?\n/stats\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The first reply is run's: the same chat prompt with the image first.
  EXPECT_EQ(r.out.rfind(want["text"].get<std::string>() + "\n", 0), 0u) << r.out;
  const auto stats = turn_stats(r.err);
  ASSERT_EQ(stats.size(), 2u) << r.err;
  EXPECT_EQ(stats[0], std::make_pair(int(want["prompt_ids"].size()), 0));
  // The second turn keeps the image's rows and the first exchange: only the new message is evaluated.
  EXPECT_GT(stats[1].second, stats[0].first);
  EXPECT_LT(stats[1].first, 30);

  // The saved conversation names the image; a new chat loads it and goes on,
  // evaluating the whole conversation, the image's rows included.
  std::ifstream js(dir.path("conv.json"));
  const nlohmann::json conv = nlohmann::json::parse(js);
  EXPECT_EQ(conv["messages"][0]["images"], nlohmann::json::array({grad()}));
  EXPECT_EQ(conv["messages"][0]["content"], "<__media__>Describe this image.");
  EXPECT_FALSE(std::filesystem::exists(dir.path("conv.json.kv"))) << "no KV file for a conversation with images";
  const CommandResult again = run_scout(args, "/load " + dir.path("conv.json") + "\nAnd the colours?\n/stats\n");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto stats2 = turn_stats(again.err);
  ASSERT_EQ(stats2.size(), 1u) << again.err;
  EXPECT_NE(again.err.find("(whole conversation)"), std::string::npos) << again.err;
  // (The reply is re-tokenized from its text, so the count may differ by a token or two.)
  EXPECT_NEAR(stats2[0].first, stats[1].first + stats[1].second, 4);
  EXPECT_GT(stats2[0].first, 144);
}

TEST(VisionChat, ImageErrorsNameTheProblem) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  CommandResult r = run_scout({"chat", "-m", tiny_model()}, "/image " + grad() + "\nHi\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--mmproj"), std::string::npos) << r.err;
  r = run_scout({"chat", "-m", tiny_model(), "--mmproj", mmproj()}, "/image /nonexistent/x.png\nHi\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/x.png"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// Meta's layout through run: the wide image is a 3 x 1 grid (canvas 1008 x
// 336), framed by separators, <|image|> before the global tile.
TEST(VisionRun, MetaLayoutPromptIds) {
  if (!test::have_shared()) GTEST_SKIP() << "needs ../shared";
  const CommandResult r = run_scout({"run", "-m", tiny_model(), "--mmproj", mmproj(), "--image",
                                     test::vision_oracle_dir() + "images/wide-700x300.png", "--vision-layout", "meta",
                                     "-p", "Describe this image.", "--temp", "0", "-n", "4", "--json", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ids = nlohmann::json::parse(r.out)["prompt_ids"].get<std::vector<int32_t>>();
  const auto start = std::find(ids.begin(), ids.end(), 4176), end = std::find(ids.begin(), ids.end(), 4177);
  ASSERT_NE(end, ids.end());
  std::vector<int32_t> want = {4176};
  for (int tile = 0; tile < 3; ++tile) {
    want.insert(want.end(), 144, -1);
    want.push_back(tile < 2 ? 4180 : 4181);  // <|tile_x_separator|> between, <|tile_y_separator|> after the row
  }
  want.push_back(4186);  // <|image|>
  want.insert(want.end(), 144, -1);
  want.push_back(4177);
  EXPECT_EQ(std::vector<int32_t>(start, end + 1), want);
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"].size(), 4u);
}

}  // namespace
}  // namespace scout
