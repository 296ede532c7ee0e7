// The results file: appended lines, the keys a rerun skips, repair of a cut
// last line, --no-resume, and one writer at a time.
#include <gtest/gtest.h>

#include <string>

#include "batch/output_file.h"
#include "test_util.h"

namespace scout::batch {
namespace {

using test::read_text;
using test::write_text;

using json = nlohmann::ordered_json;

TEST(BatchOutputFile, AppendsWholeLinesAndRemembersKeys) {
  test::TempDir tmp;
  {
    OutputFile out(tmp.path("o.jsonl"), true, false);
    EXPECT_TRUE(out.done().empty());
    out.append(json{{"id", "a"}, {"text", "x\ny"}});
    out.append(json{{"id", nullptr}, {"line", 2}, {"error", "bad"}});
    EXPECT_EQ(out.done(), (std::set<std::string>{"\"a\"", "line 2"}));
  }
  EXPECT_EQ(read_text(tmp.path("o.jsonl")),
            "{\"id\":\"a\",\"text\":\"x\\ny\"}\n{\"id\":null,\"line\":2,\"error\":\"bad\"}\n");
  OutputFile again(tmp.path("o.jsonl"), true, true);
  EXPECT_EQ(again.done(), (std::set<std::string>{"\"a\"", "line 2"}));
}

TEST(BatchOutputFile, CutsATruncatedLastLine) {
  test::TempDir tmp;
  write_text(tmp.path("o.jsonl"), "{\"id\":1}\nnot json\n{\"id\":2,\"te");
  {
    OutputFile out(tmp.path("o.jsonl"), true, false);
    EXPECT_EQ(out.done(), (std::set<std::string>{"1"}));  // "not json" is ignored, the cut line removed
    out.append(json{{"id", 2}});
  }
  EXPECT_EQ(read_text(tmp.path("o.jsonl")), "{\"id\":1}\nnot json\n{\"id\":2}\n");
  write_text(tmp.path("p.jsonl"), "{\"id\":");
  OutputFile out(tmp.path("p.jsonl"), true, false);
  EXPECT_TRUE(out.done().empty());
  EXPECT_EQ(read_text(tmp.path("p.jsonl")), "");
}

TEST(BatchOutputFile, NoResumeStartsAfresh) {
  test::TempDir tmp;
  write_text(tmp.path("o.jsonl"), "{\"id\":1}\n");
  OutputFile out(tmp.path("o.jsonl"), false, false);
  EXPECT_TRUE(out.done().empty());
  EXPECT_EQ(read_text(tmp.path("o.jsonl")), "");
}

TEST(BatchOutputFile, OneWriterAtATime) {
  test::TempDir tmp;
  OutputFile first(tmp.path("o.jsonl"), true, false);
  EXPECT_THROW(OutputFile(tmp.path("o.jsonl"), true, false), std::runtime_error);
}

}  // namespace
}  // namespace scout::batch
