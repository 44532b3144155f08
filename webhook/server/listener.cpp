#include "server/listener.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "server/listener_impl.hpp"

namespace nodealloc::server {

namespace {

// One acceptor per io_context, all on the same listening socket (duplicates of one descriptor,
// each in its own io_context's epoll set): a new connection wakes every io_context waiting for
// one, the first to call accept() takes it and the others find nothing. An io_context that is
// busy or whose thread the kernel has descheduled is not waiting, so it takes no connection;
// nginx's workers share their listening socket the same way. Dealing connections in turn from
// one acceptor gave a busy worker as many as an idle one (docs/benchmarks.md, item 34).
//
// A Lane is an io_context's acceptor, touched only on that io_context's thread; its pending
// handlers hold it, not the listener, so nothing of one io_context is kept alive by another's
// handlers, whatever order the io_contexts are destroyed in.
class Lane : public std::enable_shared_from_this<Lane> {
 public:
  struct Shared {
    Listener::OnAccept on_accept;
    Logger& log;
  };

  Lane(net::io_context& ioc, std::size_t index, std::shared_ptr<const Shared> shared)
      : ioc_(ioc), index_(index), acceptor_(ioc), retry_(ioc), shared_(std::move(shared)) {}

  tcp::acceptor& acceptor() { return acceptor_; }

  void start() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }

  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->retry_.cancel();
      self->acceptor_.close(ec);
    });
  }

 private:
  // The socket is opened on this lane's io_context: the connection's handlers run there.
  void accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(ioc_,
                           [self = shared_from_this()](beast::error_code ec, TcpSocket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(beast::error_code ec, TcpSocket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: say so and try again shortly rather than spin.
      shared_->log.warn("accept failed", {{"error", ec.message()}});
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    Listener::Socket s{std::move(socket), index_};
    shared_->on_accept(s);
    accept();
  }

  net::io_context& ioc_;
  std::size_t index_;  // in Listener::open's `into`
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  std::shared_ptr<const Shared> shared_;
};

class TcpListener final : public Listener {
 public:
  TcpListener(net::io_context& ioc, OnAccept on_accept, Logger& log,
              const std::vector<net::io_context*>& into) {
    auto shared = std::make_shared<const Lane::Shared>(Lane::Shared{std::move(on_accept), log});
    for (net::io_context* c : into.empty() ? std::vector<net::io_context*>{&ioc} : into) {
      lanes_.push_back(std::make_shared<Lane>(*c, lanes_.size(), shared));
    }
  }

  // Lane 0 opens the socket; every other lane accepts on a duplicate of its descriptor.
  beast::error_code bind(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    tcp::acceptor& first = lanes_[0]->acceptor();
    first.open(endpoint.protocol(), ec);
    if (!ec) first.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) first.bind(endpoint, ec);
    if (!ec) first.listen(net::socket_base::max_listen_connections, ec);
    for (std::size_t i = 1; i < lanes_.size() && !ec; ++i) {
      const int fd = ::fcntl(first.native_handle(), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return {errno, beast::system_category()};
      lanes_[i]->acceptor().assign(endpoint.protocol(), fd, ec);
      if (ec) ::close(fd);
    }
    return ec;
  }

  void start() override {
    for (auto& lane : lanes_) lane->start();
  }

  void stop() override {
    for (auto& lane : lanes_) lane->stop();
  }

  unsigned short port() const override {
    beast::error_code ec;
    return lanes_[0]->acceptor().local_endpoint(ec).port();
  }

 private:
  std::vector<std::shared_ptr<Lane>> lanes_;
};

}  // namespace

Result<std::shared_ptr<Listener>> Listener::open(net::io_context& ioc, const Endpoint& endpoint,
                                                 OnAccept on_accept, Logger& log,
                                                 const std::vector<net::io_context*>& into) {
  beast::error_code ec;
  auto address = net::ip::make_address(endpoint.host, ec);
  if (ec) {
    return Error{"cannot listen on " + endpoint.to_string() + ": not an IP address (" +
                 ec.message() + ")"};
  }
  auto listener = std::make_shared<TcpListener>(ioc, std::move(on_accept), log, into);
  if (auto err = listener->bind(tcp::endpoint(address, endpoint.port))) {
    return Error{"cannot listen on " + endpoint.to_string() + ": " + err.message()};
  }
  return std::shared_ptr<Listener>(std::move(listener));
}

}  // namespace nodealloc::server
