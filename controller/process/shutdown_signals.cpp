#include "controller/process/shutdown_signals.h"

#include <pthread.h>

#include <system_error>
#include <utility>

namespace captain::process {

sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  }
  return set;
}

ShutdownWatcher::ShutdownWatcher(sigset_t signals, std::function<void(int)> on_signal)
    : signals_(signals), on_signal_(std::move(on_signal)), thread_([this] { watch(); }) {}

ShutdownWatcher::~ShutdownWatcher() {
  closing_.store(true);
  // A signal aimed at the watcher thread itself: its sigwait() returns, sees closing_ and
  // quits. If it already returned after a real signal, the pending one is simply never taken.
  int wake = SIGTERM;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&signals_, sig) == 1) {
      wake = sig;
      break;
    }
  }
  pthread_kill(thread_.native_handle(), wake);
  thread_.join();
}

void ShutdownWatcher::watch() {
  int sig = 0;
  // sigwait() fails only for an invalid set, which block_shutdown_signals() never returns.
  if (sigwait(&signals_, &sig) != 0 || closing_.load()) return;
  on_signal_(sig);
}

const char* shutdown_signal_name(int signal) noexcept {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "signal";
  }
}

}  // namespace captain::process
