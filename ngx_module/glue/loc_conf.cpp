#include "ngx_module/glue/loc_conf.h"

#include "ngx_module/core/header_policy.h"
#include "shared/request_id/request_id.h"
#include "ngx_module/core/span_start.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"

namespace captain::glue {

namespace {

HeaderPolicy to_policy(const CompiledPolicy& compiled) {
  HeaderPolicy p;
  for (ngx_uint_t i = 0; i < compiled.count; ++i) {
    const PolicyHeader& e = compiled.entries[i];
    if (e.hide) {
      p.hidden.emplace_back(to_view(e.name));
    } else {
      p.headers.push_back({std::string(to_view(e.name)), std::string(to_view(e.value)),
                           e.if_absent ? HeaderAction::set_if_absent : HeaderAction::set});
    }
  }
  return p;
}

HeaderOverrides declared_overrides(const LocConf& conf) {
  HeaderOverrides own;
  if (conf.header_directives != nullptr) {
    auto* d = static_cast<HeaderDirective*>(conf.header_directives->elts);
    for (ngx_uint_t i = 0; i < conf.header_directives->nelts; ++i) {
      const HeaderAction action = d[i].value.len == 0 ? HeaderAction::remove
                                  : d[i].if_absent    ? HeaderAction::set_if_absent
                                                      : HeaderAction::set;
      own.rules.push_back(
          {std::string(to_view(d[i].name)), std::string(to_view(d[i].value)), action});
    }
  }
  if (conf.hide_directives != nullptr) {
    auto* names = static_cast<ngx_str_t*>(conf.hide_directives->elts);
    for (ngx_uint_t i = 0; i < conf.hide_directives->nelts; ++i) {
      own.hidden.emplace_back(to_view(names[i]));
    }
  }
  return own;
}

bool copy_to_pool(ngx_pool_t* pool, std::string_view text, ngx_str_t* out) noexcept {
  out->len = text.size();
  out->data = static_cast<u_char*>(ngx_pnalloc(pool, text.size() + 1));
  if (out->data == nullptr) return false;
  ngx_memcpy(out->data, text.data(), text.size());
  out->data[text.size()] = '\0';
  return true;
}

bool build_block(ngx_conf_t* cf, const CompiledPolicy& policy, bool tls, HeaderBlock* block) {
  block->elts = static_cast<ngx_table_elt_t*>(
      ngx_pcalloc(cf->pool, sizeof(ngx_table_elt_t) * (policy.count + 1)));
  if (block->elts == nullptr) return false;
  for (ngx_uint_t i = 0; i < policy.count; ++i) {
    const PolicyHeader& e = policy.entries[i];
    if (e.hide || (e.tls_only && !tls)) continue;
    ngx_table_elt_t& h = block->elts[block->count++];
    h.hash = 1;
    h.key = e.name;
    h.value = e.value;
  }
  return true;
}

CompiledPolicy* compile(ngx_conf_t* cf, const HeaderPolicy& policy) {
  const std::size_t count = policy.headers.size() + policy.hidden.size();
  if (count > kMaxPolicyEntries) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "too many headers in \"captain_security_header\" and "
                       "\"captain_hide_header\": %uz, at most %uz per location",
                       count, kMaxPolicyEntries);
    return nullptr;
  }

  auto* compiled = static_cast<CompiledPolicy*>(ngx_pcalloc(cf->pool, sizeof(CompiledPolicy)));
  if (compiled == nullptr) return nullptr;
  compiled->entries =
      static_cast<PolicyHeader*>(ngx_pcalloc(cf->pool, sizeof(PolicyHeader) * (count + 1)));
  if (compiled->entries == nullptr) return nullptr;

  // Hidden names first: the response filter strips before it adds.
  for (const auto& name : policy.hidden) {
    PolicyHeader& e = compiled->entries[compiled->count++];
    if (!copy_to_pool(cf->pool, name, &e.name)) return nullptr;
    e.hide = true;
    e.hides_server = header_names_equal(name, "Server");
    compiled->hides_server = compiled->hides_server || e.hides_server;
  }
  for (const auto& h : policy.headers) {
    PolicyHeader& e = compiled->entries[compiled->count++];
    if (!copy_to_pool(cf->pool, h.name, &e.name) || !copy_to_pool(cf->pool, h.value, &e.value)) {
      return nullptr;
    }
    e.if_absent = h.action == HeaderAction::set_if_absent;
    e.tls_only = is_tls_only_header(h.name);
  }

