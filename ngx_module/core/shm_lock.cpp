// The dead-holder-aware shared-memory lock: spin, yield, check the holder, take over or give up.
#include "ngx_module/core/shm_lock.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace captain {
namespace {

thread_local std::uint32_t tls_thread_id = 0;
// Atomic only so that tests may change it while another thread is inside a lock.
std::atomic<LockFaultHook> fault_hook{nullptr};

void forget_thread_id() {
  tls_thread_id = 0;
}

std::uint64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// We hold no lock while waiting for one, so a holder with our own id is a dead worker whose pid
// the kernel gave to us.
bool holder_is_gone(std::uint32_t holder, std::uint32_t self) {
  return holder == self || thread_is_gone(holder);
}

bool try_take(ShmLockWord& word, std::uint32_t self) {
  std::uint32_t expected = 0;
  return word.holder.load(std::memory_order_relaxed) == 0 &&
         word.holder.compare_exchange_strong(expected, self, std::memory_order_acquire,
                                             std::memory_order_relaxed);
}

LockResult acquired(LockResult result) {
  if (const LockFaultHook hook = fault_hook.load(std::memory_order_relaxed)) hook();
  return result;
}

}  // namespace

std::uint32_t current_thread_id() {
  if (tls_thread_id == 0) {
    // A forked child inherits the parent's cached id; the handler makes it look again.
    static const int registered = pthread_atfork(nullptr, nullptr, forget_thread_id);
    (void)registered;
    tls_thread_id = static_cast<std::uint32_t>(syscall(SYS_gettid));
  }
  return tls_thread_id;
}

bool thread_is_gone(std::uint32_t id) {
  // kill(2) accepts any thread id on Linux. EPERM means a live process of another user.
  return kill(static_cast<pid_t>(id), 0) != 0 && errno == ESRCH;
}

LockResult shm_lock_acquire(ShmLockWord& word, const LockBudget& budget) {
  const std::uint32_t self = current_thread_id();
  // Holders never block, so a short spin usually wins.
  for (unsigned spins = 0; spins < 64; ++spins) {
    if (try_take(word, self)) return acquired(LockResult::acquired);
    cpu_relax();
  }
  // Past that the holder was descheduled, or is gone: yield, and look at the holder now and then
  // (a kill(2) costs a system call, like the yield).
  const std::uint64_t deadline = monotonic_us() + std::uint64_t{budget.wait_ms} * 1000;
  for (unsigned rounds = 0;; ++rounds) {
    if (try_take(word, self)) return acquired(LockResult::acquired);
    if (rounds % 16 == 0) {
      std::uint32_t holder = word.holder.load(std::memory_order_relaxed);
      // Only one waiter wins the takeover: the others see the word change and go on waiting.
      if (holder != 0 && holder_is_gone(holder, self) &&
          word.holder.compare_exchange_strong(holder, self, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
        return acquired(LockResult::recovered);
      }
      if (monotonic_us() >= deadline) return LockResult::busy;
    }
    sched_yield();
  }
}

void shm_lock_release(ShmLockWord& word) {
  word.holder.store(0, std::memory_order_release);
}

void set_lock_fault_hook(LockFaultHook hook) {
  fault_hook.store(hook, std::memory_order_relaxed);
}

}  // namespace captain
