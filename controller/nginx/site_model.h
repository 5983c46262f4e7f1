// The typed model of what nginx serves, built from everything that changes at run time
// (RenderState). Building it is where every stored value is checked: a bad app, snippet or
// certificate becomes a Diagnostic and is left out (the app, its snippet, or only its HTTPS),
// never an error that holds back every other app. Pure: the same state gives the same model.
//
// Per app exposed as a web app, the names it answers to (<app>.<root>, then its custom
// domains) fall into:
//   http_names      served over plain HTTP (no SSL asked for, or no usable certificate)
//   redirect_names  forceSsl with a usable certificate: plain HTTP is redirected to HTTPS
//   tls_names       SSL enabled with a usable certificate: one HTTPS server each
// ACME's /.well-known/acme-challenge/ stays reachable over HTTP for every name either way.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/apps/app_definition.h"
#include "controller/common/expected.h"
#include "controller/nginx/render_settings.h"
#include "controller/tls/certificate.h"

namespace captain::nginx {

// A certificate as the certificate store found it for one domain.
struct CertificateLoad {
  std::optional<tls::CertificatePem> pem;  // usable now
  std::string problem;                     // why not, when pem is unset
};

struct RenderState {
  std::string root_domain;      // apps answer on <app>.<root_domain>
  bool root_ssl = false;        // hasRootSsl: captain.<root> over HTTPS
  bool root_force_ssl = false;  // forceSsl (system): captain.<root> redirects HTTP to HTTPS
  std::vector<apps::AppDefinition> apps;  // any order; the model is sorted by name
  // Apps with at least one running task. Only these are proxied; every other exposed app keeps
  // its server and answers 503.
  std::set<std::string> routable_apps;
  std::map<std::string, std::vector<std::uint16_t>> published_ports;  // app -> its tasks' ports
  std::map<std::string, std::string> app_snippets;                    // app -> server-level text
  std::string global_override;                                        // http-level text
  std::map<std::string, CertificateLoad> certificates;                // by domain
  // For HTTPS requests naming no server (unknown SNI): a self-signed certificate.
  std::optional<tls::CertificatePem> default_certificate;
};

struct AppSite {
  std::string name;
  std::vector<std::string> http_names;
  std::vector<std::string> redirect_names;
  std::vector<std::string> tls_names;
  std::string upstream;              // empty: not routable (503)
  std::vector<std::uint16_t> ports;  // published_port mode: the running tasks' host ports
  std::optional<std::string> snippet;
  std::optional<std::string> rate_limit;
  bool cache = false;
  bool websocket = false;
  std::string header_policy;  // "", "default", "strict" or "off"
};

struct CaptainSite {
  std::string name;  // captain.<root>
  bool tls = false;
  bool force_ssl = false;  // only with tls
};

struct Diagnostic {
  enum class Effect {
    app_left_out,        // the app has no server at all
    snippet_left_out,    // the app is served without its custom nginx text
    served_without_tls,  // a name of the app (or captain.<root>) is served over HTTP only
    override_left_out,   // the global override is not included
  };
  Effect effect = Effect::app_left_out;
  std::string app;       // empty: captain.<root> or a global input
  std::string field;     // "appName", "customDomain[1]", "snippet", "hasRootSsl", ...
  std::size_t line = 0;  // in a snippet
  std::string message;   // a whole sentence naming the app, the field and what happens
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

struct SiteModel {
  std::string root_domain;
  CaptainSite captain;
  std::vector<AppSite> apps;                                // sorted by name
  std::map<std::string, tls::CertificatePem> certificates;  // by domain, every HTTPS server's
  std::optional<tls::CertificatePem> default_certificate;
  std::string global_override;
  std::vector<Diagnostic> diagnostics;

  bool has_tls() const { return captain.tls || !certificates.empty(); }
};

// The TLS domains the state asks for: captain.<root> with root SSL, <app>.<root> of apps with
// hasDefaultSubDomainSsl, custom domains with hasSsl (exposed apps only). What the certificate
// store is asked to load and the renewal timer keeps fresh.
std::set<std::string> wanted_certificates(const std::string& root_domain, bool root_ssl,
                                          const std::vector<apps::AppDefinition>& apps);

// Fails only when the root domain itself is unusable: there is nothing to name servers after.
Expected<SiteModel, RenderError> build_site_model(const CheckedSettings& settings,
                                                  const RenderState& state);

}  // namespace captain::nginx
