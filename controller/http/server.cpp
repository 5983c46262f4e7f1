#include "controller/http/server.h"

#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <set>

#include "controller/config/cidr.h"
#include "controller/http/connection_limits.h"
#include "controller/http/request_checks.h"

namespace captain::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// While the headers are read, the buffer may also take the start of what follows them (a body,
// a pipelined request): this much, beyond the header limit.
constexpr std::size_t kReadAhead = 64 * 1024;

// The methods HTTP semantic conventions name; any other is "_OTHER", so a client inventing
// methods cannot multiply span names.
bool known_method(std::string_view method) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    if (method == known) return true;
  }
  return false;
}

// Resolving first gives a precise reason for a bad host.
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

class Server::Impl {
 public:
  class Session;

  Impl(const Router& router, ServerOptions options, tracing::Tracer* tracer)
      : router_(router),
        options_(options),
        tracer_(tracer),
        limits_(options.max_connections, options.max_connections_per_client),
        acceptor_(io_),
        priority_(static_cast<std::size_t>(std::max(1, options.priority_threads))),
        quick_(static_cast<std::size_t>(std::max(1, options.quick_threads))),
        slow_(static_cast<std::size_t>(std::max(1, options.slow_threads))) {}

  Expected<void, BindError> bind(const config::ListenAddress& address) {
    if (std::string reason = resolve_error(address.host, address.port); !reason.empty()) {
      return Unexpected(BindError{address.to_string(), std::move(reason)});
    }
    error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(address.host, std::to_string(address.port),
                                      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return Unexpected(BindError{address.to_string(), ec ? ec.message() : "no address"});
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    // SO_REUSEADDR: a quick restart over TIME_WAIT connections, but never a second listener on
    // a port another process holds (no SO_REUSEPORT).
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      acceptor_.close(ignored);
      return Unexpected(BindError{address.to_string(), ec.message()});
    }
    return {};
  }

  bool run() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return true;
      running_ = true;
    }
    accept();
    io_.run();
    priority_.join();
    quick_.join();
    slow_.join();
    return !accept_failed_;
  }

  void stop() noexcept {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      if (!running_) {
        error_code ignored;
        acceptor_.close(ignored);
        return;
      }
    }
    asio::post(io_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      close_idle_sessions();
    });
  }

  bool stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  asio::thread_pool& pool_for(Lane lane) {
    switch (lane) {
      case Lane::priority:
        return priority_;
      case Lane::slow:
        return slow_;
      case Lane::quick:
        break;
    }
    return quick_;
  }

  void forget(Session* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
  }

  void close_idle_sessions();
  void accept();

  const Router& router_;
  const ServerOptions options_;
  tracing::Tracer* const tracer_;  // null: no spans
  ConnectionLimits limits_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::thread_pool priority_, quick_, slow_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  bool running_ = false;
  bool accept_failed_ = false;
  std::set<Session*> sessions_;  // live sessions, for closing idle ones on stop (io thread)
};

