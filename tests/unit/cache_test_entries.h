// Test entries whose bytes derive from (key, version), so any hit can be checked without a copy;
// shared by the cache store's tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "ngx_module/core/cache/cache_store.h"

namespace captain::cache {

// Body bytes derived from (key, version), so any hit can be checked without a copy.
inline unsigned char body_byte(const std::string& key, std::uint64_t version, std::size_t i) {
  std::uint64_t h = version * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return static_cast<unsigned char>(h >> 56);
}

inline std::size_t body_size_for(const std::string& key, std::uint64_t version, std::size_t max) {
  return (static_cast<std::size_t>(body_byte(key, version, 1)) * 257 + body_byte(key, version, 2)) %
         (max + 1);
}

inline std::string header_text(std::uint64_t version) {
  return "HTTP/1.1 200 OK\r\nX-Version: " + std::to_string(version) + "\r\n";
}

// Stores key's `version` with a body of `size` bytes; false if it did not fit.
inline bool put(CacheStore& store, const std::string& key, std::uint64_t version,
                std::size_t size) {
  EntryMeta meta;
  meta.status = 200;
  meta.fresh_until = static_cast<std::int64_t>(version);
  const std::string headers = header_text(version);
  Slot slot = store.reserve(key, meta, headers.size(), size);
  if (!slot.valid()) return false;
  std::memcpy(slot.headers, headers.data(), headers.size());
  for (std::size_t i = 0; i < size; ++i) slot.body[i] = body_byte(key, version, i);
  return store.publish(slot, size);
}

// Whether a handle holds exactly what put() stored for `key` at the version in its meta.
inline ::testing::AssertionResult intact(const Handle& h, const std::string& key) {
  if (!h.valid()) return ::testing::AssertionFailure() << key << ": no entry";
  if (h.key != key) return ::testing::AssertionFailure() << "key " << h.key << " != " << key;
  const auto version = static_cast<std::uint64_t>(h.meta.fresh_until);
  if (h.headers != header_text(version)) {
    return ::testing::AssertionFailure() << key << ": headers differ";
  }
  for (std::size_t i = 0; i < h.body_size; ++i) {
    if (h.body[i] != body_byte(key, version, i)) {
      return ::testing::AssertionFailure() << key << " v" << version << ": byte " << i;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace captain::cache
