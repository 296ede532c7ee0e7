// Stop strings in streamed text: held back while they might complete, never
// emitted, and everything else emitted once.
#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

namespace scout::engine {
namespace {

TEST(StopMatcher, HoldsPrefixesBackAndCutsAtTheStop) {
  StopMatcher m({"END", "xy"});
  bool stopped = false;
  EXPECT_EQ(m.push("abc E", stopped), "abc ");  // "E" might start "END"
  EXPECT_FALSE(stopped);
  EXPECT_EQ(m.push("Nx", stopped), "EN");  // "ENx" is no stop's start, but "x" might start "xy"
  EXPECT_EQ(m.push("!", stopped), "x!");
  EXPECT_EQ(m.push("1 EN", stopped), "1 ");
  EXPECT_EQ(m.push("D and more", stopped), "");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(m.text(), "abc ENx!1 ");
}

TEST(StopMatcher, FinishReleasesWhatWasHeld) {
  StopMatcher m({"stop"});
  bool stopped = false;
  EXPECT_EQ(m.push("a st", stopped), "a ");
  EXPECT_EQ(m.finish(), "st");
  EXPECT_EQ(m.text(), "a st");
  StopMatcher none({});
  EXPECT_EQ(none.push("text", stopped), "text");
  EXPECT_FALSE(stopped);
}

}  // namespace
}  // namespace scout::engine
