#include "controller/deploy/build_log.h"

namespace captain::deploy {

void BuildLogs::start(const std::string& app) {
  std::lock_guard lock(mutex_);
  // A fresh window (firstLineNumber back to -50), as CapRover's clear(): the CLI starts every
  // deploy with no lines printed, and a window starting at or above 0 makes it print
  // "[[ TRUNCATED ]]".
  auto& status = apps_[app];
  status = BuildStatus{};
  status.building = true;
}

void BuildLogs::resume(const std::string& app) {
  std::lock_guard lock(mutex_);
  auto& status = apps_[app];
  status.building = true;
  status.failed = false;
}

void BuildLogs::hold(const std::string& app) {
  std::lock_guard lock(mutex_);
  ++holds_[app];
}

void BuildLogs::release(const std::string& app) {
  std::lock_guard lock(mutex_);
  if (auto it = holds_.find(app); it != holds_.end() && --it->second <= 0) holds_.erase(it);
}

void BuildLogs::log(const std::string& app, const std::string& line) {
  std::lock_guard lock(mutex_);
  auto& status = apps_[app];
  status.lines.erase(status.lines.begin());
  status.lines.push_back(line);
  ++status.first_line_number;
}

void BuildLogs::finish(const std::string& app, bool failed) {
  std::lock_guard lock(mutex_);
  auto& status = apps_[app];
  status.building = false;
  status.failed = failed;
}

void BuildLogs::forget(const std::string& app) {
  std::lock_guard lock(mutex_);
  apps_.erase(app);
  holds_.erase(app);
}

BuildStatus BuildLogs::status(const std::string& app) const {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(app);
  BuildStatus status = it == apps_.end() ? BuildStatus{} : it->second;
  if (holds_.count(app) != 0) status.building = true;
  return status;
}

}  // namespace captain::deploy
