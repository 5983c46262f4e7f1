#include "controller/swarm/docker_transport.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace captain::swarm {
namespace {

constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;  // a task list of thousands of tasks

struct CurlHandle {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlList {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Sink {
  std::string* out;
  bool overflow = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (sink->out->size() + n > kMaxReplyBytes) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->out->append(data, n);
  return n;
}

struct StreamState {
  const StreamingCall* call;
  CURL* curl;
  std::string* error_body;
  bool aborted = false;
  int read_errno = 0;
};

std::size_t stream_reply(char* data, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300) {
    if (state->error_body->size() < 64 * 1024) state->error_body->append(data, n);
    return n;
  }
  if (state->call->on_data && !state->call->on_data(std::string_view(data, n))) {
    state->aborted = true;
    return 0;
  }
  return n;
}

std::size_t stream_request(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<StreamState*>(user);
  for (;;) {
    const ssize_t r = ::read(state->call->body_fd, buffer, size * count);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    state->read_errno = errno;
    return CURL_READFUNC_ABORT;
  }
}

int stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* state = static_cast<StreamState*>(user);
  if (state->call->cancelled && state->call->cancelled()) {
    state->aborted = true;
    return 1;
  }
  return 0;
}

std::string transport_message(CURL* c, CURLcode code, const char* error,
                              const std::string& socket_path) {
  // curl words a unix-socket failure as a TCP one ("docker port 80"); the OS error says it
  // plainly ("No such file or directory", "Connection refused").
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return "cannot connect to " + socket_path + ": " + std::strerror(static_cast<int>(os_errno));
  }
  return socket_path + ": " + (error[0] != '\0' ? error : curl_easy_strerror(code));
}

// The reply with its status once curl is done, or the transport error it reported.
Expected<HttpReply, DockerError> completed(CURL* c, CURLcode code, const char* error,
                                           const std::string& socket_path, HttpReply reply) {
  if (code != CURLE_OK) {
    return Unexpected(docker_error_from_transport(transport_message(c, code, error, socket_path),
                                                  code == CURLE_OPERATION_TIMEDOUT));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  return reply;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

DockerTransport::DockerTransport(std::string socket_path) : socket_path_(std::move(socket_path)) {
  global_init();
}

Expected<HttpReply, DockerError> DockerTransport::send(const HttpCall& call) const {
  std::unique_ptr<CURL, CurlHandle> curl(curl_easy_init());
  if (!curl) return Unexpected(docker_error_from_transport("curl_easy_init failed", false));
  CURL* c = curl.get();

  HttpReply reply;
  Sink sink{&reply.body};
  char error[CURL_ERROR_SIZE] = {};
  // The host part is ignored on a unix socket; "docker" reads well in logs.
  const std::string url = "http://docker" + call.path;
  const std::string method(call.method);

  std::unique_ptr<curl_slist, CurlList> headers;
  auto add_header = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  // No "Expect: 100-continue" round trip for larger bodies.
  add_header("Expect:");
  if (call.body != nullptr) add_header("Content-Type: application/json");
  for (const std::string& h : call.headers) add_header(h);

  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  if (call.body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body->size()));
  } else if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }

  const CURLcode code = curl_easy_perform(c);
  if (sink.overflow) {
    return Unexpected(docker_error_from_transport(
        "reply larger than " + std::to_string(kMaxReplyBytes) + " bytes", false));
  }
  return completed(c, code, error, socket_path_, std::move(reply));
}

Expected<HttpReply, DockerError> DockerTransport::stream(const StreamingCall& call) const {
  std::unique_ptr<CURL, CurlHandle> curl(curl_easy_init());
  if (!curl) return Unexpected(docker_error_from_transport("curl_easy_init failed", false));
  CURL* c = curl.get();
  HttpReply reply;
  StreamState state{&call, c, &reply.body};
  char error[CURL_ERROR_SIZE] = {};
  const std::string url = "http://docker" + call.path;
  const std::string method(call.method);
  std::unique_ptr<curl_slist, CurlList> headers;
  for (const std::string& line :
       {std::string("Expect:"), std::string("Transfer-Encoding: chunked")}) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }
  for (const std::string& h : call.headers)
    headers.reset(curl_slist_append(headers.release(), h.c_str()));

  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, stream_request);
  curl_easy_setopt(c, CURLOPT_READDATA, &state);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_reply);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);

  const CURLcode code = curl_easy_perform(c);
  if (state.aborted) return Unexpected(docker_error_from_transport("cancelled", false));
  if (state.read_errno != 0) {
    return Unexpected(docker_error_from_transport(
        "reading the request body: " + std::string(std::strerror(state.read_errno)), false));
  }
  return completed(c, code, error, socket_path_, std::move(reply));
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
                            (u >= '0' && u <= '9') || u == '-' || u == '_' || u == '.' || u == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

}  // namespace captain::swarm
