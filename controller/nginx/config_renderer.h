// The nginx renderer: a SiteModel (site_model.h) in, the whole generated configuration tree
// out, one pure function per file. No I/O, no clock, no randomness: the same model always gives
// byte-identical files (the pipeline writes them to a staging directory, `nginx -t`s them, and
// compares them with the live tree to skip needless reloads).
//
// The tree (paths relative to the directory nginx.conf lives in, which is also where nginx
// resolves the relative `include`s and certificate paths):
//   nginx.conf                 load_module, workers, events, http (module settings, zones, TLS
//                              profile, resolver, websocket map), includes servers/*, conf.d/*
//   servers/00-default.conf    default_server on HTTP: unknown Host -> 404; and on HTTPS (once
//                              any certificate is live): unknown SNI -> a self-signed
//                              certificate and 421, never another site's certificate
//   servers/captain-root.conf  captain.<root> -> the controller API behind rate limits;
//                              /metrics -> captain_status; HTTPS with root SSL
//   servers/app-<name>.conf    per exposed app: HTTP server(s), an HTTPS server per name with
//                              a certificate, HTTP->HTTPS redirects for forceSsl
//   snippets/app-<name>.conf   the operator's text for that app, included inside its servers
//   conf.d/zz-override.conf    the operator's global (http-level) override, always present
//   certs/<domain>.crt|.key    every HTTPS server's certificate (keys are secret: mode 0600),
//                              copied into the generation so a tree and its certificates go
//                              live (and roll back) together
//
// Render decisions:
// * An app with no running task keeps its servers (same names, ACME path, metrics, snippet)
//   but `location /` answers 503: names stay claimed and clients see an honest 503.
// * forceSsl redirects GET/HEAD with 301 and every other method with 308 (RFC 9110: the
//   method and body are kept), only for names that have a certificate; the ACME challenge path
//   stays on HTTP. HSTS comes from the module's security headers, which send it on TLS only.
// * The TLS profile is Mozilla's "intermediate" (TLS 1.2 and 1.3, AEAD ciphers with forward
//   secrecy, X25519/P-256/P-384), with a shared session cache for resumption and no session
//   tickets (their keys would never rotate while nginx runs).
#pragma once

#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/nginx/render_settings.h"
#include "controller/nginx/site_model.h"

namespace captain::nginx {

struct RenderedFile {
  std::string path;  // relative, '/'-separated, e.g. "servers/app-web.conf"
  std::string content;
  bool secret = false;  // a private key: written readable by its owner only
  friend bool operator==(const RenderedFile&, const RenderedFile&) = default;
};

// Sorted by path.
using RenderedTree = std::vector<RenderedFile>;

// The metrics zone every server counts in.
inline constexpr const char* kMetricsZone = "captain";
// The response cache zone apps with `cache` share.
inline constexpr const char* kCacheZone = "apps";

std::string render_nginx_conf(const CheckedSettings& settings, const SiteModel& model);
std::string render_default_servers(const CheckedSettings& settings, const SiteModel& model);
std::string render_captain_server(const CheckedSettings& settings, const SiteModel& model);
std::string render_app_servers(const CheckedSettings& settings, const AppSite& site);

// Every file of the tree.
RenderedTree render_tree(const CheckedSettings& settings, const SiteModel& model);

struct RenderOutput {
  RenderedTree tree;
  std::vector<Diagnostic> diagnostics;  // what was left out, and why
};

// build_site_model + render_tree.
Expected<RenderOutput, RenderError> render_nginx_tree(const CheckedSettings& settings,
                                                      const RenderState& state);

}  // namespace captain::nginx
