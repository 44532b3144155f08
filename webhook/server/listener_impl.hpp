// Listener::Socket: the accepted socket, for the callbacks (include from .cpp files only).
#pragma once

#include "server/listener.hpp"
#include "server/net.hpp"

namespace nodealloc::server {

struct Listener::Socket {
  tcp::socket socket;
};

}  // namespace nodealloc::server
