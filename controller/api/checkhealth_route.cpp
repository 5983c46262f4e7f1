#include "controller/api/checkhealth_route.h"

#include <array>
#include <cstdint>
#include <random>

namespace captain::api {

std::string random_uuid_v4() {
  std::random_device source;
  std::array<std::uint8_t, 16> bytes{};
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(source() & 0xffU);
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0fU) | 0x40U);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3fU) | 0x80U);  // RFC 4122 variant
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0x0fU];
  }
  return out;
}

void register_checkhealth_route(http::Router& http, std::string instance_id) {
  // The priority lane, as /health/*: a monitor's probe must not queue behind slow API calls.
  http::RouteOptions priority;
  priority.lane = http::Lane::priority;
  priority.starts_traces = false;  // a monitor's probe starts no trace of its own
  http.get(
      "/checkhealth/?",
      [id = std::move(instance_id)](http::Request&, http::Response& res) {
        res.status = 200;
        res.set_content(id, "text/html; charset=utf-8");
      },
      priority);
}

}  // namespace captain::api
