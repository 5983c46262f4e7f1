#include "controller/swarm/docker_client.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <thread>

#include "controller/auth/base64url.h"
#include "controller/trace/tracer.h"

namespace captain::swarm {
namespace {

using Json = nlohmann::json;
using Clock = CircuitBreaker::Clock;

// Only a daemon that cannot serve counts against a breaker; a 4xx is the daemon working.
bool counts_as_failure(const DockerError& error) {
  return error.retryable();
}

DockerError unexpected_reply(const HttpReply& reply) {
  return docker_error_from_response(reply.status, reply.body);
}

Expected<Json, DockerError> parse_json(const HttpReply& reply) {
  Json parsed = Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    DockerError error;
    error.kind = DockerError::Kind::unexpected;
    error.http_status = reply.status;
    error.message = "Docker answered with invalid JSON";
    return Unexpected(error);
  }
  return parsed;
}

std::string filters(std::string_view key, std::string_view value) {
  return url_encode(Json{{key, Json::array({value})}}.dump());
}

// A CLIENT span for one request to the engine, when the calling thread works in a span (a
// request, a deploy stage); none otherwise (the monitor's pings, reconcile passes).
tracing::Span docker_span(std::string_view method, std::string_view path,
                          const std::string& socket_path) {
  const tracing::Parent parent = tracing::current_parent();
  if (!parent.recording()) return {};  // nothing to record: not even the name is made
  const std::string route = docker_path_template(path);
  tracing::Span span = tracing::start_span(parent, "docker " + std::string(method) + " " + route,
                                           otlp::SpanKind::client);
  if (!span.recording()) return span;
  span.set("http.request.method", method);
  span.set("url.path", path.substr(0, path.find('?')));
  span.set("url.template", route);
  span.set("server.address", socket_path);
  span.set("network.transport", "unix");
  return span;
}

// What the engine answered (or why nothing came back). 4xx and 5xx are errors of a CLIENT span
// (OpenTelemetry's HTTP conventions), even a 404 the caller expected.
void end_docker_span(tracing::Span& span, const Expected<HttpReply, DockerError>& reply) {
  if (!span.recording()) return;
  if (!reply) {
    span.set("error.type", to_string(reply.error().kind));
    span.set_error(reply.error().message);
  } else {
    span.set("http.response.status_code", reply->status);
    if (reply->status >= 400) {
      span.set("error.type", std::to_string(reply->status));
      span.set_error(docker_error_from_response(reply->status, reply->body).message);
    }
  }
  span.end();
}

}  // namespace

std::string docker_path_template(std::string_view path) {
  path = path.substr(0, path.find('?'));
  // "/v1.41/..." -> "/..."
  if (path.size() > 2 && path[0] == '/' && path[1] == 'v') {
    const std::size_t next = path.find('/', 1);
    if (next != std::string_view::npos &&
        path.substr(2, next - 2).find_first_not_of("0123456789.") == std::string_view::npos) {
      path.remove_prefix(next);
    }
  }
  // Collections whose next segment names one object, unless it is one of their own endpoints.
  constexpr std::string_view kCollections[] = {"services", "networks", "containers", "exec",
                                               "images",   "volumes",  "tasks",      "nodes"};
  constexpr std::string_view kEndpoints[] = {"create", "json", "prune", "search", "load", "get"};
  std::string out;
  std::string_view previous;
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const std::size_t end = path.find('/');
    const std::string_view segment = path.substr(0, end);
    path = end == std::string_view::npos ? std::string_view() : path.substr(end);
    const bool after_collection = std::find(std::begin(kCollections), std::end(kCollections),
                                            previous) != std::end(kCollections);
    const bool endpoint =
        std::find(std::begin(kEndpoints), std::end(kEndpoints), segment) != std::end(kEndpoints);
    out += '/';
    if (after_collection && !endpoint && !segment.empty()) {
      out += previous == "images" || previous == "networks" || previous == "volumes" ? "{name}"
                                                                                     : "{id}";
      previous = {};  // "/exec/{id}/start": "start" is not an id
    } else {
      out += segment;
      previous = segment;
    }
  }
  return out.empty() ? std::string("/") : out;
}

