// The comma lists `scout bench` takes for every flag.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bench/list_arg.h"

namespace scout::bench {
namespace {

using V = std::vector<int64_t>;

TEST(BenchListArg, ParsesListsInOrderKeepingDuplicates) {
  EXPECT_EQ(parse_int_list("-t", "4", 1, 64), V({4}));
  EXPECT_EQ(parse_int_list("-t", "1,2,4", 1, 64), V({1, 2, 4}));
  EXPECT_EQ(parse_int_list("-t", "2,1,2", 1, 64), V({2, 1, 2}));
  EXPECT_EQ(parse_int_list("-p", "0,512", 0, 1 << 20), V({0, 512}));
  EXPECT_EQ(parse_int_list("-p", " 16 , 32", 0, 1 << 20), V({16, 32}));
}

TEST(BenchListArg, BinarySuffixes) {
  EXPECT_EQ(parse_int_list("-d", "0,8K,1m", 0, int64_t{1} << 30), V({0, 8192, 1048576}));
}

TEST(BenchListArg, RejectsJunkNamingTheFlag) {
  for (const std::string bad : {"", "abc", "1,,2", "1,", ",1", "-1", "1x", "1.5", "0x10", "1K2", "99999999999999999999"}) {
    try {
      parse_int_list("-p", bad, 0, 1 << 20);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("-p: ", 0), 0u) << e.what();
    }
  }
}

TEST(BenchListArg, RejectsValuesOutOfRange) {
  EXPECT_THROW(parse_int_list("-t", "0", 1, 64), std::invalid_argument);
  EXPECT_THROW(parse_int_list("-t", "1,65", 1, 64), std::invalid_argument);
  EXPECT_THROW(parse_int_list("-d", "9999999M", 0, 1 << 24), std::invalid_argument);
  EXPECT_EQ(parse_int_list("-t", "1,64", 1, 64), V({1, 64}));
}

}  // namespace
}  // namespace scout::bench
