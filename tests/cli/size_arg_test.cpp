#include "cli/size_arg.h"

#include <gtest/gtest.h>

#include "cli/command.h"

namespace scout::cli {
namespace {

TEST(SizeArg, PlainAndSuffixed) {
  EXPECT_EQ(parse_size_arg("--ctx", "8192"), 8192u);
  EXPECT_EQ(parse_size_arg("--ctx", "128K"), 131072u);
  EXPECT_EQ(parse_size_arg("--ctx", "128k"), 131072u);
  EXPECT_EQ(parse_size_arg("--ctx", "1M"), 1048576u);
  EXPECT_EQ(parse_size_arg("--ctx", "10M"), 10485760u);
  EXPECT_EQ(parse_size_arg("--ctx", "2G"), 2147483648u);
}

TEST(SizeArg, RejectsJunk) {
  for (const char* bad : {"", "-1", "0", "1.5K", "12Q", "K", "1KK", "99999999999999999999", "18014398509481984G"}) {
    try {
      parse_size_arg("--ctx", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--ctx"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace scout::cli
