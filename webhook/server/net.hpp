// Asio/Beast names shared by the networking files (include only from .cpp files).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>

#include "server/config.hpp"

namespace nodealloc::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

inline std::chrono::steady_clock::duration steady(Config::Seconds s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(s);
}

}  // namespace nodealloc::server