  if (!build_block(cf, *compiled, false, &compiled->plain) ||
      !build_block(cf, *compiled, true, &compiled->tls)) {
    return nullptr;
  }
  return compiled;
}

bool declares_headers(const LocConf& conf) noexcept {
  return conf.header_directives != nullptr || conf.hide_directives != nullptr;
}

// The effective policy of `conf` given the one it inherits (nullptr: the built-in defaults).
CompiledPolicy* effective_policy(ngx_conf_t* cf, LocConf* conf, CompiledPolicy* inherited) {
  if (conf->policy != nullptr) return conf->policy;
  if (inherited != nullptr && !declares_headers(*conf)) {
    conf->policy = inherited;
    return conf->policy;
  }
  const HeaderPolicy base = inherited ? to_policy(*inherited) : default_security_policy();
  conf->policy = compile(cf, merge_policy(base, declared_overrides(*conf)));
  return conf->policy;
}

}  // namespace

void* create_loc_conf(ngx_conf_t* cf) noexcept {
  auto* conf = static_cast<LocConf*>(ngx_pcalloc(cf->pool, sizeof(LocConf)));
  if (conf == nullptr) return nullptr;
  conf->request_id = NGX_CONF_UNSET;
  conf->request_id_format = NGX_CONF_UNSET_UINT;
  conf->response_time = NGX_CONF_UNSET;
  conf->trace = NGX_CONF_UNSET;
  conf->trace_sample_ppm = NGX_CONF_UNSET_UINT;
  conf->security_headers = NGX_CONF_UNSET;
  conf->limit_headers = NGX_CONF_UNSET_UINT;
  conf->metrics_zone = NGX_CONF_UNSET_PTR;
  conf->cache = NGX_CONF_UNSET_PTR;
  return conf;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent_ptr, void* child_ptr) noexcept {
  auto* prev = static_cast<LocConf*>(parent_ptr);
  auto* conf = static_cast<LocConf*>(child_ptr);

  ngx_conf_merge_value(conf->request_id, prev->request_id, 1);
  ngx_conf_merge_uint_value(conf->request_id_format, prev->request_id_format,
                            static_cast<ngx_uint_t>(RequestIdFormat::uuid));
  ngx_conf_merge_value(conf->response_time, prev->response_time, 0);
  ngx_conf_merge_value(conf->trace, prev->trace, 0);
  ngx_conf_merge_uint_value(conf->trace_sample_ppm, prev->trace_sample_ppm, kSampleAll);
  ngx_conf_merge_value(conf->security_headers, prev->security_headers, 0);
  if (conf->limits == nullptr) conf->limits = prev->limits;
  ngx_conf_merge_ptr_value(conf->cache, prev->cache, nullptr);
  if (merge_metrics(cf, prev, conf) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
  ngx_conf_merge_uint_value(conf->limit_headers, prev->limit_headers,
                            static_cast<ngx_uint_t>(LimitHeaders::legacy));

  try {
    // The http-level configuration is never merged itself; it is only ever a parent, so its
    // policy is built here from the defaults the first time a child needs it.
    CompiledPolicy* inherited = prev->policy;
    if (inherited == nullptr) inherited = effective_policy(cf, prev, nullptr);
    if (inherited == nullptr || effective_policy(cf, conf, inherited) == nullptr) {
      return static_cast<char*>(NGX_CONF_ERROR);
    }
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "captain: %s", e.what());
    return static_cast<char*>(NGX_CONF_ERROR);
  }

  if (declares_headers(*conf) && !conf->security_headers) {
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"captain_security_header\" and \"captain_hide_header\" have no effect "
                       "where \"captain_security_headers\" is off");
  }
  return NGX_CONF_OK;
}

}  // namespace captain::glue
