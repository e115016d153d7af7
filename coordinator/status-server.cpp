#include "coordinator/status-server.h"

#include <atomic>
#include <future>
#include <list>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/check.h"

namespace t2 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::chrono::steady_clock::duration to_duration(Seconds s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(s);
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_method).category();
}

}  // namespace

namespace status_detail {
class Session;
}

struct StatusServer::Impl {
  // Declared before the io_context: sessions destroyed with it still update the counters.
  StatusServerOptions opt;
  StatusFn status;
  MetricsFn metrics;
  std::atomic<uint64_t> connections{0}, rejected{0}, evicted{0}, requests{0}, bad_requests{0}, timeouts{0};
  std::atomic<size_t> active{0};
  std::list<std::weak_ptr<status_detail::Session>> sessions;  // io thread only

  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer retry_timer{ioc};
  tcp::endpoint bound;
  std::thread thread;
  std::promise<void> exited;
  std::future<void> exited_future = exited.get_future();
  bool stopped = false;

  void accept();
  void serve(tcp::socket socket);
  http::response<http::string_body> answer(const http::request<http::string_body>& req);
};

namespace status_detail {

// One connection: read a request under a deadline, answer, repeat while the client keeps it alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, StatusServer::Impl* server)
      : stream_(std::move(socket)), buffer_(server->opt.header_limit + server->opt.body_limit), server_(server) {
    ++server_->active;
  }
  ~Session() { --server_->active; }

  // Waiting for (the rest of) a request since this time; nullopt while answering.
  std::optional<Clock::time_point> reading_since() const { return reading_since_; }
  void evict() { close(); }

  void read() {
    reading_since_ = Clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->opt.header_limit));
    parser_->body_limit(server_->opt.body_limit);
    stream_.expires_after(to_duration(server_->opt.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    reading_since_.reset();
    if (ec == http::error::end_of_stream || ec == net::error::eof) return close();
    if (ec == beast::error::timeout) {
      ++server_->timeouts;
      return;  // tcp_stream already closed the socket
    }
    if (ec) {
      if (!is_http_error(ec)) return close();  // reset by peer and the like
      ++server_->bad_requests;
      auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, 11);
      res->set(http::field::server, "t2");
      res->set(http::field::content_type, "text/plain");
      res->body() = "bad request: " + ec.message() + "\n";
      res->keep_alive(false);
      res->prepare_payload();
      return write(res);
    }
    ++server_->requests;
    auto res = std::make_shared<http::response<http::string_body>>(server_->answer(parser_->get()));
    write(res);
  }

  void write(std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(to_duration(server_->opt.write_timeout));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec == beast::error::timeout) {
        ++self->server_->timeouts;
        return;
      }
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  StatusServer::Impl* server_;
  std::optional<Clock::time_point> reading_since_;
};

}  // namespace status_detail
using status_detail::Session;

http::response<http::string_body> StatusServer::Impl::answer(const http::request<http::string_body>& req) {
  std::string target(req.target());
  if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "t2");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  const bool known = target == "/status" || target == "/metrics";
  if (!known) {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain");
    res.body() = "not found; try /status or /metrics\n";
  } else if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET");
    res.set(http::field::content_type, "text/plain");
    res.body() = "only GET is served\n";
  } else {
    try {
      if (target == "/status") {
        res.set(http::field::content_type, "application/json");
        res.body() = status ? status().dump() + "\n" : "{}\n";
      } else {
        res.set(http::field::content_type, "text/plain; version=0.0.4");
        res.body() = metrics ? metrics() : "";
      }
    } catch (const std::exception& e) {
      res.result(http::status::internal_server_error);
      res.set(http::field::content_type, "text/plain");
      res.body() = std::string("status callback failed: ") + e.what() + "\n";
    }
  }
  res.prepare_payload();
  return res;
}

void StatusServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: back off briefly instead of spinning.
      spdlog::warn("status server: accept failed: {}", ec.message());
      retry_timer.expires_after(std::chrono::milliseconds(50));
      retry_timer.async_wait([this](beast::error_code e) {
        if (!e) accept();
      });
      return;
    }
    serve(std::move(socket));
    accept();
  });
}

void StatusServer::Impl::serve(tcp::socket socket) {
  ++connections;
  sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
  if (active.load() >= opt.max_connections) {
    // At the cap, the connection that has waited longest for a request makes room: idle or slow
    // clients cannot lock out a valid one.
    std::shared_ptr<Session> oldest;
    for (const auto& w : sessions)
      if (auto s = w.lock(); s && s->reading_since() && (!oldest || *s->reading_since() < *oldest->reading_since()))
        oldest = s;
    if (oldest) {
      ++evicted;
      oldest->evict();
    } else {
      ++rejected;
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
  }
  auto session = std::make_shared<Session>(std::move(socket), this);
  sessions.push_back(session);
  session->read();
}

StatusServer::StatusServer(StatusServerOptions options, StatusFn status, MetricsFn metrics)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.opt = std::move(options);
  s.status = std::move(status);
  s.metrics = std::move(metrics);
  beast::error_code ec;
  const auto addr = net::ip::make_address(s.opt.bind_address, ec);
  T2_CHECK_AS(UsageError, !ec, "status server address '{}' is not an IP address ({})", s.opt.bind_address,
              ec.message());
  T2_CHECK_AS(UsageError, addr.is_loopback() || s.opt.allow_non_loopback,
              "the status server listens on loopback unless --status-bind {} is given explicitly",
              s.opt.bind_address);
  T2_CHECK_AS(UsageError, s.opt.max_connections >= 1, "status server max_connections must be at least 1");
  const tcp::endpoint ep{addr, s.opt.port};
  s.acceptor.open(ep.protocol(), ec);
  T2_CHECK(!ec, "status server: cannot open a socket: {}", ec.message());
  s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  s.acceptor.bind(ep, ec);
  T2_CHECK(!ec, "status server: cannot bind {}:{}: {}", s.opt.bind_address, s.opt.port, ec.message());
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  T2_CHECK(!ec, "status server: cannot listen on {}:{}: {}", s.opt.bind_address, s.opt.port, ec.message());
  s.bound = s.acceptor.local_endpoint();
  s.accept();
  s.thread = std::thread([&s] {
    for (;;) {
      try {
        s.ioc.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw: log it and keep serving.
        spdlog::error("status server: {}", e.what());
      }
    }
    s.exited.set_value();
  });
}

StatusServer::~StatusServer() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("status server: {}", e.what());
  }
}

uint16_t StatusServer::port() const { return impl_->bound.port(); }

std::string StatusServer::address() const {
  return impl_->bound.address().to_string() + ":" + std::to_string(impl_->bound.port());
}

StatusServerCounters StatusServer::counters() const {
  const Impl& s = *impl_;
  return {s.connections.load(), s.rejected.load(), s.evicted.load(), s.requests.load(), s.bad_requests.load(),
          s.timeouts.load()};
}

void StatusServer::stop(Deadline deadline) {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  net::post(s.ioc, [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.retry_timer.cancel();
  });
  s.ioc.stop();
  if (s.exited_future.wait_until(deadline.when()) != std::future_status::ready) {
    s.thread.detach();
    throw TimeoutError("status server thread did not stop before its deadline");
  }
  s.thread.join();
  // The io thread is gone: close the listening socket and every connection here, so that clients see
  // a refused or closed connection at once instead of waiting for their deadline.
  beast::error_code ignored;
  s.acceptor.close(ignored);
  for (const auto& w : s.sessions)
    if (auto session = w.lock()) session->evict();
}

}  // namespace t2
