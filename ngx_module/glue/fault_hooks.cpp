// See fault_hooks.h.
#include "ngx_module/glue/fault_hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ngx_module/core/shm_lock.h"

namespace captain::glue {
namespace {

std::uint64_t g_kill_at = 0;
std::uint64_t g_acquired = 0;
char g_marker[256] = {};

void kill_inside_nth_lock() {
  if (++g_acquired != g_kill_at) return;
  const int fd = open(g_marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return;  // another worker already did
  close(fd);
  raise(SIGKILL);
}

}  // namespace

void install_fault_hooks(ngx_log_t* log) noexcept {
  const char* spec = std::getenv("CAPTAIN_FAULT_KILL_IN_LOCK");
  if (spec == nullptr || *spec == '\0') return;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(spec, &end, 10);
  if (n == 0 || end == nullptr || *end != ':' || std::strlen(end + 1) == 0 ||
      std::strlen(end + 1) >= sizeof g_marker) {
    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "CAPTAIN_FAULT_KILL_IN_LOCK=\"%s\" is not N:/path/marker; no fault armed", spec);
    return;
  }
  g_kill_at = n;
  g_acquired = 0;
  std::strcpy(g_marker, end + 1);
  set_lock_fault_hook(kill_inside_nth_lock);
  ngx_log_error(NGX_LOG_WARN, log, 0,
                "fault armed: a worker kills itself inside zone-lock acquisition %uL", n);
}

}  // namespace captain::glue