DockerClient::DockerClient(DockerTransport transport, BreakerRegistry& breakers,
                           DockerMetrics& metrics, DockerClientOptions options)
    : transport_(std::move(transport)),
      breakers_(breakers),
      metrics_(metrics),
      options_(std::move(options)),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }),
      rng_(make_random_rng()) {}

DockerResult<void> DockerClient::ping(std::chrono::milliseconds timeout) const {
  HttpCall http{"GET", "/_ping", nullptr, {}, timeout};
  tracing::Span span = docker_span(http.method, http.path, transport_.socket_path());
  auto reply = transport_.send(http);
  end_docker_span(span, reply);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != 200) return Unexpected(unexpected_reply(*reply));
  return {};
}

DockerResult<std::string> DockerClient::api_version(Urgency urgency) {
  {
    std::lock_guard lock(mutex_);
    if (!version_prefix_.empty()) return version_prefix_.substr(2);
  }
  // Unversioned: /version answers on every API version.
  Request request{"system", "GET", "/version", nullptr, true, urgency};
  auto reply = call(request);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != 200) return Unexpected(unexpected_reply(*reply));
  auto body = parse_json(*reply);
  if (!body) return Unexpected(body.error());
  const std::string version = body->value("ApiVersion", "");
  if (!api_version_at_least(version, kApiVersion)) {
    DockerError error;
    error.kind = DockerError::Kind::unexpected;
    error.http_status = reply->status;
    error.message = "Docker Engine API " + (version.empty() ? std::string("(unknown)") : version) +
                    " is too old: captain-controller needs " + std::string(kApiVersion) +
                    " or newer (Docker 20.10+)";
    return Unexpected(error);
  }
  std::lock_guard lock(mutex_);
  version_prefix_ = "/v" + std::string(kApiVersion);
  return std::string(kApiVersion);
}

DockerResult<HttpReply> DockerClient::attempt(const Request& request, const std::string& prefix) {
  tracing::Span span = docker_span(request.method, prefix + request.path, transport_.socket_path());
  CircuitBreaker& breaker = breakers_.get(request.family);
  if (!breaker.allow(Clock::now())) {
    DockerError error;
    error.kind = DockerError::Kind::circuit_open;
    {
      std::lock_guard lock(mutex_);
      const auto last = last_error_.find(request.family);
      error.message = "Docker is unavailable: " + std::string(request.family) +
                      " calls are suspended after repeated failures (circuit breaker open)" +
                      (last != last_error_.end() ? "; last error: " + last->second : "");
    }
    metrics_.record(request.family, to_string(error.kind), {});
    end_docker_span(span, Unexpected(error));
    return Unexpected(error);
  }
  std::string body_text;
  HttpCall http{request.method,
                prefix + request.path,
                nullptr,
                {},
                request.timeout.count() > 0 ? request.timeout : options_.timeout};
  if (request.body != nullptr) {
    body_text = request.body->dump();
    http.body = &body_text;
  }
  if (request.with_registry_auth && !options_.registry_auth.empty()) {
    http.headers.push_back("X-Registry-Auth: " + options_.registry_auth);
  }
  const auto started = Clock::now();
  auto reply = transport_.send(http);
  const auto finished = Clock::now();
  end_docker_span(span, reply);

  std::optional<DockerError> failure;
  if (!reply) {
    failure = reply.error();
  } else if (reply->status >= 500) {
    failure = unexpected_reply(*reply);
  }
  if (failure && counts_as_failure(*failure)) {
    breaker.record_failure(finished);
    std::lock_guard lock(mutex_);
    last_error_[std::string(request.family)] = failure->message;
  } else {
    breaker.record_success(finished);
  }
  metrics_.record(request.family, failure ? to_string(failure->kind) : "ok", finished - started);
  if (!reply) return Unexpected(reply.error());
  if (failure && failure->retryable()) return Unexpected(*failure);
  return reply;
}