// One connection: reads a request (headers first, checked, then the body within its route's
// limit), hands it to a worker pool, writes the answer, and starts over on the same buffer, so
// pipelined requests are answered in order. Everything but the handler runs on the io thread.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket, std::string client)
      : server_(server), stream_(std::move(socket)), client_(std::move(client)) {}

  ~Session() {
    discard_spool();
    server_.limits_.release(client_);
    server_.forget(this);
  }

  void start() { read_header(); }

  // On stop: a connection waiting for its next request is closed now; one with a request in
  // hand closes after answering it.
  void close_if_idle() {
    if (!busy_) close();
  }

 private:
  void read_header() {
    if (server_.stopping()) return close();
    span_ = tracing::Span{};
    req_ = Request{};
    req_.remote_addr = client_;
    route_ = nullptr;
    buffer_.max_size(server_.options_.header_max_bytes + kReadAhead);
    stream_.expires_after(served_ == 0 ? server_.options_.header_timeout
                                       : server_.options_.keep_alive_timeout);
    continue_header();
  }

  // Reads until the buffer holds a whole header block (a pipelined request may already be
  // there), within the header limit.
  void continue_header() {
    const auto data = buffer_.data();
    const std::string_view have(static_cast<const char*>(data.data()), data.size());
    if (const auto end = have.find("\r\n\r\n"); end != std::string_view::npos) {
      return on_header({}, end + 4);
    }
    // Bare LFs end the header too, so the check below answers 400 instead of waiting for a
    // CRLF that will not come.
    if (const auto end = have.find("\n\n"); end != std::string_view::npos) {
      return on_header({}, end + 2);
    }
    if (have.size() > server_.options_.header_max_bytes) {
      return on_header(asio::error::not_found, 0);
    }
    stream_.async_read_some(buffer_.prepare(kReadAhead),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              if (ec) return self->on_header(ec, 0);
                              self->buffer_.commit(n);
                              self->continue_header();
                            });
  }

  void on_header(error_code ec, std::size_t header_bytes) {
    if (ec == asio::error::not_found || (!ec && header_bytes > server_.options_.header_max_bytes)) {
      return fail(431, "the request header is larger than " +
                           std::to_string(server_.options_.header_max_bytes) + " bytes");
    }
    if (ec) return close();  // timed out (a slow client), closed, reset: nothing to answer
    const auto data = buffer_.data();
    const std::string_view block(static_cast<const char*>(data.data()), header_bytes);
    if (std::string why = raw_header_problem(block); !why.empty()) return fail(400, why);

    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.header_max_bytes));
    // The route decides the body limit, below; none while the header is parsed (a number:
    // Beast 1.74 compares a length with an empty optional as "over the limit").
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    error_code parse_error;
    const std::size_t used = parser_->put(asio::buffer(data.data(), header_bytes), parse_error);
    buffer_.consume(used);
    if (parse_error || !parser_->is_header_done()) {
      return fail(400, parse_error ? parse_error.message() : "incomplete request header");
    }
    auto& message = parser_->get();
    req_.method = std::string(message.method_string());
    req_.target = std::string(message.target());
    split_target(req_.target, req_.path, req_.params);
    for (const auto& field : message) {
      req_.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    route_ = server_.router_.match(req_.method, req_.path, req_.matches);
    start_span();
    if (std::string why = field_problem(req_.headers, message.version()); !why.empty()) {
      return fail(400, why);
    }
    const std::size_t limit = route_ != nullptr && route_->options.body_limit != 0
                                  ? route_->options.body_limit
                                  : server_.options_.body_max_bytes;
    parser_->body_limit(limit);
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return fail(413, "the request body is larger than " + std::to_string(limit) + " bytes");
    }
    if (route_ != nullptr && route_->options.admit) return admit();
    after_admission();
  }

  // The route's admission check runs on its pool (it may read the store); the body is read only
  // once it says yes.
  void admit() {
    busy_ = true;
    const Lane lane = route_->options.lane;
    auto work = asio::make_work_guard(server_.io_);
    asio::post(server_.pool_for(lane),
               [self = shared_from_this(), work = std::move(work)]() mutable {
                 auto res = std::make_shared<Response>();
                 bool admitted = false;
                 try {
                   const tracing::CurrentScope traced(self->span_);
                   admitted = self->route_->options.admit(self->req_, *res);
                 } catch (...) {
                   *res = Response{};
                   res->status = 500;
                 }
                 asio::post(self->stream_.get_executor(),
                            [self, res, admitted, work = std::move(work)]() mutable {
                              self->busy_ = false;
                              if (admitted) {
                                self->req_.admitted = true;
                                self->after_admission();
                              } else {
                                self->refuse(std::move(*res));
                              }
                              work.reset();
                            });
               });
  }

  void after_admission() {
    if (parser_->is_done()) return dispatch();
    if (parser_->get().version() >= 11 && iequals(req_.headers.get("Expect"), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(server_.options_.write_timeout);
      asio::async_write(stream_, asio::buffer(kContinue),
                        [self = shared_from_this()](error_code write_ec, std::size_t) {
                          if (write_ec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (route_ != nullptr && !route_->options.spool_dir.empty()) return spool_body();
    buffer_.max_size(kReadAhead);
    stream_.expires_after(server_.options_.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec == bhttp::error::body_limit) {
                          return self->fail(413, "the request body is larger than allowed");
                        }
                        if (ec) return self->close();
                        self->dispatch();
                      });
  }

  // The body goes to a new file in the route's spool directory, a read at a time.
  void spool_body() {
    std::string path = route_->options.spool_dir + "/upload-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
      return fail(500, "cannot store the upload in " + route_->options.spool_dir + ": " +
                           std::strerror(errno));
    }
    req_.body_file = path;
    upload_span_ = tracing::start_span(span_.parent(), "upload");
    const std::size_t limit = route_->options.body_limit != 0 ? route_->options.body_limit
                                                              : server_.options_.body_max_bytes;
    spool_parser_.emplace(std::move(*parser_));
    parser_.reset();
    spool_parser_->body_limit(limit);
    beast::file file;
    file.native_handle(fd);
    error_code ec;
    spool_parser_->get().body().reset(std::move(file), ec);
    if (ec) return fail(500, "cannot store the upload: " + ec.message());
    buffer_.max_size(kReadAhead);
    continue_spool();
  }

  void continue_spool() {
    if (spool_parser_->is_done()) {
      spool_parser_->get().body().close();
      if (upload_span_.recording()) {
        struct stat st {};
        if (::stat(req_.body_file.c_str(), &st) == 0) {
          upload_span_.set("http.request.body.size", static_cast<std::int64_t>(st.st_size));
        }
      }
      upload_span_.end();
      return dispatch();
    }
    stream_.expires_after(server_.options_.body_timeout);
    bhttp::async_read_some(stream_, buffer_, *spool_parser_,
                           [self = shared_from_this()](error_code ec, std::size_t) {
                             if (ec == bhttp::error::body_limit) {
                               self->upload_span_.set_error("the body is larger than allowed");
                               self->discard_spool();
                               return self->fail(413, "the request body is larger than allowed");
                             }
                             if (ec) {
                               self->upload_span_.set_error("the upload broke off: " +
                                                            ec.message());
                               self->discard_spool();
                               return self->close();
                             }
                             self->continue_spool();
                           });
  }

  void dispatch() {
    bool keep_alive = false;
    if (spool_parser_) {
      keep_alive = spool_parser_->get().keep_alive();
      spool_parser_.reset();
    } else {
      req_.body = std::move(parser_->get().body());
      keep_alive = parser_->get().keep_alive();
      parser_.reset();
    }
    keep_alive = keep_alive && served_ + 1 < server_.options_.keep_alive_max_requests;
    busy_ = true;
    const Lane lane = route_ != nullptr ? route_->options.lane : Lane::quick;
    // Keeps io_.run() going while the handler works on another thread.
    auto work = asio::make_work_guard(server_.io_);
    asio::post(server_.pool_for(lane),
               [self = shared_from_this(), keep_alive, work = std::move(work)]() mutable {
                 auto res = std::make_shared<Response>();
                 {
                   const tracing::CurrentScope traced(self->span_);
                   self->server_.router_.handle(self->route_, self->req_, *res);
                 }
                 asio::post(self->stream_.get_executor(),
                            [self, res, keep_alive, work = std::move(work)]() mutable {
                              self->discard_spool();
                              self->write(std::move(*res), !keep_alive);
                              work.reset();
                            });
               });
  }

  // A refusal by the route's admission check: its answer, then the connection closes (the
  // body, if any, was never read).
  void refuse(Response res) {
    if (res.status >= 400 && res.body.empty()) server_.router_.fill_error(req_, res, {});
    busy_ = true;
    lingering_ = true;
    write(std::move(res), true);
  }

  // Whatever the handler left of a spooled body.
  void discard_spool() {
    spool_parser_.reset();
    if (!req_.body_file.empty()) {
      ::unlink(req_.body_file.c_str());
      req_.body_file.clear();
    }
  }

  // Answers `status` and closes, reading (and discarding) what the client still sends for a
  // moment first: closing with unread data would reset the connection and could destroy the
  // answer before the client reads it (nginx's lingering close).
  void fail(int status, const std::string& why) {
    Response res;
    res.status = status;
    server_.router_.fill_error(req_, res, why);
    busy_ = true;
    lingering_ = true;
    write(std::move(res), true);
  }

  void write(Response res, bool close_after) {
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    message->version(11);
    message->result(static_cast<unsigned>(res.status));
    for (const auto& [name, value] : res.headers.fields()) message->insert(name, value);
    const bool head = req_.method == "HEAD";
    message->body() = head ? std::string() : std::move(res.body);
    message->keep_alive(!close_after);
    if (head) {
      message->content_length(res.body.size());
    } else {
      message->prepare_payload();
    }
    if (span_.recording()) {
      span_.set("http.response.status_code", res.status);
      if (res.status >= 500) span_.set_error("HTTP " + std::to_string(res.status));
    }
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write(
        stream_, *message,
        [self = shared_from_this(), message, close_after](error_code ec, std::size_t) {
          self->busy_ = false;
          ++self->served_;
          self->upload_span_.end();
          self->span_.end();
          if (ec || close_after) return self->close();
          self->read_header();
        });
  }

  // The request's SERVER span, once its header is parsed and its route known (none before:
  // an unparsable header has no method or path to name it by).
  void start_span() {
    if (server_.tracer_ == nullptr) return;
    const bool known = known_method(req_.method);
    std::string name = known ? req_.method : std::string("HTTP");
    if (route_ != nullptr) name += " " + route_->name;
    // Sent more than once, traceparent is invalid (W3C): a new trace.
    const std::string traceparent =
        req_.headers.count("traceparent") == 1 ? req_.headers.get("traceparent") : std::string();
    std::string tracestate;
    for (const auto& [field, value] : req_.headers.fields()) {
      if (!iequals(field, "tracestate")) continue;
      if (!tracestate.empty()) tracestate += ',';
      tracestate += value;
    }
    span_ = server_.tracer_->start_server(std::move(name), traceparent, tracestate,
                                          route_ == nullptr || route_->options.starts_traces);
    if (!span_.recording()) return;
    span_.set("http.request.method", known ? std::string_view(req_.method) : "_OTHER");
    if (!known) span_.set("http.request.method_original", req_.method);
    if (route_ != nullptr) span_.set("http.route", route_->name);
    span_.set("url.path", req_.path);
    span_.set("url.scheme", "http");
    span_.set("network.peer.address", client_);
    span_.set("client.address", client_);  // the API router puts the real client here
    if (const std::string agent = req_.headers.get("User-Agent"); !agent.empty()) {
      span_.set("user_agent.original", agent);
    }
  }

  void close() {
    error_code ignored;
    if (lingering_) {
      lingering_ = false;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.expires_after(std::chrono::seconds(2));
      return discard(0);
    }
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void discard(std::size_t total) {
    constexpr std::size_t kMaxDiscard = 16 * 1024 * 1024;
    buffer_.consume(buffer_.size());
    buffer_.max_size(kReadAhead);
    stream_.async_read_some(buffer_.prepare(kReadAhead),
                            [self = shared_from_this(), total](error_code ec, std::size_t n) {
                              if (ec || total + n > kMaxDiscard) return self->close();
                              self->discard(total + n);
                            });
  }

  Impl& server_;
  beast::tcp_stream stream_;
  std::string client_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::request_parser<bhttp::file_body>> spool_parser_;  // a spooled body
  Request req_;
  const Route* route_ = nullptr;
  // The request's span: touched by the io thread and, while it runs the route's admission check
  // or handler, one worker (asio's queue orders the two).
  tracing::Span span_;
  tracing::Span upload_span_;  // a spooled body being received (io thread only)
  std::size_t served_ = 0;
  bool busy_ = false;
  bool lingering_ = false;  // the next close() reads out what the client still sends first
};

void Server::Impl::close_idle_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex_);
    for (Session* s : sessions_) {
      if (auto shared = s->weak_from_this().lock()) live.push_back(std::move(shared));
    }
  }
  for (auto& s : live) s->close_if_idle();
}

