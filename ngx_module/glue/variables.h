// $captain_request_id and the trace context variables.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t add_variables(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
