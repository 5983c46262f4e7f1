#include "controller/nginx/site_model.h"

#include <algorithm>

#include "controller/nginx/nginx_text.h"

namespace captain::nginx {
namespace {

using Effect = Diagnostic::Effect;

std::string prefixed(const std::string& app, const std::string& message) {
  return app.empty() ? message : "app \"" + app + "\": " + message;
}

Diagnostic diagnostic(Effect effect, const std::string& app, const TextError& e) {
  return Diagnostic{effect, app, e.field, e.line, prefixed(app, e.message)};
}

Diagnostic diagnostic(Effect effect, const std::string& app, const std::string& field,
                      const std::string& why) {
  return diagnostic(effect, app, TextError{field, 0, field + " " + why});
}

// The app's names (<app>.<root>, then its custom domains), each checked, or why the app
// cannot be served.
Expected<std::vector<std::string>, Diagnostic> names_of(const apps::AppDefinition& app,
                                                        const std::string& root) {
  std::vector<std::string> names;
  auto own = check_domain(app.app_name + "." + root, "appName");
  if (!own) return Unexpected(diagnostic(Effect::app_left_out, app.app_name, own.error()));
  names.push_back(*own);
  for (std::size_t d = 0; d < app.custom_domain.size(); ++d) {
    auto domain =
        check_domain(app.custom_domain[d].public_domain, "customDomain[" + std::to_string(d) + "]");
    if (!domain) return Unexpected(diagnostic(Effect::app_left_out, app.app_name, domain.error()));
    names.push_back(*domain);
  }
  return names;
}

std::string field_of_name(std::size_t index) {
  return index == 0 ? "appName" : "customDomain[" + std::to_string(index - 1) + "]";
}

}  // namespace

std::set<std::string> wanted_certificates(const std::string& root_domain, bool root_ssl,
                                          const std::vector<apps::AppDefinition>& apps) {
  std::set<std::string> out;
  if (root_ssl) out.insert("captain." + root_domain);
  for (const auto& app : apps) {
    if (app.not_expose_as_web_app) continue;
    if (app.has_default_sub_domain_ssl) out.insert(app.app_name + "." + root_domain);
    for (const auto& d : app.custom_domain) {
      if (d.has_ssl) out.insert(d.public_domain);
    }
  }
  return out;
}

Expected<SiteModel, RenderError> build_site_model(const CheckedSettings& settings,
                                                  const RenderState& state) {
  auto root = check_domain(state.root_domain, "rootDomain");
  if (!root) return Unexpected(RenderError{"", root.error().field, 0, root.error().message});
  SiteModel model;
  model.root_domain = *root;
  model.default_certificate = state.default_certificate;
  model.captain.name = "captain." + *root;

  const auto usable = [&](const std::string& domain) -> const CertificateLoad* {
    static const CertificateLoad kNone{std::nullopt, ""};
    auto it = state.certificates.find(domain);
    return it == state.certificates.end() ? &kNone : &it->second;
  };
  const auto why_not = [](const std::string& domain, const CertificateLoad& load) {
    return (load.problem.empty() ? "no certificate for " + domain : load.problem) +
           "; served over HTTP only";
  };

  if (state.root_ssl) {
    const CertificateLoad& load = *usable(model.captain.name);
    if (load.pem) {
      model.captain.tls = true;
      model.captain.force_ssl = state.root_force_ssl;
      model.certificates[model.captain.name] = *load.pem;
    } else {
      model.diagnostics.push_back(
          {Effect::served_without_tls, "", "hasRootSsl", 0, why_not(model.captain.name, load)});
    }
  }

  if (auto o = check_snippet(state.global_override, SnippetContext::http, "globalOverride"); o) {
    model.global_override = state.global_override;
  } else {
    model.diagnostics.push_back(diagnostic(Effect::override_left_out, "", o.error()));
  }

  std::vector<const apps::AppDefinition*> sorted;
  for (const auto& app : state.apps) sorted.push_back(&app);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->app_name < b->app_name; });
  // Every server name has exactly one owner; the first app (by name) keeps a contested one.
  std::map<std::string, std::string> owner{{model.captain.name, "the controller (captain root)"}};
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const apps::AppDefinition& app = *sorted[i];
    const auto leave_out = [&](Diagnostic d) { model.diagnostics.push_back(std::move(d)); };
    if (auto name = check_app_name(app.app_name); !name) {
      leave_out(diagnostic(Effect::app_left_out, app.app_name, name.error()));
      continue;
    }
    if (i > 0 && sorted[i - 1]->app_name == app.app_name) {
      leave_out(diagnostic(Effect::app_left_out, app.app_name, "appName",
                           "\"" + app.app_name + "\" is defined twice"));
      continue;
    }
    if (app.not_expose_as_web_app) continue;
    auto names = names_of(app, *root);
    if (!names) {
      leave_out(names.error());
      continue;
    }
    bool conflict = false;
    for (std::size_t k = 0; k < names->size() && !conflict; ++k) {
      auto it = owner.find((*names)[k]);
      if (it != owner.end()) {
        leave_out(diagnostic(Effect::app_left_out, app.app_name, field_of_name(k),
                             "\"" + (*names)[k] + "\" is already served by " + it->second));
        conflict = true;
      }
    }
    if (conflict) continue;
    if (app.rate_limit) {
      if (auto r = check_rate(*app.rate_limit); !r) {
        leave_out(diagnostic(Effect::app_left_out, app.app_name, r.error()));
        continue;
      }
    }
    if (!app.header_policy.empty() && app.header_policy != "default" &&
        app.header_policy != "strict" && app.header_policy != "off") {
      leave_out(diagnostic(
          Effect::app_left_out, app.app_name, "headerPolicy",
          "\"" + std::string(check_app_name(app.header_policy) ? app.header_policy : "?") +
              "\" is not a known policy (default, strict or off)"));
      continue;
    }
    if (app.container_http_port < 1 || app.container_http_port > 65535) {
      leave_out(diagnostic(Effect::app_left_out, app.app_name, "containerHttpPort",
                           "must be 1 to 65535"));
      continue;
    }

    AppSite site;
    site.name = app.app_name;
    site.rate_limit = app.rate_limit;
    site.cache = app.cache;
    site.websocket = app.websocket_support;
    site.header_policy = app.header_policy;
    if (state.routable_apps.count(app.app_name) != 0) {
      if (settings.s.upstream_mode == UpstreamMode::docker_dns) {
        site.upstream = std::string("http://") + (settings.s.resolve_tasks ? "tasks." : "") +
                        "srv-captain--" + app.app_name + ":" +
                        std::to_string(app.container_http_port);
      } else if (auto p = state.published_ports.find(app.app_name);
                 p != state.published_ports.end() && !p->second.empty()) {
        site.ports = p->second;
        std::sort(site.ports.begin(), site.ports.end());
        site.ports.erase(std::unique(site.ports.begin(), site.ports.end()), site.ports.end());
        if (site.ports.front() == 0) {
          leave_out(diagnostic(Effect::app_left_out, app.app_name, "publishedPort",
                               "must be 1 to 65535"));
          continue;
        }
        site.upstream = "http://captain_app_" + app.app_name;
      }
    }
    if (auto it = state.app_snippets.find(app.app_name);
        it != state.app_snippets.end() && !it->second.empty()) {
      auto checked = check_snippet(it->second, SnippetContext::server, "snippet");
      if (checked) {
        site.snippet = *checked;
      } else {
        model.diagnostics.push_back(
            diagnostic(Effect::snippet_left_out, app.app_name, checked.error()));
      }
    }
    for (std::size_t k = 0; k < names->size(); ++k) {
      const std::string& name = (*names)[k];
      owner.emplace(name, "app \"" + app.app_name + "\"");
      const bool wants_tls =
          k == 0 ? app.has_default_sub_domain_ssl : app.custom_domain[k - 1].has_ssl;
      const CertificateLoad* load = wants_tls ? usable(name) : nullptr;
      if (load != nullptr && load->pem) {
        site.tls_names.push_back(name);
        model.certificates[name] = *load->pem;
        (app.force_ssl ? site.redirect_names : site.http_names).push_back(name);
        continue;
      }
      if (load != nullptr) {
        model.diagnostics.push_back({Effect::served_without_tls, app.app_name, field_of_name(k), 0,
                                     prefixed(app.app_name, why_not(name, *load))});
      }
      site.http_names.push_back(name);
    }
    model.apps.push_back(std::move(site));
  }
  return model;
}

}  // namespace captain::nginx
