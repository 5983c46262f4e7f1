#include "controller/deploy/work_queue.h"

namespace captain::deploy {

void WorkQueue::enqueue(const std::string& app) {
  if (running_.count(app) != 0) {
    again_.insert(app);
  } else if (queued_.insert(app).second) {
    queue_.push_back(app);
  }
}

void WorkQueue::push(const std::vector<std::string>& apps, const api::RequestContext& context,
                     bool keep_context) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& app : apps) {
      if (keep_context) {
        contexts_.emplace(app, context);
      } else {
        contexts_[app] = context;
      }
      retry_.erase(app);
      enqueue(app);
    }
  }
  wake_.notify_all();
}

std::optional<WorkQueue::Item> WorkQueue::take() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (stopping_) return std::nullopt;
  Item item{queue_.front(), {}};
  queue_.pop_front();
  queued_.erase(item.app);
  running_.insert(item.app);
  if (auto it = contexts_.find(item.app); it != contexts_.end()) {
    item.context = std::move(it->second);
    contexts_.erase(it);
  }
  return item;
}

bool WorkQueue::done(const std::string& app, ConvergeResult result) {
  bool idle_now;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    running_.erase(app);
    const bool again = again_.erase(app) != 0;
    if (again || result == ConvergeResult::conflict) {
      wake = queued_.insert(app).second;
      if (wake) queue_.push_back(app);
    } else if (result == ConvergeResult::retry) {
      retry_.insert(app);
    }
    idle_now = queue_.empty() && running_.empty();
  }
  if (wake) wake_.notify_one();
  return idle_now;
}

void WorkQueue::retry_waiting() {
  {
    std::lock_guard lock(mutex_);
    if (retry_.empty()) return;
    for (const auto& app : retry_) enqueue(app);
    retry_.clear();
  }
  wake_.notify_all();
}

bool WorkQueue::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && running_.empty();
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

}  // namespace captain::deploy