DockerResult<HttpReply> DockerClient::call(const Request& request) {
  std::string prefix;
  if (request.path != "/version") {
    auto version = api_version(request.urgency);
    if (!version) return Unexpected(version.error());
    std::lock_guard lock(mutex_);
    prefix = version_prefix_;
  }
  const RetryPolicy& policy = request.urgency == Urgency::interactive ? options_.interactive_retry
                                                                      : options_.background_retry;
  RetryPolicy once = policy;
  once.max_attempts = 1;
  // One rng for all threads: draws are cheap and serialized here.
  Rng rng = [this] {
    std::lock_guard lock(mutex_);
    return rng_();
  };
  return with_retries(
      request.idempotent ? policy : once, [&] { return attempt(request, prefix); }, sleep_, rng,
      [](const DockerError& e) { return e.retryable(); });
}

DockerResult<Json> DockerClient::call_json(const Request& request) {
  auto reply = call(request);
  if (!reply) return Unexpected(reply.error());
  if (reply->status < 200 || reply->status > 299) return Unexpected(unexpected_reply(*reply));
  if (reply->body.empty()) return Json();
  return parse_json(*reply);
}

DockerResult<Json> DockerClient::info(Urgency urgency) {
  return call_json({"system", "GET", "/info", nullptr, true, urgency});
}

DockerResult<std::optional<Json>> DockerClient::inspect_network(const std::string& name,
                                                                Urgency urgency) {
  auto found =
      call_json({"networks", "GET", "/networks/" + url_encode(name), nullptr, true, urgency});
  if (!found) {
    if (found.error().kind == DockerError::Kind::not_found) return std::optional<Json>();
    return Unexpected(found.error());
  }
  return std::optional<Json>(std::move(*found));
}

DockerResult<void> DockerClient::create_overlay_network(const std::string& name, Urgency urgency) {
  const Json body{{"Name", name},
                  {"Driver", "overlay"},
                  {"Attachable", true},
                  {"CheckDuplicate", true},
                  {"Labels", {{"com.caprover.managed", "true"}}}};
  auto created = call_json({"networks", "POST", "/networks/create", &body, false, urgency});
  // Another controller (or a crashed run of this one) made it first: that is what we wanted.
  if (!created && created.error().kind != DockerError::Kind::conflict) {
    return Unexpected(created.error());
  }
  return {};
}

DockerResult<std::optional<Json>> DockerClient::inspect_service(const std::string& name,
                                                                Urgency urgency) {
  auto found =
      call_json({"services", "GET", "/services/" + url_encode(name), nullptr, true, urgency});
  if (!found) {
    if (found.error().kind == DockerError::Kind::not_found) return std::optional<Json>();
    return Unexpected(found.error());
  }
  return std::optional<Json>(std::move(*found));
}

DockerResult<Json> DockerClient::list_services(const std::string& label, Urgency urgency) {
  return call_json(
      {"services", "GET", "/services?filters=" + filters("label", label), nullptr, true, urgency});
}

DockerResult<std::string> DockerClient::create_service(const Json& spec, Urgency urgency) {
  Request request{"services", "POST", "/services/create", &spec, false, urgency};
  request.with_registry_auth = true;
  auto created = call_json(request);
  if (!created) return Unexpected(created.error());
  return created->value("ID", "");
}

DockerResult<void> DockerClient::update_service(const std::string& id, std::uint64_t version,
                                                const Json& spec, Urgency urgency) {
  // Idempotent: the version index makes a repeated update a conflict, never a second change.
  Request request{"services",
                  "POST",
                  "/services/" + url_encode(id) + "/update?version=" + std::to_string(version),
                  &spec,
                  true,
                  urgency};
  request.with_registry_auth = true;
  auto updated = call_json(request);
  if (!updated) return Unexpected(updated.error());
  return {};
}

