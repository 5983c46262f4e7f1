#include "ngx_module/glue/directives.h"

#include <optional>
#include <string>

#include "ngx_module/core/header_policy.h"
#include "shared/request_id/request_id.h"
#include "ngx_module/core/span_start.h"
#include "ngx_module/glue/conf_args.h"
#include "ngx_module/glue/loc_conf.h"

namespace captain::glue {

namespace {

char* invalid_argument(ngx_conf_t* cf, ngx_command_t* cmd, const ngx_str_t& token, const char* what,
                       const std::string& reason) noexcept {
  return invalid_token(cf, cmd, what, token, reason.c_str());
}

// Runs a directive body that may allocate C++ memory; no exception reaches nginx.
template <typename Body>
char* guarded(ngx_conf_t* cf, Body body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "captain: %s", e.what());
    return conf_error();
  }
}

}  // namespace

char* set_request_id_format(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->request_id_format != NGX_CONF_UNSET_UINT) return const_cast<char*>("is duplicate");

  const ngx_str_t& arg = static_cast<ngx_str_t*>(cf->args->elts)[1];
  if (to_view(arg) == "uuid") {
    lcf->request_id_format = static_cast<ngx_uint_t>(RequestIdFormat::uuid);
  } else if (to_view(arg) == "hex") {
    lcf->request_id_format = static_cast<ngx_uint_t>(RequestIdFormat::hex);
  } else {
    return invalid_argument(cf, cmd, arg, "value", "it must be \"uuid\" or \"hex\"");
  }
  return NGX_CONF_OK;
}

char* set_trace_sample_rate(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->trace_sample_ppm != NGX_CONF_UNSET_UINT) return const_cast<char*>("is duplicate");

  const ngx_str_t& arg = static_cast<ngx_str_t*>(cf->args->elts)[1];
  const std::optional<std::uint32_t> ppm = parse_sample_rate_ppm(to_view(arg));
  if (!ppm) {
    return invalid_argument(cf, cmd, arg, "value",
                            "it must be a ratio from 0 to 1 with at most 6 decimals, like 0.25");
  }
  lcf->trace_sample_ppm = *ppm;
  return NGX_CONF_OK;
}

char* add_security_header(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  return guarded(cf, [&]() -> char* {
    auto* lcf = static_cast<LocConf*>(conf);
    auto* args = static_cast<ngx_str_t*>(cf->args->elts);
    const ngx_str_t& name = args[1];
    const ngx_str_t& value = args[2];

    if (auto reason = check_header_name(to_view(name))) {
      return invalid_argument(cf, cmd, name, "header name", *reason);
    }
    if (auto reason = check_settable_header(to_view(name))) {
      return invalid_argument(cf, cmd, name, "header name", *reason);
    }
    if (auto reason = check_header_value(to_view(value))) {
      return invalid_argument(cf, cmd, value, "header value", *reason);
    }

    ngx_uint_t if_absent = 0;
    if (cf->args->nelts == 4) {
      if (to_view(args[3]) != "if_absent") {
        return invalid_argument(cf, cmd, args[3], "parameter", "the only one is \"if_absent\"");
      }
      if (value.len == 0) {
        return invalid_argument(cf, cmd, args[3], "parameter",
                                "an empty value removes the header; \"if_absent\" cannot apply");
      }
      if_absent = 1;
    }

    if (lcf->header_directives == nullptr) {
      lcf->header_directives = ngx_array_create(cf->pool, 4, sizeof(HeaderDirective));
      if (lcf->header_directives == nullptr) return conf_error();
    }
    auto* d = static_cast<HeaderDirective*>(ngx_array_push(lcf->header_directives));
    if (d == nullptr) return conf_error();
    *d = HeaderDirective{name, value, if_absent};
    return static_cast<char*>(NGX_CONF_OK);
  });
}

char* add_hide_header(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  return guarded(cf, [&]() -> char* {
    auto* lcf = static_cast<LocConf*>(conf);
    auto* args = static_cast<ngx_str_t*>(cf->args->elts);

    for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
      if (auto reason = check_header_name(to_view(args[i]))) {
        return invalid_argument(cf, cmd, args[i], "header name", *reason);
      }
      if (auto reason = check_hideable_header(to_view(args[i]))) {
        return invalid_argument(cf, cmd, args[i], "header name", *reason);
      }
      if (lcf->hide_directives == nullptr) {
        lcf->hide_directives = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (lcf->hide_directives == nullptr) return conf_error();
      }
      auto* slot = static_cast<ngx_str_t*>(ngx_array_push(lcf->hide_directives));
      if (slot == nullptr) return conf_error();
      *slot = args[i];
    }
    return static_cast<char*>(NGX_CONF_OK);
  });
}

}  // namespace captain::glue
