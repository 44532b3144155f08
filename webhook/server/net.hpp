// Asio/Beast names shared by the networking files (include only from .cpp files).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>

#include "server/config.hpp"

namespace nodealloc::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Connections run on a worker's io_context: its concrete executor, not the type-erased
// any_io_executor, which costs a virtual copy and destroy on each handler's way (about 2 % of a
// request's instructions in the server's profile).
using Executor = net::io_context::executor_type;
using TcpSocket = tcp::socket::rebind_executor<Executor>::other;
using TcpStream = beast::basic_stream<tcp, Executor>;

inline std::chrono::steady_clock::duration steady(Config::Seconds s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(s);
}

}  // namespace nodealloc::server
