// Deploy progress per app as the caprover CLI polls it (GET /api/v2/user/apps/appData/<app>):
// isAppBuilding, isBuildFailed and the last 50 log lines. The window imitates CapRover's:
// always 50 lines, padded with "" at first, and firstLineNumber = lines logged - 50, so the
// CLI prints each line exactly once without a "[[ TRUNCATED ]]" marker.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace captain::deploy {

inline constexpr std::size_t kBuildLogLines = 50;

struct BuildStatus {
  bool building = false;
  bool failed = false;
  std::int64_t first_line_number = -static_cast<std::int64_t>(kBuildLogLines);
  std::vector<std::string> lines = std::vector<std::string>(kBuildLogLines);
};

class BuildLogs {
 public:
  // A deploy starts: clears the window, building = true, failed = false.
  void start(const std::string& app);
  // A step of a deploy already under way (a queued build begins): building = true,
  // failed = false, the window kept so a CLI following it misses no line.
  void resume(const std::string& app);
  // A deploy is queued: the app reads as building until release(), whatever finishes meanwhile
  // (isAppBuilding is true from upload to rollout end).
  void hold(const std::string& app);
  void release(const std::string& app);
  void log(const std::string& app, const std::string& line);
  void finish(const std::string& app, bool failed);
  void forget(const std::string& app);  // the app was deleted

  // An app never deployed reads as not building with an empty window (as CapRover answers).
  BuildStatus status(const std::string& app) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, BuildStatus> apps_;
  std::map<std::string, int> holds_;
};

}  // namespace captain::deploy
