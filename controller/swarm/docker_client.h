// The Docker Engine API calls the controller makes, typed. Every call goes through the circuit
// breaker of its endpoint family; idempotent calls are retried with backoff and jitter; every
// attempt is timed into DockerMetrics and, when the calling thread works in a span
// (trace/tracer.h), is a CLIENT span of its own ("docker POST /services/create"). The API
// version is negotiated once (GET /version; the daemon must speak 1.41 or newer) and then used
// as the path prefix.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"
#include "controller/swarm/circuit_breaker.h"
#include "controller/swarm/docker_error.h"
#include "controller/swarm/docker_metrics.h"
#include "controller/swarm/docker_transport.h"
#include "controller/swarm/retry_policy.h"

namespace captain::swarm {

inline constexpr std::string_view kApiVersion = "1.41";

template <class T>
using DockerResult = Expected<T, DockerError>;

// Who waits for a call: an API client (few, quick retries, so it hears "Docker is unavailable"
// within seconds) or background work (the full backoff schedule).
enum class Urgency { interactive, background };

struct DockerClientOptions {
  RetryPolicy background_retry{};
  RetryPolicy interactive_retry{3, std::chrono::milliseconds(200), std::chrono::milliseconds(1000),
                                2.0};
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds pull_timeout{600'000};
  // X-Registry-Auth for pulls and service create/update (registry_auth_header()); empty: none.
  std::string registry_auth;
};

struct ExecResult {
  int exit_code = -1;
  std::string output;
};

// Docker's multiplexed exec/attach stream (8-byte frame headers) to its payload text; a body
// that is not framed (a TTY) comes back unchanged.
std::string demultiplex_stream(const std::string& body);

class DockerClient {
 public:
  using Json = nlohmann::json;
  using Sleeper = std::function<void(std::chrono::milliseconds)>;

  DockerClient(DockerTransport transport, BreakerRegistry& breakers, DockerMetrics& metrics,
               DockerClientOptions options);

  // GET /_ping outside the breakers and without retries: the liveness probe.
  DockerResult<void> ping(std::chrono::milliseconds timeout) const;
  // The negotiated version ("1.41"); negotiates on first use.
  DockerResult<std::string> api_version(Urgency urgency);

  DockerResult<Json> info(Urgency urgency);
  DockerResult<std::optional<Json>> inspect_network(const std::string& name, Urgency urgency);
  DockerResult<void> create_overlay_network(const std::string& name, Urgency urgency);

  DockerResult<std::optional<Json>> inspect_service(const std::string& name, Urgency urgency);
  // Services carrying `label` (e.g. "com.caprover.managed=true").
  DockerResult<Json> list_services(const std::string& label, Urgency urgency);
  DockerResult<std::string> create_service(const Json& spec, Urgency urgency);  // the new ID
  // `version` is the service's Version.Index read with the spec being replaced; Docker refuses
  // a stale one (conflict), so two writers cannot silently undo each other.
  DockerResult<void> update_service(const std::string& id, std::uint64_t version, const Json& spec,
                                    Urgency urgency);
  // false when there was no such service.
  DockerResult<bool> remove_service(const std::string& name, Urgency urgency);
  DockerResult<Json> list_tasks(const std::string& service_name, Urgency urgency);
  // Every task Swarm wants running, of any service (one call for the routing table).
  DockerResult<Json> list_wanted_tasks(Urgency urgency);

  // POST /containers/{id}/kill?signal=...; false when there was no such container.
  DockerResult<bool> signal_container(const std::string& id, const std::string& signal,
                                      Urgency urgency);
  // Runs `command` in a running container and waits for it (the output is bounded by Docker's
  // stream; stdout and stderr interleaved as written).
  DockerResult<ExecResult> exec(const std::string& container_id,
                                const std::vector<std::string>& command,
                                std::chrono::milliseconds timeout);

  DockerResult<bool> image_present(const std::string& image, Urgency urgency);
  // Pulls `image` (the tag "latest" when it names none); errors reported inside the progress
  // stream are errors here. Calls `progress` with each status line worth showing a user.
  DockerResult<void> pull_image(const std::string& image,
                                const std::function<void(const std::string&)>& progress);
  // POST /build: builds `tag` from the tar context read from `context_fd` until EOF, with the
  // Dockerfile at `dockerfile` inside it and `build_args` as --build-arg. Each output line goes
  // to `on_line` as it arrives; a failing step (reported inside the stream) is an error whose
  // message is Docker's ("The command '/bin/sh -c false' returned a non-zero code: 1").
  DockerResult<void> build_image(const std::string& tag, int context_fd,
                                 const std::string& dockerfile,
                                 const std::map<std::string, std::string>& build_args,
                                 const std::function<void(const std::string&)>& on_line,
                                 const std::function<bool()>& cancelled,
                                 std::chrono::milliseconds timeout);
  // Images whose reference matches `reference` (a filter such as "img-captain--web"; empty:
  // every image), as GET /images/json returns them.
  DockerResult<Json> list_images(const std::string& reference, Urgency urgency);
  // false when there was no such image; conflict while a container uses it (with `force`:
  // only a running one, a stopped one loses its image).
  DockerResult<bool> remove_image(const std::string& image, Urgency urgency, bool force = false);
  // false when there was no such volume; conflict while a container still uses it.
  DockerResult<bool> remove_volume(const std::string& name, Urgency urgency);

  const std::string& socket_path() const { return transport_.socket_path(); }

 private:
  struct Request {
    std::string_view family;
    std::string_view method;
    std::string path;  // without the version prefix
    const Json* body = nullptr;
    bool idempotent = false;
    Urgency urgency = Urgency::background;
    std::chrono::milliseconds timeout{0};  // 0: options_.timeout
    bool with_registry_auth = false;
  };

  // Any HTTP status comes back as a reply; transport failures and an open breaker are errors.
  DockerResult<HttpReply> call(const Request& request);
  DockerResult<HttpReply> attempt(const Request& request, const std::string& prefix);
  DockerResult<Json> call_json(const Request& request);

  DockerTransport transport_;
  BreakerRegistry& breakers_;
  DockerMetrics& metrics_;
  DockerClientOptions options_;
  Sleeper sleep_;

  std::mutex mutex_;  // guards the negotiated version, the rng and last errors
  std::string version_prefix_;
  Rng rng_;
  std::map<std::string, std::string, std::less<>> last_error_;
};

// X-Registry-Auth: base64url of {"username","password","serveraddress"}.
std::string registry_auth_header(const std::string& username, const std::string& password,
                                 const std::string& server);
// The registry an image reference pulls from ("docker.io" when it names none).
std::string registry_of(std::string_view image);
// Splits "repo[:tag][@digest]" into fromImage and tag for POST /images/create.
std::pair<std::string, std::string> pull_reference(std::string_view image);
// True when Docker's "1.43" is at least "1.41".
bool api_version_at_least(std::string_view version, std::string_view minimum);

// An Engine API path as a template for span names: the query dropped, the version prefix
// dropped, and the name or id after a collection replaced ("/services/srv-captain--web/update
// ?version=3" -> "/services/{id}/update"), so names stay few whatever the apps are called.
std::string docker_path_template(std::string_view path);

}  // namespace captain::swarm
