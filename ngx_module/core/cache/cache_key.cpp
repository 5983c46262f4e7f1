// Accept-Encoding normalization, variant keys, Vary classification and the key hash.
#include "ngx_module/core/cache/cache_key.h"

#include <cstring>

#include "ngx_module/core/http_text.h"

// Header-only xxHash: every function is static in this file, so the nginx module carries no
// extra shared-library dependency.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace captain::cache {

namespace {

using http_text::equals_lowercase;
using http_text::trim_ows;

// Calls f(member) for each comma-separated, trimmed, non-empty member. Neither header here
// carries quoted-strings with commas in practice; a stray quote only spoils its own member.
template <typename F>
void for_each_member(std::string_view line, F&& f) {
  while (!line.empty()) {
    const std::size_t comma = line.find(',');
    const std::string_view member = trim_ows(line.substr(0, comma));
    if (!member.empty()) f(member);
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
}

// RFC 9110 §12.4.2 qvalue: "0" ["." 0-3 DIGIT] or "1" ["." 0-3 "0"]. Returns false if not one;
// `zero` says whether it is 0.
bool parse_qvalue(std::string_view v, bool& zero) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return false;
  bool all_zero_fraction = true;
  if (v.size() > 1) {
    if (v[1] != '.' || v.size() > 5) return false;
    for (std::size_t i = 2; i < v.size(); ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
      if (v[i] != '0') all_zero_fraction = false;
    }
    if (v[0] == '1' && !all_zero_fraction) return false;
  }
  zero = v[0] == '0' && all_zero_fraction;
  return true;
}

EncodingSet coding_bit(std::string_view name) {
  if (equals_lowercase(name, "gzip") || equals_lowercase(name, "x-gzip")) return kGzip;
  if (equals_lowercase(name, "br")) return kBrotli;
  if (equals_lowercase(name, "zstd")) return kZstd;
  return 0;
}

// Every subset of {br, gzip, zstd}, indexed by its bits, in one fixed order.
constexpr std::string_view kNormalized[8] = {
    "identity",       // 0
    "gzip",           // gzip
    "br",             // br
    "br, gzip",       // br | gzip
    "zstd",           // zstd
    "gzip, zstd",     // zstd | gzip
    "br, zstd",       // zstd | br
    "br, gzip, zstd"  // all
};
constexpr std::size_t kLongestNormalized = 14;

}  // namespace

void parse_accept_encoding(std::string_view line, AcceptEncoding& into) {
  for_each_member(line, [&into](std::string_view member) {
    const std::size_t semicolon = member.find(';');
    const std::string_view name = trim_ows(member.substr(0, semicolon));
    bool refused = false;
    // Parameters: only q matters; an unreadable weight makes the member unusable.
    std::string_view params =
        semicolon == std::string_view::npos ? std::string_view() : member.substr(semicolon + 1);
    while (!params.empty()) {
      const std::size_t next = params.find(';');
      const std::string_view param = trim_ows(params.substr(0, next));
      const std::size_t eq = param.find('=');
      if (eq != std::string_view::npos && equals_lowercase(trim_ows(param.substr(0, eq)), "q")) {
        bool zero = false;
        if (!parse_qvalue(trim_ows(param.substr(eq + 1)), zero)) return;
        refused = zero;
      }
      if (next == std::string_view::npos) break;
      params.remove_prefix(next + 1);
    }
    if (name == "*") {
      if (!refused) into.wildcard = true;
      return;
    }
    const EncodingSet bit = coding_bit(name);
    if (bit == 0) return;
    if (refused) {
      into.refused = static_cast<EncodingSet>(into.refused | bit);
    } else {
      into.accepted = static_cast<EncodingSet>(into.accepted | bit);
    }
  });
}

std::string_view normalized_accept_encoding(EncodingSet set) {
  return kNormalized[set & 7];
}

std::size_t variant_key_capacity(std::size_t base_size) {
  return base_size + 1 + kLongestNormalized;
}

std::size_t write_variant_key(std::string_view base, EncodingSet set, char* out,
                              std::size_t capacity) {
  const std::string_view suffix = normalized_accept_encoding(set);
  const std::size_t size = base.size() + 1 + suffix.size();
  if (out == nullptr || capacity < size) return 0;
  if (!base.empty()) std::memcpy(out, base.data(), base.size());
  out[base.size()] = kVariantSeparator;
  std::memcpy(out + base.size() + 1, suffix.data(), suffix.size());
  return size;
}

void parse_vary(std::string_view line, Vary& into) {
  for_each_member(line, [&into](std::string_view member) {
    if (equals_lowercase(member, "accept-encoding")) {
      if (into == Vary::none) into = Vary::accept_encoding;
    } else {
      into = Vary::other;
    }
  });
}

std::uint64_t hash_key(std::string_view key, std::uint64_t seed) {
  return XXH3_64bits_withSeed(key.data(), key.size(), seed);
}

}  // namespace captain::cache
