// The rate-limit check: a preaccess-phase handler (after rewrite, like nginx's limit_req) that
// applies a location's captain_limit lines and rejects over-limit requests.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t init_rate_limit_phase(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
