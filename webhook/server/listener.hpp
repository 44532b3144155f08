// Accepts TCP connections on one address and hands each socket (with TCP_NODELAY set, bound to
// the io_context that accepted it) to a callback.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/result.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"

namespace boost::asio {
class io_context;
}

namespace nodealloc::server {

class Listener {
 public:
  // The callback receives the accepted socket (net.hpp's TcpSocket) and the index of its
  // io_context in `into` through this opaque pointer type.
  struct Socket;
  using OnAccept = std::function<void(Socket&)>;

  // Binds and listens. Each io_context of `into` (or ioc alone when it is empty) accepts on the
  // listening socket whenever it waits for work, keeps the sockets it accepts and runs the
  // callback; each must run on one thread. A connection goes to whichever takes it first, so to
  // one waiting for work rather than a busy one. Error: "cannot listen on ADDR: reason".
  static Result<std::shared_ptr<Listener>> open(
      boost::asio::io_context& ioc, const Endpoint& endpoint, OnAccept on_accept, Logger& log,
      const std::vector<boost::asio::io_context*>& into = {});
  virtual ~Listener() = default;
  virtual void start() = 0;
  virtual void stop() = 0;  // from any thread
  virtual unsigned short port() const = 0;
};

}  // namespace nodealloc::server