DockerResult<bool> DockerClient::remove_service(const std::string& name, Urgency urgency) {
  auto removed =
      call_json({"services", "DELETE", "/services/" + url_encode(name), nullptr, true, urgency});
  if (!removed) {
    if (removed.error().kind == DockerError::Kind::not_found) return false;
    return Unexpected(removed.error());
  }
  return true;
}

DockerResult<Json> DockerClient::list_tasks(const std::string& service_name, Urgency urgency) {
  return call_json({"tasks", "GET", "/tasks?filters=" + filters("service", service_name), nullptr,
                    true, urgency});
}

DockerResult<Json> DockerClient::list_wanted_tasks(Urgency urgency) {
  return call_json({"tasks", "GET", "/tasks?filters=" + filters("desired-state", "running"),
                    nullptr, true, urgency});
}

DockerResult<bool> DockerClient::signal_container(const std::string& id, const std::string& signal,
                                                  Urgency urgency) {
  auto sent = call_json({"containers", "POST",
                         "/containers/" + url_encode(id) + "/kill?signal=" + url_encode(signal),
                         nullptr, false, urgency});  // a signal sent twice is two reloads
  if (!sent) {
    if (sent.error().kind == DockerError::Kind::not_found) return false;
    return Unexpected(sent.error());
  }
  return true;
}

DockerResult<ExecResult> DockerClient::exec(const std::string& container_id,
                                            const std::vector<std::string>& command,
                                            std::chrono::milliseconds timeout) {
  const Json create{{"AttachStdout", true}, {"AttachStderr", true}, {"Cmd", command}};
  auto created =
      call_json({"containers", "POST", "/containers/" + url_encode(container_id) + "/exec", &create,
                 false, Urgency::interactive});
  if (!created) return Unexpected(created.error());
  if (!created->is_object() || !(*created)["Id"].is_string()) {
    return Unexpected(DockerError{DockerError::Kind::unexpected, 200, "exec create: no Id"});
  }
  const std::string id = (*created)["Id"].get<std::string>();
  const Json start{{"Detach", false}, {"Tty", false}};
  // Not retried: running the command twice is not the same as once.
  auto started = call({"containers", "POST", "/exec/" + url_encode(id) + "/start", &start, false,
                       Urgency::interactive, timeout});
  if (!started) return Unexpected(started.error());
  if (started->status < 200 || started->status > 299) {
    return Unexpected(unexpected_reply(*started));
  }
  auto inspected = call_json({"containers", "GET", "/exec/" + url_encode(id) + "/json", nullptr,
                              true, Urgency::interactive});
  if (!inspected) return Unexpected(inspected.error());
  ExecResult result;
  result.output = demultiplex_stream(started->body);
  if (inspected->is_object() && (*inspected)["ExitCode"].is_number_integer()) {
    result.exit_code = (*inspected)["ExitCode"].get<int>();
  }
  return result;
}

DockerResult<bool> DockerClient::image_present(const std::string& image, Urgency urgency) {
  auto found = call_json(
      {"images", "GET", "/images/" + url_encode(image) + "/json", nullptr, true, urgency});
  if (!found) {
    if (found.error().kind == DockerError::Kind::not_found) return false;
    return Unexpected(found.error());
  }
  return true;
}

