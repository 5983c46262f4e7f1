// SIGTERM/SIGINT as an ordinary function call: the signals are blocked in every thread and one
// watcher thread takes them with sigwait(), so the reaction may lock, log and stop the server
// (none of which is async-signal-safe in a handler).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace captain::process {

// Blocks SIGTERM and SIGINT in the calling thread and returns that set. Call first thing in
// main(), before any thread exists: threads inherit the mask, so none of them can take the
// signal and the watcher's sigwait() is the only receiver.
sigset_t block_shutdown_signals();

// Waits for the first signal of `signals` and passes its number to `on_signal` on the
// watcher thread. Later signals stay blocked (pending) and are ignored: the first one already
// started the graceful stop. Destroying the watcher wakes and joins its thread without calling
// `on_signal`, so declare it after everything `on_signal` touches.
class ShutdownWatcher {
 public:
  ShutdownWatcher(sigset_t signals, std::function<void(int signal)> on_signal);
  ~ShutdownWatcher();

  ShutdownWatcher(const ShutdownWatcher&) = delete;
  ShutdownWatcher& operator=(const ShutdownWatcher&) = delete;

 private:
  void watch();

  sigset_t signals_;
  std::function<void(int)> on_signal_;
  std::atomic<bool> closing_{false};
  std::thread thread_;  // last: starts once the members above are ready
};

// "SIGTERM", "SIGINT", or "signal" for any other.
const char* shutdown_signal_name(int signal) noexcept;

}  // namespace captain::process
