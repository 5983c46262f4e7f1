// Who the client is when the API sits behind a proxy: X-Forwarded-For (or X-Real-IP) is
// believed only from trusted_proxies, and only as far back as the chain stays trusted, so a
// client cannot name itself someone else by sending the header (RFC 7239 §8.3's advice).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/config/cidr.h"

namespace captain::api {

// `peer`: the TCP peer. `forwarded_for`: the X-Forwarded-For value (may be empty).
// `real_ip`: X-Real-IP (may be empty). Walks X-Forwarded-For from the right (the entry the
// trusted proxy added) past every trusted address; the first untrusted one is the client.
std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           std::string_view real_ip, const std::vector<config::Cidr>& trusted);

}  // namespace captain::api