DockerResult<void> DockerClient::pull_image(
    const std::string& image, const std::function<void(const std::string&)>& progress) {
  const auto [from, tag] = pull_reference(image);
  Request request{"images",
                  "POST",
                  "/images/create?fromImage=" + url_encode(from) + "&tag=" + url_encode(tag),
                  nullptr,
                  true,
                  Urgency::background,
                  options_.pull_timeout};
  request.with_registry_auth = true;
  auto reply = call(request);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != 200) return Unexpected(unexpected_reply(*reply));
  // The body is a stream of JSON objects; a failure mid-pull is {"error": "..."} under 200.
  std::size_t start = 0;
  std::string last_status;
  while (start < reply->body.size()) {
    std::size_t end = reply->body.find('\n', start);
    if (end == std::string::npos) end = reply->body.size();
    const Json line =
        Json::parse(reply->body.begin() + static_cast<std::ptrdiff_t>(start),
                    reply->body.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    start = end + 1;
    if (!line.is_object()) continue;
    if (auto error = line.find("error"); error != line.end() && error->is_string()) {
      DockerError failure;
      failure.kind = DockerError::Kind::unexpected;
      failure.http_status = 200;
      failure.message = error->get<std::string>();
      return Unexpected(failure);
    }
    // Per-layer progress is noise in a 50-line build log; keep the summary lines.
    if (line.contains("status") && !line.contains("id") && progress) {
      last_status = line["status"].is_string() ? line["status"].get<std::string>() : "";
      if (!last_status.empty()) progress(last_status);
    }
  }
  return {};
}

