// The per-route metrics recorder: a log-phase handler adding one finished request to this
// worker's counters (no lock, no hashing, no allocation).
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t init_metrics_log(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
