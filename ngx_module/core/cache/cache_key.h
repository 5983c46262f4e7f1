// Cache keys: the configured key text, the Accept-Encoding variant of a response that varies on
// it, and the hash that indexes the store.
//
// Variants. A response with `Vary: Accept-Encoding` is stored under
//   <key> kVariantSeparator <normalized Accept-Encoding>
// and the plain <key> gets a small marker entry (flag kEntryVaryMarker, no body) saying "look
// up the variant". The normalized value is the set of codings, among gzip, br and zstd, that
// the client accepts with q > 0, written in one fixed order ("br, gzip", "identity" when none).
// Two clients with the same set accept the same representations of those codings; the glue
// sends the normalized value upstream when filling, so the upstream never picks a coding
// (deflate, compress, ...) that another client in the same class might not accept. identity is
// assumed acceptable to everyone (what servers do in practice even for "identity;q=0").
// The full key text is stored in the entry: purge by prefix matches on it, and a purge of
// <key> should also purge the prefix <key> kVariantSeparator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace captain::cache {

// A byte that no request line or header value carries raw (nginx rejects control characters
// there), so a variant suffix cannot be forged by a client's URI.
inline constexpr char kVariantSeparator = '\x1f';

// EntryMeta::flags bit: this entry is a Vary marker, not a response.
inline constexpr std::uint32_t kEntryVaryMarker = 1;

// Accepted codings, a bit set.
using EncodingSet = std::uint8_t;
inline constexpr EncodingSet kGzip = 1;
inline constexpr EncodingSet kBrotli = 2;
inline constexpr EncodingSet kZstd = 4;

// Adds one Accept-Encoding field line's accepted codings to `set`: names are case-insensitive,
// "x-gzip" counts as gzip, q=0 refuses a coding, "*" stands for every coding not listed.
// Several lines: call once per line with the same `set` and `wildcard` state.
struct AcceptEncoding {
  EncodingSet accepted = 0;
  EncodingSet refused = 0;  // listed with q=0
  bool wildcard = false;    // "*" with q > 0
  EncodingSet set() const {
    return static_cast<EncodingSet>((accepted | (wildcard ? (kGzip | kBrotli | kZstd) : 0)) &
                                    ~refused);
  }
};
void parse_accept_encoding(std::string_view line, AcceptEncoding& into);

// The normalized Accept-Encoding value of a set, e.g. "br, gzip" or "identity".
std::string_view normalized_accept_encoding(EncodingSet set);

// Room for any variant key of a base key of `base_size` bytes.
std::size_t variant_key_capacity(std::size_t base_size);
// Writes <base> kVariantSeparator <normalized value> to `out`; returns its length, or 0 if
// `capacity` is too small.
std::size_t write_variant_key(std::string_view base, EncodingSet set, char* out,
                              std::size_t capacity);

// What a response's Vary lines allow. Accumulate over lines like the others.
enum class Vary : std::uint8_t {
  none = 0,             // no Vary, or only empty members
  accept_encoding = 1,  // only Accept-Encoding (any case, any repeats)
  other = 2,            // anything else, "*" included: not storable
};
void parse_vary(std::string_view line, Vary& into);

// The store's index hash of a full key text (seeded per zone against hash flooding).
std::uint64_t hash_key(std::string_view key, std::uint64_t seed);

}  // namespace captain::cache
