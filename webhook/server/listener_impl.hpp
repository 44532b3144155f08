// Listener::Socket: the accepted socket, for the callbacks (include from .cpp files only).
#pragma once

#include <cstddef>

#include "server/listener.hpp"
#include "server/net.hpp"

namespace nodealloc::server {

struct Listener::Socket {
  TcpSocket socket;
  std::size_t index = 0;  // of its io_context in Listener::open's `into`
};

}  // namespace nodealloc::server
