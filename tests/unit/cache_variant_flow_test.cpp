// The Vary: Accept-Encoding flow the glue follows, on a real store: a marker under the base
// key, one entry per encoding class under the variant keys, and a purge of the base key that
// takes its variants along without touching a longer key that merely shares the prefix.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "ngx_module/core/cache/cache_key.h"
#include "ngx_module/core/cache/cache_store.h"

namespace captain::cache {
namespace {

struct Region {
  explicit Region(std::size_t n) : size(n), data(std::aligned_alloc(64, n)) {}
  ~Region() { std::free(data); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  std::size_t size;
  void* data;
};

std::string variant(std::string_view base, std::string_view accept_encoding) {
  AcceptEncoding ae;
  parse_accept_encoding(accept_encoding, ae);
  std::string out(variant_key_capacity(base.size()), '\0');
  out.resize(write_variant_key(base, ae.set(), out.data(), out.size()));
  return out;
}

void put(CacheStore& store, const std::string& key, std::uint32_t flags, std::string_view body) {
  EntryMeta meta;
  meta.status = 200;
  meta.flags = flags;
  Slot slot = store.reserve(key, meta, 0, body.size());
  ASSERT_TRUE(slot.valid());
  if (!body.empty()) std::memcpy(slot.body, body.data(), body.size());
  ASSERT_TRUE(store.publish(slot, body.size()));
}

// What the glue does on a request: the base key, then the variant if the base is a marker.
std::string serve(CacheStore& store, std::string_view base, std::string_view accept_encoding) {
  Handle h = store.lookup(base);
  if (h.valid() && (h.meta.flags & kEntryVaryMarker) != 0) {
    store.release(h);
    h = store.lookup(variant(base, accept_encoding));
  }
  if (!h.valid()) return "MISS";
  std::string body(reinterpret_cast<const char*>(h.body), h.body_size);
  store.release(h);
  return body;
}

TEST(CacheVariantFlow, MarkerVariantsAndPurge) {
  Region region(64 * 1024);
  CacheStore store = CacheStore::create(region.data, region.size, 3);
  ASSERT_TRUE(store.valid());
  const std::string base = "GET /page";
  put(store, base, kEntryVaryMarker, "");
  put(store, variant(base, "gzip, br"), 0, "brotli-or-gzip body");
  put(store, variant(base, ""), 0, "identity body");
  put(store, "GET /pages", 0, "other page");

  // Clients in the same class share an entry whatever the order or weights they send.
  EXPECT_EQ(serve(store, base, "br;q=0.9, gzip"), "brotli-or-gzip body");
  EXPECT_EQ(serve(store, base, "deflate"), "identity body");
  EXPECT_EQ(serve(store, base, "gzip"), "MISS");
  EXPECT_EQ(serve(store, "GET /pages", "gzip"), "other page");

  // Purging the key: the base entry and everything under base + separator.
  EXPECT_TRUE(store.purge_exact(base));
  EXPECT_EQ(store.purge_prefix(base + kVariantSeparator), 2u);
  EXPECT_EQ(serve(store, base, "gzip, br"), "MISS");
  EXPECT_EQ(serve(store, "GET /pages", "gzip"), "other page");
  EXPECT_TRUE(store.verify());
}

}  // namespace
}  // namespace captain::cache
