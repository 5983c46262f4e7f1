#include "controller/api/app_list_cache.h"

namespace captain::api {

std::shared_ptr<const std::string> AppListCache::get() const {
  std::lock_guard lock(mutex_);
  return cached_generation_ == generation() ? cached_ : nullptr;
}

void AppListCache::put(std::uint64_t generation_at_read,
                       std::shared_ptr<const std::string> rendered) {
  std::lock_guard lock(mutex_);
  if (generation_at_read != generation()) return;  // already stale
  cached_generation_ = generation_at_read;
  cached_ = std::move(rendered);
}

}  // namespace captain::api
