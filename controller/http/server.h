// The HTTP listener: a thin owner of an httplib::Server that binds, serves until stopped, and
// can be stopped from any thread at any time.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <ctime>
#include <memory>
#include <string>

#include "controller/common/expected.h"
#include "controller/config/listen_address.h"

namespace captain::http {

struct BindError {
  std::string address;  // as the user wrote it, "HOST:PORT"
  std::string reason;   // "Address already in use", "Name or service not known", ...
};

struct ServerOptions {
  // Bounds on how long one connection may hold a worker. A graceful stop lets in-flight
  // requests finish but also waits out idle keep-alive connections (httplib checks for a stop
  // only between requests), so the keep-alive timeout is kept short: it bounds shutdown time.
  std::time_t read_timeout_sec = 5;
  std::time_t write_timeout_sec = 5;
  std::time_t keep_alive_timeout_sec = 2;
  // Requests served on one connection before it is closed (httplib's default is 5, which makes
  // scripted clients reconnect constantly).
  std::size_t keep_alive_max_requests = 1000;
  // Request bodies above this are refused with 413 (the API only takes small JSON).
  std::size_t payload_max_bytes = 8 * 1024 * 1024;
};

class Server {
 public:
  explicit Server(const ServerOptions& options = {});
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Where api/ registers routes and handlers.
  httplib::Server& routes() noexcept;

  // Opens the listening socket. Separate from run() so the caller learns about a busy port
  // before it reports itself ready.
  Expected<void, BindError> bind(const config::ListenAddress& address);

  // Serves on the bound socket until stop(); returns once in-flight requests have finished.
  // False when the accept loop failed rather than being stopped.
  bool run();

  // Closes the listening socket so run() drains and returns. Thread-safe, idempotent, and
  // effective even before run() has started (then run() returns at once).
  void stop() noexcept;

 private:
  class Listener;
  std::unique_ptr<Listener> listener_;
};

}  // namespace captain::http
