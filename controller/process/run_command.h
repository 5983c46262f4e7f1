// Runs a program (no shell) and collects what it wrote to stdout and stderr, with a time limit:
// how the controller calls `nginx -t`.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "controller/common/expected.h"

namespace captain::process {

struct CommandResult {
  int exit_status = -1;  // the program's exit status; -1 if it was killed by a signal
  std::string output;    // stdout and stderr interleaved, at most kMaxOutputBytes
  bool timed_out = false;
};

inline constexpr std::size_t kMaxOutputBytes = 64 * 1024;

// argv[0] is the program path. An error only when the program could not be started.
// `extra_env` ("NAME=value") is added to (or replaces in) the controller's own environment.
Expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                 std::chrono::milliseconds timeout,
                                                 const std::vector<std::string>& extra_env = {});

}  // namespace captain::process
