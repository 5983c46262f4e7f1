// Ships finished spans as OTLP/HTTP from one background thread: it wakes when a batch is full
// or the interval passes, takes spans from a SpanSource and posts them in batches. Producers
// never wait on it: they hand spans to the source (a lock-free ring in nginx workers, a locked
// queue in the controller), which drops and counts when full.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shared/otlp/span_data.h"

namespace captain::otlp {

class SpanSource {
 public:
  virtual ~SpanSource() = default;
  // Appends up to max queued spans to out as OTLP JSON span objects separated by ',' (see
  // otlp_json.h) and returns how many; called by the export thread only. Sources encode
  // straight from their own storage, so a span is never copied into a SpanData on the way.
  virtual std::size_t take_json(std::size_t max, std::string& out) = 0;
  // Spans waiting; may lag a concurrent push.
  virtual std::size_t pending() const noexcept = 0;
};

struct ExportConfig {
  std::string url;                           // from traces_url()
  std::size_t batch = 512;                   // spans per request at most
  std::chrono::milliseconds interval{5000};  // longest a span waits for a partial batch
  std::chrono::milliseconds timeout{5000};   // per request
};

// What became of one batch; the owner counts these (status endpoint, /metrics).
struct BatchOutcome {
  std::size_t spans = 0;
  bool delivered = false;
  long http_status = 0;
  std::string error;
};

class BatchExporter {
 public:
  using OutcomeSink = std::function<void(const BatchOutcome&)>;

  BatchExporter(ExportConfig config, Resource resource, Scope scope, SpanSource& source,
                OutcomeSink on_outcome);
  ~BatchExporter();
  BatchExporter(const BatchExporter&) = delete;
  BatchExporter& operator=(const BatchExporter&) = delete;

  // Starts the thread with every signal blocked, so the process's signal handling (nginx's
  // master protocol, the controller's SIGTERM) stays on the threads that expect it.
  bool start(std::string* error);

  // A producer saw a full batch queued. No lock is taken: at worst the wake-up is missed and
  // the batch leaves at the next interval.
  void wake() noexcept { wakeup_.notify_one(); }

  // Ships what is queued, giving up once flush_budget has passed (spans left are reported as
  // one undelivered batch), and joins the thread. Idempotent.
  void stop(std::chrono::milliseconds flush_budget);

  const ExportConfig& config() const noexcept { return config_; }

 private:
  void run();
  // Ships everything queued now; false once the stop deadline has passed.
  void ship_pending(bool stopping, std::chrono::steady_clock::time_point deadline);

  ExportConfig config_;
  Resource resource_;
  Scope scope_;
  SpanSource& source_;
  OutcomeSink on_outcome_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;  // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

// A bounded multi-producer queue for processes where spans end on many threads (the
// controller). Pushing takes a mutex for one move; a full queue drops the span and counts it.
class LockedSpanQueue : public SpanSource {
 public:
  explicit LockedSpanQueue(std::size_t capacity) : capacity_(capacity) {}

  bool push(SpanData span);
  std::size_t take_json(std::size_t max, std::string& out) override;
  std::size_t pending() const noexcept override { return size_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::deque<SpanData> spans_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace captain::otlp
