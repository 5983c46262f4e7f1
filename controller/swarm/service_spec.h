// The Docker Engine API v1.41 `ServiceSpec` for one app: the JSON body of POST /services/create
// and POST /services/{id}/update. Pure: no I/O, same inputs give the same JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/apps/app_definition.h"

namespace captain::swarm {

// CapRover's prefixes: services are `srv-captain--<app>`, named volumes `captain--<volume>`.
inline constexpr std::string_view kServiceNamePrefix = "srv-captain--";
inline constexpr std::string_view kVolumeNamePrefix = "captain--";
inline constexpr const char* kManagedLabel = "com.caprover.managed";
inline constexpr const char* kAppLabel = "captain.app";
inline constexpr const char* kVersionLabel = "captain.version";

inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr std::int64_t kUpdateMonitorNanos = 15 * kNanosPerSecond;
inline constexpr std::int64_t kRestartDelayNanos = 5 * kNanosPerSecond;

// Docker's HealthConfig; durations in nanoseconds, 0 means "inherit from the image".
struct Healthcheck {
  std::vector<std::string> test;  // e.g. {"CMD-SHELL", "curl -f http://localhost/ || exit 1"}
  std::int64_t interval_ns = 0;
  std::int64_t timeout_ns = 0;
  std::int64_t start_period_ns = 0;
  int retries = 0;
};

// Per-container limits (TaskTemplate.Resources.Limits); an unset field is not sent.
struct ResourceLimits {
  std::optional<std::int64_t> nano_cpus;  // 1 CPU = 1e9
  std::optional<std::int64_t> memory_bytes;
};

struct ServiceSpecInputs {
  std::string image;  // full reference, e.g. "registry.local/img-captain--app:3"
  int version = 0;    // the app version being deployed (label captain.version)
  std::string network = apps::kCaptainOverlayNetwork;  // name or ID (Docker stores the ID)
  std::int64_t update_monitor_ns = kUpdateMonitorNanos;
  std::optional<Healthcheck> healthcheck;
  std::optional<ResourceLimits> resources;
  // nginx outside the overlay network: every task publishes containerHttpPort on the host
  // (PublishMode host, a port Docker picks; Task.Status.PortStatus tells which) so nginx can
  // reach each task. Never for an app not exposed as a web app.
  bool publish_http_port = false;
};

// `srv-captain--<app>`: the Swarm service name and its DNS alias on the overlay network.
std::string service_name(std::string_view app);

// `captain--<volume>`: the Docker volume behind an app's named volume.
std::string volume_name(std::string_view volume);

// The ServiceSpec for `app`. Rolling updates start the new task first unless the app has
// volumes (two tasks must not share them), roll back on failure and restart tasks always.
nlohmann::json build_service_spec(const apps::AppDefinition& app, const ServiceSpecInputs& in);

}  // namespace captain::swarm
