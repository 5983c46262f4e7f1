#include "controller/process/run_command.h"

#include <gtest/gtest.h>

#include <chrono>

namespace captain::process {
namespace {

using std::chrono::milliseconds;

TEST(RunCommand, CollectsStdoutAndStderrAndTheExitStatus) {
  auto ran = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, milliseconds(5000));
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(ran->exit_status, 3);
  EXPECT_FALSE(ran->timed_out);
  EXPECT_NE(ran->output.find("out\n"), std::string::npos);
  EXPECT_NE(ran->output.find("err\n"), std::string::npos);
}

TEST(RunCommand, KillsAProgramThatOutlivesItsTimeout) {
  const auto started = std::chrono::steady_clock::now();
  auto ran = run_command({"/bin/sleep", "5"}, milliseconds(200));
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_TRUE(ran->timed_out);
  EXPECT_EQ(ran->exit_status, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
}

TEST(RunCommand, AMissingProgramIsAnErrorNamingIt) {
  auto ran = run_command({"/nonexistent/nginx", "-t"}, milliseconds(1000));
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().find("/nonexistent/nginx"), std::string::npos) << ran.error();
}

TEST(RunCommand, OutputIsBounded) {
  auto ran = run_command({"/bin/sh", "-c", "head -c 200000 /dev/zero"}, milliseconds(5000));
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(ran->exit_status, 0);
  EXPECT_EQ(ran->output.size(), kMaxOutputBytes);
}

}  // namespace
}  // namespace captain::process
