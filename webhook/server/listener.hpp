// Accepts TCP connections on one address and hands each socket (on its own strand, with
// TCP_NODELAY set) to a callback.
#pragma once

#include <functional>
#include <memory>

#include "core/result.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"

namespace boost::asio {
class io_context;
}

namespace nodealloc::server {

class Listener {
 public:
  // The callback receives a boost::asio::ip::tcp::socket&& through this opaque pointer type.
  struct Socket;
  using OnAccept = std::function<void(Socket&)>;

  // Binds and listens; Error: "cannot listen on ADDR: reason".
  static Result<std::shared_ptr<Listener>> open(boost::asio::io_context& ioc,
                                                const Endpoint& endpoint, OnAccept on_accept,
                                                Logger& log);
  virtual ~Listener() = default;
  virtual void start() = 0;
  virtual void stop() = 0;  // from any thread
  virtual unsigned short port() const = 0;
};

}  // namespace nodealloc::server
