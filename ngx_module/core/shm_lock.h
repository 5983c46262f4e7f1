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
// with LockResult::busy, and the caller carries on without the shared structure.
//
// Why not a robust pthread mutex (PTHREAD_MUTEX_ROBUST in shared memory)? It works across
// processes but its owner list is kept per thread by the kernel and glibc, and the zone outlives
// nginx reloads, which remap it; nginx's own ngx_shmtx likewise records the holder's pid and has
// the master force-unlock it when a worker dies, a hook modules do not get.
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
