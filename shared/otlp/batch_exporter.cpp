#include "shared/otlp/batch_exporter.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "shared/otlp/otlp_http.h"
#include "shared/otlp/otlp_json.h"

namespace captain::otlp {

BatchExporter::BatchExporter(ExportConfig config, Resource resource, Scope scope,
                             SpanSource& source, OutcomeSink on_outcome)
    : config_(std::move(config)),
      resource_(std::move(resource)),
      scope_(std::move(scope)),
      source_(source),
      on_outcome_(std::move(on_outcome)) {
  if (config_.batch == 0) config_.batch = 1;
}

BatchExporter::~BatchExporter() {
  stop(std::chrono::milliseconds(0));
}

bool BatchExporter::start(std::string* error) {
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::exception& e) {
    *error = e.what();
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return thread_.joinable();
}

void BatchExporter::stop(std::chrono::milliseconds flush_budget) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + flush_budget;
    }
  }
  wakeup_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BatchExporter::run() {
  OtlpHttpClient client(config_.url);
  const std::string prefix = traces_json_prefix(resource_, scope_);
  std::string body;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wakeup_.wait_for(lock, config_.interval,
                     [this] { return stopping_ || source_.pending() >= config_.batch; });
    const bool stopping = stopping_;
    const auto deadline = deadline_;
    lock.unlock();
    while (source_.pending() > 0) {
      body.assign(prefix);
      const std::size_t taken = source_.take_json(config_.batch, body);
      if (taken == 0) break;
      body += kTracesJsonSuffix;
      BatchOutcome outcome;
      outcome.spans = taken;
      auto timeout = config_.timeout;
      if (stopping) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        timeout = std::min(timeout, left);
      }
      if (timeout.count() <= 0) {
        outcome.error = "not sent: the shutdown flush ran out of time";
      } else {
        const PostResult posted = client.post(body, kJsonContentType, timeout);
        outcome.delivered = posted.delivered;
        outcome.http_status = posted.http_status;
        outcome.error = posted.error;
      }
      if (on_outcome_) on_outcome_(outcome);
      // A partial batch while running: the rest waits for the next wake-up.
      if (!stopping && taken < config_.batch) break;
    }
    lock.lock();
    if (stopping) return;
  }
}

bool LockedSpanQueue::push(SpanData span) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (spans_.size() >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  spans_.push_back(std::move(span));
  size_.store(spans_.size(), std::memory_order_relaxed);
  return true;
}

std::size_t LockedSpanQueue::take_json(std::size_t max, std::string& out) {
  std::vector<SpanData> taken;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t n = std::min(max, spans_.size());
    taken.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      taken.push_back(std::move(spans_.front()));
      spans_.pop_front();
    }
    size_.store(spans_.size(), std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < taken.size(); ++i) {
    if (i != 0) out += ',';
    append_span_json(out, taken[i]);
  }
  return taken.size();
}

}  // namespace captain::otlp
