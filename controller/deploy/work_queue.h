// The deployer's queue of apps to converge, coalesced: an app is queued at most once, never
// handed to two workers at once, and an app pushed while a worker has it is queued again when
// that pass ends (so the pass that runs last saw the latest store). Each app carries the request
// context of the change that queued it, for the audit log.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/api/request_context.h"

namespace captain::deploy {

// What a pass over one app came to.
enum class ConvergeResult {
  done,      // Swarm runs what the store says (or the app's version failed for good)
  retry,     // Docker was unavailable: the app goes round again once Docker answers
  conflict,  // someone changed the service since it was read: read again and redo, now
};

class WorkQueue {
 public:
  struct Item {
    std::string app;
    api::RequestContext context;
  };

  // Queues `apps`, all at once (a reconcile: no pass can end the batch before the last one is
  // in). `keep_context`: an app already waiting keeps the context it has (a client's change is
  // not relabelled as a reconcile).
  void push(const std::vector<std::string>& apps, const api::RequestContext& context,
            bool keep_context = false);
  void push(const std::string& app, const api::RequestContext& context) {
    push(std::vector<std::string>{app}, context);
  }

  // The next app to converge; nullopt once stopped.
  std::optional<Item> take();
  // The worker's pass over `app` ended. True when nothing is queued or running any more.
  bool done(const std::string& app, ConvergeResult result);
  // Queues again every app whose pass came to `retry` (call when Docker answers).
  void retry_waiting();

  // Nothing queued or running (apps waiting for Docker to answer do not count).
  bool idle() const;
  void stop();

 private:
  void enqueue(const std::string& app);  // with mutex_ held

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<std::string> queue_;
  std::set<std::string> queued_, running_, again_, retry_;
  std::map<std::string, api::RequestContext> contexts_;
};

}  // namespace captain::deploy
