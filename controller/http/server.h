// The HTTP/1.1 listener (Boost.Asio + Boost.Beast, header-only from Debian's libboost-dev).
// Chosen over cpp-httplib, which this controller used first: httplib gives every connection a
// thread (eight slow clients stalled the API), ignores its body limit for chunked bodies, and
// answers only the first of two pipelined requests. Here:
//   * connections are asynchronous: a slow client costs a socket, not a thread; the request line
//     and headers must arrive within header_timeout, and connections are capped in total and
//     per client address;
//   * a body is bounded by its route's limit while it is read, chunked or not (413 as soon as it
//     passes; nothing is buffered beyond it), after `100 Continue` when the client asked;
//   * requests pipelined on a connection are answered in order;
//   * smuggling shapes (Content-Length with Transfer-Encoding, conflicting or repeated
//     Content-Length, obs-fold, bare LF) are refused with 400 and the connection closed;
//   * handlers run in worker pools by lane (router.h): /health and login keep answering while
//     slow calls (a deploy waiting for its rollout) fill their own pool;
//   * with a tracer, every request gets a SERVER span (trace/tracer.h), named by its route's
//     template, current on the worker thread while the route's admission check and handler run
//     and ended once the answer is written; a spooled body gets an "upload" child span.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/config/cidr.h"
#include "controller/config/listen_address.h"
#include "controller/http/router.h"
#include "controller/trace/tracer.h"

namespace captain::http {

struct BindError {
  std::string address;  // as the user wrote it, "HOST:PORT"
  std::string reason;   // "Address already in use", "Name or service not known", ...
};

struct ServerOptions {
  std::chrono::milliseconds header_timeout{5000};  // request line + headers, from the first wait
  std::chrono::milliseconds keep_alive_timeout{5000};  // idle between requests
  std::chrono::milliseconds body_timeout{60000};       // the whole body, once headers are in
  std::chrono::milliseconds write_timeout{30000};
  std::size_t header_max_bytes = 16 * 1024;
  std::size_t body_max_bytes = 8 * 1024 * 1024;  // routes without their own limit
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_client = 64;
  // Peers exempt from the per-client cap (still counted in the total): the proxy in front,
  // which carries every client's requests (trusted_proxies).
  std::vector<config::Cidr> unlimited_clients;
  std::size_t keep_alive_max_requests = 1000;
  int priority_threads = 2;
  int quick_threads = 8;
  int slow_threads = 8;
};

class Server {
 public:
  // `tracer` null: no spans (request contexts then make their own ids).
  Server(const Router& router, ServerOptions options = {}, tracing::Tracer* tracer = nullptr);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listening socket. Separate from run() so the caller learns about a busy port
  // before it reports itself ready.
  Expected<void, BindError> bind(const config::ListenAddress& address);

  // Serves until stop(); returns once in-flight requests have been answered. False when the
  // accept loop failed rather than being stopped.
  bool run();

  // Stops accepting, lets requests in flight finish, closes idle connections. Thread-safe,
  // idempotent, and effective before run() too (run() then returns at once).
  void stop() noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captain::http
