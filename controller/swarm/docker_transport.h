// HTTP to the Docker Engine API over its unix socket, with libcurl. One request per call on a
// fresh easy handle: unix-socket connects are cheap, and nothing is shared between threads.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"
#include "controller/swarm/docker_error.h"

namespace captain::swarm {

struct HttpReply {
  int status = 0;
  std::string body;
};

struct HttpCall {
  std::string_view method;            // "GET", "POST", "DELETE"
  std::string path;                   // "/v1.41/services?filters=...", already URL-encoded
  const std::string* body = nullptr;  // JSON, sent with Content-Type: application/json
  std::vector<std::string> headers;   // extra "Name: value" lines
  std::chrono::milliseconds timeout{30'000};
};

// A call whose request body is read from a file descriptor until EOF (sent chunked) and whose
// reply is handed over as it arrives: an image build (context in, progress out).
struct StreamingCall {
  std::string_view method;
  std::string path;
  std::vector<std::string> headers;
  int body_fd = -1;
  // Each piece of the reply body as it arrives; false aborts the transfer.
  std::function<bool(std::string_view)> on_data;
  // Asked about once a second; true aborts the transfer (the controller is stopping).
  std::function<bool()> cancelled;
  std::chrono::milliseconds timeout{3'600'000};
};

class DockerTransport {
 public:
  // Calls curl_global_init once per process (thread-safe since curl 7.84; Debian 12 has 7.88).
  explicit DockerTransport(std::string socket_path);

  // Any HTTP status is a reply; only a failure to talk to the daemon is an error
  // (DockerError::Kind::unreachable or timeout, with curl's message).
  Expected<HttpReply, DockerError> send(const HttpCall& call) const;
  // The reply's status; its body went to call.on_data (the first 64 KiB of an error reply are
  // also in HttpReply::body, for the message).
  Expected<HttpReply, DockerError> stream(const StreamingCall& call) const;

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
};

// Percent-encodes a query value (filters JSON, image references).
std::string url_encode(std::string_view text);

}  // namespace captain::swarm