DockerResult<void> DockerClient::build_image(const std::string& tag, int context_fd,
                                             const std::string& dockerfile,
                                             const std::map<std::string, std::string>& build_args,
                                             const std::function<void(const std::string&)>& on_line,
                                             const std::function<bool()>& cancelled,
                                             std::chrono::milliseconds timeout) {
  auto version = api_version(Urgency::background);
  if (!version) return Unexpected(version.error());
  std::string prefix;
  {
    std::lock_guard lock(mutex_);
    prefix = version_prefix_;
  }
  // rm=1, forcerm=1: no intermediate containers left behind, even after a failed step.
  std::string path = prefix + "/build?t=" + url_encode(tag) +
                     "&dockerfile=" + url_encode(dockerfile) + "&rm=1&forcerm=1";
  if (!build_args.empty()) path += "&buildargs=" + url_encode(Json(build_args).dump());

  std::string pending;  // reply bytes not yet a whole JSON line
  std::string text;     // "stream" text not yet a whole line
  std::optional<std::string> failure;
  const auto emit_text = [&](bool flush) {
    std::size_t at;
    while ((at = text.find('\n')) != std::string::npos) {
      std::string line = text.substr(0, at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (on_line) on_line(line);
      text.erase(0, at + 1);
    }
    if (flush && !text.empty()) {
      if (on_line) on_line(text);
      text.clear();
    }
  };
  const auto take_line = [&](std::string_view raw) {
    const Json line = Json::parse(raw, nullptr, false);
    if (!line.is_object()) return;
    if (auto stream = line.find("stream"); stream != line.end() && stream->is_string()) {
      text += stream->get<std::string>();
      emit_text(false);
    }
    if (auto error = line.find("error"); error != line.end() && error->is_string()) {
      emit_text(true);
      failure = error->get<std::string>();
    }
  };
  StreamingCall call;
  call.method = "POST";
  call.path = path;
  call.headers = {"Content-Type: application/x-tar"};
  call.body_fd = context_fd;
  call.cancelled = cancelled;
  call.timeout = timeout;
  call.on_data = [&](std::string_view data) {
    pending.append(data);
    std::size_t at;
    while ((at = pending.find('\n')) != std::string::npos) {
      take_line(std::string_view(pending).substr(0, at));
      pending.erase(0, at + 1);
    }
    return true;
  };
  tracing::Span span = docker_span(call.method, call.path, transport_.socket_path());
  const auto started = Clock::now();
  auto reply = transport_.stream(call);
  end_docker_span(span, reply);
  const std::string_view outcome = !reply                 ? to_string(reply.error().kind)
                                   : reply->status == 200 ? "ok"
                                                          : "unexpected";
  metrics_.record("build", outcome, Clock::now() - started);
  if (!reply) return Unexpected(reply.error());
  if (!pending.empty()) take_line(pending);
  emit_text(true);
  if (reply->status != 200) return Unexpected(unexpected_reply(*reply));
  if (failure) {
    DockerError error;
    error.kind = DockerError::Kind::unexpected;
    error.http_status = 200;
    error.message = *failure;
    return Unexpected(error);
  }
  return {};
}

DockerResult<Json> DockerClient::list_images(const std::string& reference, Urgency urgency) {
  std::string path = "/images/json";
  if (!reference.empty()) {
    path += "?filters=" + url_encode(Json{{"reference", Json::array({reference})}}.dump());
  }
  return call_json({"images", "GET", path, nullptr, true, urgency});
}

DockerResult<bool> DockerClient::remove_image(const std::string& image, Urgency urgency,
                                              bool force) {
  auto removed =
      call_json({"images", "DELETE", "/images/" + url_encode(image) + (force ? "?force=1" : ""),
                 nullptr, true, urgency});
  if (!removed) {
    if (removed.error().kind == DockerError::Kind::not_found) return false;
    return Unexpected(removed.error());
  }
  return true;
}

DockerResult<bool> DockerClient::remove_volume(const std::string& name, Urgency urgency) {
  auto removed =
      call_json({"volumes", "DELETE", "/volumes/" + url_encode(name), nullptr, true, urgency});
  if (!removed) {
    if (removed.error().kind == DockerError::Kind::not_found) return false;
    return Unexpected(removed.error());
  }
  return true;
}

std::string demultiplex_stream(const std::string& body) {
  // Frames: [stream type 0|1|2, 0, 0, 0, size as big-endian uint32] then size bytes.
  std::string out;
  std::size_t at = 0;
  while (at + 8 <= body.size()) {
    const auto type = static_cast<unsigned char>(body[at]);
    if (type > 2 || body[at + 1] != 0 || body[at + 2] != 0 || body[at + 3] != 0) return body;
    std::size_t size = 0;
    for (int i = 4; i < 8; ++i) size = (size << 8) | static_cast<unsigned char>(body[at + i]);
    if (at + 8 + size > body.size()) return body;
    out.append(body, at + 8, size);
    at += 8 + size;
  }
  return at == body.size() ? out : body;
}

std::string registry_auth_header(const std::string& username, const std::string& password,
                                 const std::string& server) {
  const Json auth{{"username", username}, {"password", password}, {"serveraddress", server}};
  // Docker decodes the header with Go's base64.URLEncoding, which wants '=' padding.
  std::string encoded = auth::base64url_encode(auth.dump());
  encoded.append((4 - encoded.size() % 4) % 4, '=');
  return encoded;
}

std::string registry_of(std::string_view image) {
  const std::size_t slash = image.find('/');
  if (slash == std::string_view::npos) return "docker.io";
  const std::string_view first = image.substr(0, slash);
  // Docker's rule: the first component is a registry when it looks like a host.
  if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
      first == "localhost") {
    return std::string(first);
  }
  return "docker.io";
}

std::pair<std::string, std::string> pull_reference(std::string_view image) {
  if (const std::size_t at = image.find('@'); at != std::string_view::npos) {
    return {std::string(image), ""};  // a digest pins the image; no tag
  }
  const std::size_t slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return {std::string(image.substr(0, colon)), std::string(image.substr(colon + 1))};
  }
  return {std::string(image), "latest"};
}

bool api_version_at_least(std::string_view version, std::string_view minimum) {
  auto parse = [](std::string_view text, int& major, int& minor) {
    const std::size_t dot = text.find('.');
    if (dot == std::string_view::npos) return false;
    auto a = std::from_chars(text.data(), text.data() + dot, major);
    auto b = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
    return a.ec == std::errc() && a.ptr == text.data() + dot && b.ec == std::errc() &&
           b.ptr == text.data() + text.size();
  };
  int major = 0, minor = 0, min_major = 0, min_minor = 0;
  if (!parse(version, major, minor) || !parse(minimum, min_major, min_minor)) return false;
  return major > min_major || (major == min_major && minor >= min_minor);
}

}  // namespace captain::swarm