void Server::Impl::accept() {
  acceptor_.async_accept(io_, [this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::connection_aborted) {
        // Out of descriptors for a moment (or a client gave up): accept again shortly.
        auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
        timer->async_wait([this, timer](error_code) { accept(); });
        return;
      }
      accept_failed_ = true;
      error_code ignored;
      acceptor_.close(ignored);
      close_idle_sessions();
      return;
    }
    error_code addr_ec;
    const auto peer = socket.remote_endpoint(addr_ec);
    std::string client = addr_ec ? std::string() : peer.address().to_string();
    if (!addr_ec && peer.address().is_v6() && peer.address().to_v6().is_v4_mapped()) {
      client = asio::ip::make_address_v4(asio::ip::v4_mapped, peer.address().to_v6()).to_string();
    }
    if (limits_.admit(client, config::in_any(options_.unlimited_clients, client))) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<Session>(*this, std::move(socket), client);
      {
        std::lock_guard lock(mutex_);
        sessions_.insert(session.get());
      }
      session->start();
    } else {
      error_code ignored;
      socket.close(ignored);  // over a connection limit: dropped before reading a byte
    }
    accept();
  });
}

Server::Server(const Router& router, ServerOptions options, tracing::Tracer* tracer)
    : impl_(std::make_unique<Impl>(router, options, tracer)) {}

Server::~Server() {
  impl_->stop();
}

Expected<void, BindError> Server::bind(const config::ListenAddress& address) {
  return impl_->bind(address);
}

bool Server::run() {
  return impl_->run();
}

void Server::stop() noexcept {
  impl_->stop();
}

}  // namespace captain::http
