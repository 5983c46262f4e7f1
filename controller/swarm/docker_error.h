// Typed errors for Docker Engine API calls, from an HTTP response or a transport failure.
//
// Docker answers errors with a JSON body {"message": "..."}; the message is kept verbatim (up to
// kMaxMessageBytes). A body that is not such JSON is kept as text, trimmed and truncated to
// kMaxMessageBytes on a UTF-8 boundary. Parsing never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace captain::swarm {

struct DockerError {
  enum class Kind {
    unreachable,        // connect/socket errors: the daemon could not be reached
    timeout,            // the request timed out
    not_found,          // 404
    conflict,           // 409
    bad_request,        // 400
    not_swarm_manager,  // 503 with "This node is not a swarm manager"
    unavailable,        // any other 5xx
    unauthorized,       // 401, 403
    unexpected,         // anything else (other 4xx, 1xx-3xx passed in as errors)
    circuit_open,       // not sent: the endpoint family's circuit breaker is open
  };

  static constexpr std::size_t kMaxMessageBytes = 1024;

  Kind kind = Kind::unexpected;
  int http_status = 0;  // 0 for transport errors
  std::string message;

  // Worth retrying an idempotent call: unreachable, timeout and unavailable. Never 4xx, and not
  // not_swarm_manager: that lasts until an operator joins or promotes the node. Not
  // circuit_open either: the breaker decides when to try again.
  bool retryable() const;
  // The daemon could not be used at all (unreachable, timeout, 5xx, breaker open, not a Swarm
  // manager), as opposed to a refusal of this particular request: the work waits and retries.
  bool daemon_unavailable() const;
  // For a user: "Docker is unavailable: ..." or "Docker refused: ..." (a breaker's own words).
  std::string describe() const;
};

std::string_view to_string(DockerError::Kind kind);

DockerError docker_error_from_response(int http_status, std::string_view body);
// `timed_out` wins over the text: a timeout maps to Kind::timeout, anything else to unreachable.
DockerError docker_error_from_transport(std::string_view curl_error, bool timed_out);

}  // namespace captain::swarm
