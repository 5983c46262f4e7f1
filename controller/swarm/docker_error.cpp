#include "controller/swarm/docker_error.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace captain::swarm {
namespace {

constexpr std::string_view kNotSwarmManager = "this node is not a swarm manager";

// At most `limit` bytes, never splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t cut = limit;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut));
}

std::string_view trim(std::string_view text) {
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool contains_case_insensitive(std::string_view haystack, std::string_view lower_needle) {
  auto it = std::search(haystack.begin(), haystack.end(), lower_needle.begin(), lower_needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 static_cast<unsigned char>(b);
                        });
  return it != haystack.end();
}

std::string extract_message(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_object()) {
    const auto it = parsed.find("message");
    if (it != parsed.end() && it->is_string()) {
      return truncate_utf8(it->get_ref<const std::string&>(), DockerError::kMaxMessageBytes);
    }
  }
  return truncate_utf8(trim(body), DockerError::kMaxMessageBytes);
}

DockerError::Kind kind_for_status(int status, std::string_view message) {
  switch (status) {
    case 400:
      return DockerError::Kind::bad_request;
    case 401:
    case 403:
      return DockerError::Kind::unauthorized;
    case 404:
      return DockerError::Kind::not_found;
    case 409:
      return DockerError::Kind::conflict;
    default:
      break;
  }
  if (status == 503 && contains_case_insensitive(message, kNotSwarmManager)) {
    return DockerError::Kind::not_swarm_manager;
  }
  if (status >= 500 && status <= 599) return DockerError::Kind::unavailable;
  return DockerError::Kind::unexpected;
}

}  // namespace

bool DockerError::retryable() const {
  return kind == Kind::unreachable || kind == Kind::timeout || kind == Kind::unavailable;
}

bool DockerError::daemon_unavailable() const {
  return retryable() || kind == Kind::circuit_open || kind == Kind::not_swarm_manager;
}

std::string DockerError::describe() const {
  if (kind == Kind::circuit_open) return message;
  if (daemon_unavailable()) return "Docker is unavailable: " + message;
  return "Docker refused: " + message;
}

std::string_view to_string(DockerError::Kind kind) {
  switch (kind) {
    case DockerError::Kind::unreachable:
      return "unreachable";
    case DockerError::Kind::timeout:
      return "timeout";
    case DockerError::Kind::not_found:
      return "not_found";
    case DockerError::Kind::conflict:
      return "conflict";
    case DockerError::Kind::bad_request:
      return "bad_request";
    case DockerError::Kind::not_swarm_manager:
      return "not_swarm_manager";
    case DockerError::Kind::unavailable:
      return "unavailable";
    case DockerError::Kind::unauthorized:
      return "unauthorized";
    case DockerError::Kind::unexpected:
      return "unexpected";
    case DockerError::Kind::circuit_open:
      return "circuit_open";
  }
  return "unexpected";
}

DockerError docker_error_from_response(int http_status, std::string_view body) {
  DockerError error;
  error.http_status = http_status;
  error.message = extract_message(body);
  error.kind = kind_for_status(http_status, error.message);
  return error;
}

DockerError docker_error_from_transport(std::string_view curl_error, bool timed_out) {
  DockerError error;
  error.kind = timed_out ? DockerError::Kind::timeout : DockerError::Kind::unreachable;
  error.http_status = 0;
  error.message = truncate_utf8(trim(curl_error), DockerError::kMaxMessageBytes);
  return error;
}

}  // namespace captain::swarm
