// A lock word in shared memory that survives its holder's death.
//
// nginx workers share zones; any of them can be killed at any instant (OOM killer, SIGKILL, a
// crash elsewhere in the worker). A plain spinlock taken by a worker that dies stays taken and
// every other worker then spins on it forever. This lock records its holder (the thread id,
// which is the pid in a single-threaded nginx worker), and a waiter that finds the holder gone
// takes the lock over and is told so (LockResult::recovered): the data the holder was changing
// may be half-changed, so the caller repairs or discards it before using it.
//
// A waiter never spins unbounded: past `LockBudget::wait_ms` with a live holder (a holder
// descheduled for that long, or a dead holder's id reused by an unrelated process) it gives up
// with LockResult::busy, and the caller carries on without the shared structure. (A reused id
// would make every wait time out until that process ends; with Linux's default pid_max of 4M on
// 64-bit systems, a dead worker's pid is reused only after millions of other processes.)
//
// Why not a robust pthread mutex (PTHREAD_MUTEX_ROBUST in shared memory)? It detects a dead
// owner too, but it is an opaque glibc structure placed in a zone that outlives nginx binaries
// across reloads and upgrades, and its waiters sleep in the kernel; the critical sections here
// last nanoseconds, so a spin-then-yield word (one CAS when free, like nginx's own ngx_shmtx)
// is cheaper, and the same holder ids let the cache reclaim a dead writer's reservation.
#pragma once

#include <atomic>
#include <cstdint>

namespace captain {

enum class LockResult : std::uint8_t {
  acquired,   // the lock is ours; the data is as its last holder left it
  recovered,  // the lock is ours, taken from a dead holder: repair before use
  busy,       // a live holder kept it past the budget; the lock is not ours
};

struct LockBudget {
  std::uint32_t wait_ms = 1000;  // critical sections take microseconds; a full purge, milliseconds
};

// Plain data: one word, 0 when free, else the holder's thread id. Zero-initialised is free.
struct ShmLockWord {
  std::atomic<std::uint32_t> holder;
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "a lock word in shared memory must be a lock-free atomic");

LockResult shm_lock_acquire(ShmLockWord& word, const LockBudget& budget = {});
void shm_lock_release(ShmLockWord& word);

// This thread's id, cached (a fork resets the cache in the child).
std::uint32_t current_thread_id();

// Whether `id` names no running thread. Another user's live process counts as running.
bool thread_is_gone(std::uint32_t id);

// Fault injection for tests: called right after every successful acquire, while the lock is
// held. nullptr (the default) in production; see module fault hooks in README.
using LockFaultHook = void (*)();
void set_lock_fault_hook(LockFaultHook hook);

}  // namespace captain
