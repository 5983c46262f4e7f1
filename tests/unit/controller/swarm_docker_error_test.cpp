#include <gtest/gtest.h>

#include <string>

#include "controller/swarm/docker_error.h"

namespace captain::swarm {
namespace {

using Kind = DockerError::Kind;

TEST(DockerErrorResponse, MapsEachStatus) {
  struct Case {
    int status;
    Kind kind;
    bool retryable;
  };
  const Case cases[] = {
      {400, Kind::bad_request, false},  {401, Kind::unauthorized, false},
      {403, Kind::unauthorized, false}, {404, Kind::not_found, false},
      {409, Kind::conflict, false},     {406, Kind::unexpected, false},
      {429, Kind::unexpected, false},   {500, Kind::unavailable, true},
      {502, Kind::unavailable, true},   {503, Kind::unavailable, true},
      {504, Kind::unavailable, true},   {200, Kind::unexpected, false},
      {304, Kind::unexpected, false},   {0, Kind::unexpected, false},
  };
  for (const auto& c : cases) {
    const auto error = docker_error_from_response(c.status, R"({"message":"boom"})");
    EXPECT_EQ(error.kind, c.kind) << c.status;
    EXPECT_EQ(error.http_status, c.status);
    EXPECT_EQ(error.retryable(), c.retryable) << c.status;
    EXPECT_EQ(error.message, "boom");
  }
}

TEST(DockerErrorResponse, KeepsDockerMessageVerbatim) {
  const auto error =
      docker_error_from_response(404, R"({"message":"No such container: 0f3a\"weird\" \u00e9"})");
  EXPECT_EQ(error.kind, Kind::not_found);
  EXPECT_EQ(error.message, "No such container: 0f3a\"weird\" \xC3\xA9");
}

TEST(DockerErrorResponse, NotSwarmManager503) {
  const auto error = docker_error_from_response(
      503,
      R"({"message":"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."})");
  EXPECT_EQ(error.kind, Kind::not_swarm_manager);
  EXPECT_FALSE(error.retryable());
  EXPECT_EQ(error.http_status, 503);
  EXPECT_EQ(error.message.rfind("This node is not a swarm manager.", 0), 0u);

  const auto worker = docker_error_from_response(
      503,
      R"({"message":"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."})");
  EXPECT_EQ(worker.kind, Kind::not_swarm_manager);
}

TEST(DockerErrorResponse, SwarmManagerTextOnlyCountsFor503) {
  const auto other_503 = docker_error_from_response(503, R"({"message":"rpc error: timed out"})");
  EXPECT_EQ(other_503.kind, Kind::unavailable);
  EXPECT_TRUE(other_503.retryable());
  const auto on_500 =
      docker_error_from_response(500, R"({"message":"This node is not a swarm manager."})");
  EXPECT_EQ(on_500.kind, Kind::unavailable);
  const auto plain =
      docker_error_from_response(503, "This node is not a swarm manager. (plain text)\n");
  EXPECT_EQ(plain.kind, Kind::not_swarm_manager);
}

TEST(DockerErrorResponse, MalformedBodiesKeptAsText) {
  EXPECT_EQ(docker_error_from_response(500, "{\"message\": \"cut").message, "{\"message\": \"cut");
  EXPECT_EQ(docker_error_from_response(502, "<html>Bad Gateway</html>\n").message,
            "<html>Bad Gateway</html>");
  EXPECT_EQ(docker_error_from_response(404, "page not found\n").message, "page not found");
  EXPECT_EQ(docker_error_from_response(400, R"({"message":42})").message, R"({"message":42})");
  EXPECT_EQ(docker_error_from_response(400, R"({"error":"x"})").message, R"({"error":"x"})");
  EXPECT_EQ(docker_error_from_response(400, R"(["message"])").message, R"(["message"])");
  EXPECT_EQ(docker_error_from_response(500, "").message, "");
  EXPECT_EQ(docker_error_from_response(500, "").kind, Kind::unavailable);
  const std::string binary("\xff\xfe\x00{", 4);
  const auto error = docker_error_from_response(500, binary);
  EXPECT_EQ(error.kind, Kind::unavailable);
  EXPECT_EQ(error.message, binary);
}

TEST(DockerErrorResponse, HugeBodyTruncated) {
  const std::string huge(5 * 1024 * 1024, 'x');
  const auto error = docker_error_from_response(500, huge);
  EXPECT_EQ(error.message.size(), DockerError::kMaxMessageBytes);
  EXPECT_EQ(error.message, huge.substr(0, DockerError::kMaxMessageBytes));

  const std::string huge_json = R"({"message":")" + std::string(4096, 'm') + R"("})";
  EXPECT_EQ(docker_error_from_response(409, huge_json).message.size(),
            DockerError::kMaxMessageBytes);
}

TEST(DockerErrorResponse, TruncationKeepsUtf8Whole) {
  // 1023 ASCII bytes, then a 2-byte character straddling the 1 KiB limit.
  const std::string body = std::string(1023, 'a') + "\xC3\xA9" + std::string(100, 'b');
  const auto error = docker_error_from_response(500, body);
  EXPECT_EQ(error.message, std::string(1023, 'a'));
}

TEST(DockerErrorTransport, TimeoutAndUnreachable) {
  const auto timeout = docker_error_from_transport("Operation timed out after 30000 ms", true);
  EXPECT_EQ(timeout.kind, Kind::timeout);
  EXPECT_EQ(timeout.http_status, 0);
  EXPECT_TRUE(timeout.retryable());
  EXPECT_EQ(timeout.message, "Operation timed out after 30000 ms");

  const auto refused =
      docker_error_from_transport("Couldn't connect to server: /var/run/docker.sock", false);
  EXPECT_EQ(refused.kind, Kind::unreachable);
  EXPECT_TRUE(refused.retryable());
  EXPECT_EQ(refused.message, "Couldn't connect to server: /var/run/docker.sock");

  EXPECT_EQ(docker_error_from_transport(std::string(3000, 'e'), false).message.size(),
            DockerError::kMaxMessageBytes);
}

TEST(DockerErrorKind, RetryableOnlyForTransientKinds) {
  for (Kind kind : {Kind::unreachable, Kind::timeout, Kind::unavailable}) {
    EXPECT_TRUE((DockerError{kind, 0, ""}.retryable())) << to_string(kind);
  }
  for (Kind kind : {Kind::not_found, Kind::conflict, Kind::bad_request, Kind::not_swarm_manager,
                    Kind::unauthorized, Kind::unexpected}) {
    EXPECT_FALSE((DockerError{kind, 0, ""}.retryable())) << to_string(kind);
  }
  EXPECT_EQ(to_string(Kind::not_swarm_manager), "not_swarm_manager");
  EXPECT_EQ(to_string(Kind::unauthorized), "unauthorized");
}

TEST(DockerErrorKind, CircuitOpenName) {
  EXPECT_EQ(to_string(Kind::circuit_open), "circuit_open");
  EXPECT_EQ(to_string(Kind::unreachable), "unreachable");
  EXPECT_EQ(to_string(Kind::unavailable), "unavailable");
}

TEST(DockerErrorKind, CircuitOpenIsNotRetriedButIsDaemonUnavailable) {
  const DockerError open{Kind::circuit_open, 0, "circuit open for services"};
  EXPECT_FALSE(open.retryable());
  EXPECT_TRUE(open.daemon_unavailable());
}

TEST(DockerErrorKind, DaemonUnavailableForTransportFailures5xxAndOpenBreaker) {
  // A node that is not (or no longer) a Swarm manager cannot run services either: changes wait.
  for (Kind kind : {Kind::unreachable, Kind::timeout, Kind::unavailable, Kind::circuit_open,
                    Kind::not_swarm_manager}) {
    EXPECT_TRUE((DockerError{kind, 0, ""}.daemon_unavailable())) << to_string(kind);
  }
  for (Kind kind :
       {Kind::not_found, Kind::conflict, Kind::bad_request, Kind::unauthorized, Kind::unexpected}) {
    EXPECT_FALSE((DockerError{kind, 0, ""}.daemon_unavailable())) << to_string(kind);
  }
}

TEST(DockerErrorKind, DaemonUnavailableFromResponses) {
  const auto conflict = docker_error_from_response(409, R"({"message":"update out of sequence"})");
  EXPECT_EQ(conflict.kind, Kind::conflict);
  EXPECT_FALSE(conflict.daemon_unavailable());
  EXPECT_FALSE(docker_error_from_response(404, "").daemon_unavailable());
  EXPECT_FALSE(docker_error_from_response(400, "").daemon_unavailable());
  EXPECT_TRUE(docker_error_from_response(500, "").daemon_unavailable());
  EXPECT_TRUE(docker_error_from_response(502, "").daemon_unavailable());
  EXPECT_TRUE(
      docker_error_from_transport("Couldn't connect to server", false).daemon_unavailable());
  EXPECT_TRUE(docker_error_from_transport("Operation timed out", true).daemon_unavailable());
}

}  // namespace
}  // namespace captain::swarm
