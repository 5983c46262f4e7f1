#include "controller/http/server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace captain::http {

// httplib::Server::stop() does nothing until the accept loop has marked itself running, and
// asserts when called twice; a signal that arrives between bind and listen would be lost.
// Closing the listening socket through the protected svr_sock_ works in every state: the
// accept loop checks it before each accept and exits, then joins its workers.
class Server::Listener final : public httplib::Server {
 public:
  void close_listening_socket() noexcept {
    const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock == INVALID_SOCKET) return;
    ::shutdown(sock, SHUT_RDWR);  // wakes a thread blocked in select()/accept() on it
    ::close(sock);
  }

  // After a failed accept loop httplib has closed the socket itself but left its number in
  // svr_sock_; drop it so the destructor does not close a descriptor reused by then.
  void forget_listening_socket() noexcept { svr_sock_.exchange(INVALID_SOCKET); }
};

namespace {

// httplib's default sets SO_REUSEPORT, which would let a second controller share the port
// silently. SO_REUSEADDR alone allows a quick restart over TIME_WAIT connections but still
// refuses an address another process is listening on.
void set_listener_socket_options(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Resolving first gives a precise reason for a bad host; httplib only reports failure.
std::string resolve_error(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &result);
  if (rc != 0) return ::gai_strerror(rc);
  ::freeaddrinfo(result);
  return {};
}

}  // namespace

Server::Server(const ServerOptions& options) : listener_(std::make_unique<Listener>()) {
  listener_->set_socket_options(set_listener_socket_options);
  listener_->set_read_timeout(options.read_timeout_sec);
  listener_->set_write_timeout(options.write_timeout_sec);
  listener_->set_keep_alive_timeout(options.keep_alive_timeout_sec);
  listener_->set_payload_max_length(options.payload_max_bytes);
  // Without TCP_NODELAY a response written in two parts (headers, body) waits for the client's
  // delayed ACK: about 40 ms per request on a reused keep-alive connection.
  listener_->set_tcp_nodelay(true);
  listener_->set_keep_alive_max_count(options.keep_alive_max_requests);
}

Server::~Server() {
  // A socket bound but never served (or a run() that failed) is not closed by httplib.
  listener_->close_listening_socket();
}

httplib::Server& Server::routes() noexcept {
  return *listener_;
}

Expected<void, BindError> Server::bind(const config::ListenAddress& address) {
  if (std::string reason = resolve_error(address.host, address.port); !reason.empty()) {
    return Unexpected(BindError{address.to_string(), std::move(reason)});
  }
  errno = 0;
  if (!listener_->bind_to_port(address.host, address.port)) {
    const int err = errno;
    return Unexpected(BindError{address.to_string(),
                                err != 0 ? std::strerror(err) : "the socket could not be opened"});
  }
  return {};
}

bool Server::run() {
  const bool ok = listener_->listen_after_bind();
  if (!ok) listener_->forget_listening_socket();
  return ok;
}

void Server::stop() noexcept {
  listener_->close_listening_socket();
}

}  // namespace captain::http
