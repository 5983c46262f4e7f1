// Fault injection for the reliability tests, off unless nginx.conf passes its variable through:
//   env CAPTAIN_FAULT_KILL_IN_LOCK=N:/path/marker;
// makes the first worker to reach its Nth zone-lock acquisition (and to create the marker file,
// so it happens once, not in every respawned worker) kill itself with SIGKILL while holding the
// lock — the instant a real OOM kill would do the most harm.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

void install_fault_hooks(ngx_log_t* log) noexcept;

}  // namespace captain::glue
