// The shared-memory lock: mutual exclusion, takeover from a dead holder (a real process killed
// while holding it), a stale holder with our own id, a live holder past the budget.
#include "ngx_module/core/shm_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace captain {
namespace {

// A lock word in memory shared with forked children, as in an nginx zone.
class SharedWord {
 public:
  SharedWord()
      : word_(static_cast<ShmLockWord*>(mmap(nullptr, sizeof(ShmLockWord), PROT_READ | PROT_WRITE,
                                             MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    word_->holder.store(0);
  }
  ~SharedWord() { munmap(word_, sizeof(ShmLockWord)); }
  SharedWord(const SharedWord&) = delete;
  SharedWord& operator=(const SharedWord&) = delete;
  ShmLockWord& operator*() const { return *word_; }

 private:
  ShmLockWord* word_;
};

void wait_for(pid_t child) {
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
}

TEST(ShmLock, FreeLockIsAcquiredAndReleased) {
  SharedWord word;
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::acquired);
  EXPECT_EQ((*word).holder.load(), current_thread_id());
  shm_lock_release(*word);
  EXPECT_EQ((*word).holder.load(), 0u);
}

TEST(ShmLock, HolderKilledWhileHoldingIsTakenOver) {
  SharedWord word;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (shm_lock_acquire(*word) != LockResult::acquired) _exit(1);
    raise(SIGKILL);
  }
  wait_for(child);
  EXPECT_EQ((*word).holder.load(), static_cast<std::uint32_t>(child));
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::recovered);
  EXPECT_EQ((*word).holder.load(), current_thread_id());
  shm_lock_release(*word);
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::acquired);
  shm_lock_release(*word);
}

// A new worker may get the pid of the worker that died holding the lock.
TEST(ShmLock, HolderWithOurOwnIdIsStale) {
  SharedWord word;
  (*word).holder.store(current_thread_id());
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::recovered);
  shm_lock_release(*word);
}

TEST(ShmLock, LiveHolderPastTheBudgetIsBusyNotAnEndlessSpin) {
  SharedWord word;
  std::atomic<bool> held{false}, done{false};
  std::thread holder([&] {
    ASSERT_EQ(shm_lock_acquire(*word), LockResult::acquired);
    held = true;
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    shm_lock_release(*word);
  });
  while (!held) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(shm_lock_acquire(*word, LockBudget{50}), LockResult::busy);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(50));
  EXPECT_LT(waited, std::chrono::seconds(5));
  done = true;
  holder.join();
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::acquired);
  shm_lock_release(*word);
}

TEST(ShmLock, ExcludesOtherThreads) {
  SharedWord word;
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  std::uint64_t counter = 0;  // plain: only the lock orders the increments
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        ASSERT_EQ(shm_lock_acquire(*word), LockResult::acquired);
        ++counter;
        shm_lock_release(*word);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, std::uint64_t{kThreads} * kRounds);
}

TEST(ShmLock, ForkedChildHasItsOwnId) {
  const std::uint32_t parent = current_thread_id();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::uint32_t id = current_thread_id();
    const ssize_t n = write(pipe_fds[1], &id, sizeof id);
    _exit(n == sizeof id ? 0 : 1);
  }
  std::uint32_t child_id = 0;
  ASSERT_EQ(read(pipe_fds[0], &child_id, sizeof child_id), static_cast<ssize_t>(sizeof child_id));
  wait_for(child);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  EXPECT_EQ(child_id, static_cast<std::uint32_t>(child));
  EXPECT_NE(child_id, parent);
}

TEST(ShmLock, ThreadIsGoneOnlyForIdsWithoutAThread) {
  EXPECT_FALSE(thread_is_gone(current_thread_id()));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  wait_for(child);
  EXPECT_TRUE(thread_is_gone(static_cast<std::uint32_t>(child)));
}

int hook_calls = 0;

TEST(ShmLock, FaultHookRunsWhileTheLockIsHeld) {
  SharedWord word;
  hook_calls = 0;
  set_lock_fault_hook([] { ++hook_calls; });
  EXPECT_EQ(shm_lock_acquire(*word), LockResult::acquired);
  set_lock_fault_hook(nullptr);
  EXPECT_EQ(hook_calls, 1);
  shm_lock_release(*word);
}

}  // namespace
}  // namespace captain
