#include "server/listener.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/listener_impl.hpp"

namespace nodealloc::server {

namespace {

class TcpListener final : public Listener, public std::enable_shared_from_this<TcpListener> {
 public:
  TcpListener(net::io_context& ioc, OnAccept on_accept, Logger& log,
              std::vector<net::io_context*> into)
      : into_(into.empty() ? std::vector<net::io_context*>{&ioc} : std::move(into)),
        acceptor_(ioc),
        retry_(ioc),
        on_accept_(std::move(on_accept)),
        log_(log) {}

  beast::error_code bind(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    return ec;
  }

  void start() override {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }

  void stop() override {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->retry_.cancel();
      self->acceptor_.close(ec);
    });
  }

  unsigned short port() const override {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

 private:
  // The socket is opened on the next io_context in turn: the connection's handlers run there.
  void accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(*into_[next_],
                           [self = shared_from_this()](beast::error_code ec, TcpSocket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(beast::error_code ec, TcpSocket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: say so and try again shortly rather than spin.
      log_.warn("accept failed", {{"error", ec.message()}});
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    Socket s{std::move(socket), next_};
    next_ = (next_ + 1) % into_.size();
    on_accept_(s);
    accept();
  }

  const std::vector<net::io_context*> into_;
  std::size_t next_ = 0;  // index in into_ of the next connection's io_context
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  OnAccept on_accept_;
  Logger& log_;
};

}  // namespace

Result<std::shared_ptr<Listener>> Listener::open(net::io_context& ioc, const Endpoint& endpoint,
                                                 OnAccept on_accept, Logger& log,
                                                 std::vector<net::io_context*> into) {
  beast::error_code ec;
  auto address = net::ip::make_address(endpoint.host, ec);
  if (ec) {
    return Error{"cannot listen on " + endpoint.to_string() + ": not an IP address (" +
                 ec.message() + ")"};
  }
  auto listener = std::make_shared<TcpListener>(ioc, std::move(on_accept), log, std::move(into));
  if (auto err = listener->bind(tcp::endpoint(address, endpoint.port))) {
    return Error{"cannot listen on " + endpoint.to_string() + ": " + err.message()};
  }
  return std::shared_ptr<Listener>(std::move(listener));
}

}  // namespace nodealloc::server
