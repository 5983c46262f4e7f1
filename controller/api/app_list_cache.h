// The rendered response of GET /api/v2/user/apps/appDefinitions, kept until something changes.
// Rendering 1,000 apps (parse each stored definition, build CapRover's shape, serialize) costs
// tens of milliseconds; the list is read far more often than apps change (the caprover CLI
// fetches it before every command), so a hit serves the bytes rendered last time.
//
// Invalidation is a generation counter bumped after every committed mutation and every change
// of an app's build state. A reader notes the generation before it reads the store and stores
// its rendering under that generation; a change that lands meanwhile bumps the counter, so
// that rendering is never served.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace captain::api {

class AppListCache {
 public:
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  void invalidate() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

  // The rendering if it is of the current generation.
  std::shared_ptr<const std::string> get() const;
  void put(std::uint64_t generation, std::shared_ptr<const std::string> rendered);

 private:
  std::atomic<std::uint64_t> generation_{1};
  mutable std::mutex mutex_;
  std::uint64_t cached_generation_ = 0;
  std::shared_ptr<const std::string> cached_;
};

}  // namespace captain::api
