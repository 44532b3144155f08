// Accepts TCP connections on one address and hands each socket (with TCP_NODELAY set, bound to
// an io_context given in turn from a list) to a callback.
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

  // Binds and listens; the acceptor and the callback run on ioc, which must run on one thread.
  // Accepted sockets go to the io_contexts of `into` in turn (round-robin), or to ioc when it is
  // empty. Error: "cannot listen on ADDR: reason".
  static Result<std::shared_ptr<Listener>> open(boost::asio::io_context& ioc,
                                                const Endpoint& endpoint, OnAccept on_accept,
                                                Logger& log,
                                                std::vector<boost::asio::io_context*> into = {});
  virtual ~Listener() = default;
  virtual void start() = 0;
  virtual void stop() = 0;  // from any thread
  virtual unsigned short port() const = 0;
};

}  // namespace nodealloc::server
