// The pure parts of driving captain-nginx through Docker: which task containers run, and
// Docker's multiplexed exec output.
#include "controller/nginx/docker_nginx_control.h"

#include <gtest/gtest.h>

namespace captain::nginx {
namespace {

using Json = nlohmann::json;

TEST(DockerNginxControl, OnlyRunningTasksThatShouldRunAreSignalled) {
  const Json tasks = Json::parse(R"([
    {"DesiredState": "running", "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c1"}}},
    {"DesiredState": "shutdown", "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c2"}}},
    {"DesiredState": "running", "Status": {"State": "starting", "ContainerStatus": {"ContainerID": "c3"}}},
    {"DesiredState": "running", "Status": {"State": "running"}},
    {"DesiredState": "running", "Status": {"State": "running", "ContainerStatus": {"ContainerID": 7}}},
    42
  ])");
  EXPECT_EQ(running_task_containers(tasks), std::vector<std::string>{"c1"});
  EXPECT_TRUE(running_task_containers(Json::object()).empty());
}

std::string frame(char stream, const std::string& payload) {
  std::string out{stream, 0, 0, 0};
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
  return out + payload;
}

TEST(DockerStream, FramesAreJoinedInOrder) {
  const std::string body = frame(2, "nginx: [emerg] unknown directive \"x\"\n") + frame(1, "") +
                           frame(2, "nginx: configuration file test failed\n");
  EXPECT_EQ(swarm::demultiplex_stream(body),
            "nginx: [emerg] unknown directive \"x\"\nnginx: configuration file test failed\n");
}

TEST(DockerStream, UnframedOrTruncatedTextComesBackAsIs) {
  EXPECT_EQ(swarm::demultiplex_stream("plain tty output\n"), "plain tty output\n");
  const std::string truncated = frame(1, "abcdef").substr(0, 10);
  EXPECT_EQ(swarm::demultiplex_stream(truncated), truncated);
  EXPECT_EQ(swarm::demultiplex_stream(""), "");
}

}  // namespace
}  // namespace captain::nginx

namespace captain::nginx {
namespace {

TEST(DockerNginxReload, SettledOnceNewWorkersRunAndOldOnesStopAccepting) {
  const std::string before = "7 nginx: worker process                 \n8 nginx: worker process \n";
  EXPECT_EQ(worker_pids(before), (std::vector<std::string>{"7", "8"}));
  const std::vector<std::string> old{"7", "8"};
  EXPECT_FALSE(reload_settled(old, before));  // nothing new yet
  // New workers started, the old ones not told yet (the master waits ~100 ms).
  EXPECT_FALSE(reload_settled(old, before + "21 nginx: worker process \n"));
  EXPECT_TRUE(reload_settled(old,
                             "7 nginx: worker process is shutting down \n"
                             "8 nginx: worker process is shutting down \n"
                             "21 nginx: worker process \n22 nginx: worker process \n"));
  EXPECT_TRUE(reload_settled(old, "21 nginx: worker process \n"));  // old ones gone
  EXPECT_FALSE(reload_settled(old, ""));
}

}  // namespace
}  // namespace captain::nginx
