// ReadAheadStream over a real loopback TCP connection, read the way Asio's TLS engine reads it
// (one 17 KiB buffer at a time).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "server/net.hpp"
#include "server/read_ahead_stream.hpp"

namespace {

using nodealloc::server::ReadAheadStream;
using nodealloc::server::TcpSocket;
using nodealloc::server::TcpStream;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kEngineRead = std::size_t{17} * 1024;

std::string pattern(std::size_t n, char salt) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + salt) % 26);
  return s;
}

// A connected pair on 127.0.0.1: the client socket and the server's stream.
struct Connection {
  net::io_context ioc{1};
  TcpSocket client{ioc};
  ReadAheadStream<TcpStream> server{TcpSocket(ioc)};

  Connection() {
    tcp::acceptor acceptor(ioc, {net::ip::address_v4::loopback(), 0});
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server.next_layer().socket());
  }

  // Reads `total` bytes with engine-sized reads; notes the most bytes ever held in the spill.
  std::string read(std::size_t total, std::size_t& most_buffered, std::size_t& reads) {
    std::string got;
    std::vector<char> buffer(kEngineRead);
    std::function<void()> next = [&] {
      server.async_read_some(net::buffer(buffer), [&](boost::system::error_code ec, std::size_t n) {
        REQUIRE_FALSE(ec);
        REQUIRE(n <= kEngineRead);
        got.append(buffer.data(), n);
        ++reads;
        most_buffered = std::max(most_buffered, server.buffered());
        if (got.size() < total) next();
      });
    };
    next();
    run();
    return got;
  }

  // Bounded: a lost byte must fail the test, not hang it.
  void run() {
    ioc.restart();
    ioc.run_for(std::chrono::seconds(10));
  }
};

}  // namespace

TEST_CASE("read-ahead: a message larger than one read arrives whole, the rest from the spill") {
  Connection c;
  // 50 KiB: within the loopback socket's receive buffer, so all of it is there before reading.
  const std::string message = pattern(std::size_t{50} * 1024, 1);
  net::write(c.client, net::buffer(message));
  std::size_t most_buffered = 0;
  std::size_t reads = 0;
  CHECK(c.read(message.size(), most_buffered, reads) == message);
  // 17 KiB from the socket, then the other 33 KiB in one read: 17 KiB handed up, 16 KiB kept.
  CHECK(most_buffered == message.size() - 2 * kEngineRead);
  CHECK(reads == 3);
  // Read to its end: no spill held while the connection waits for its next message.
  CHECK(c.server.buffered() == 0);
  CHECK_FALSE(c.server.has_spill());

  // The next message, shorter than one read: straight from the socket.
  const std::string second = pattern(1000, 2);
  net::write(c.client, net::buffer(second));
  most_buffered = 0;
  CHECK(c.read(second.size(), most_buffered, reads) == second);
  CHECK(most_buffered == 0);
  CHECK_FALSE(c.server.has_spill());
}

TEST_CASE("read-ahead: two messages in one spill are handed out in order") {
  Connection c;
  const std::string first = pattern(2 * kEngineRead + 100, 3);
  const std::string second = pattern(2000, 4);
  net::write(c.client, net::buffer(first + second));
  std::size_t most_buffered = 0;
  std::size_t reads = 0;
  CHECK(c.read(first.size() + second.size(), most_buffered, reads) == first + second);
  CHECK(most_buffered == 2100);
  CHECK_FALSE(c.server.has_spill());
}

TEST_CASE("read-ahead: larger buffers and buffer sequences read straight from the socket") {
  Connection c;
  const std::string message = pattern(std::size_t{40} * 1024, 5);
  net::write(c.client, net::buffer(message));
  std::string got(message.size(), '\0');
  // A sequence of two buffers: passed through, the spill is not used.
  const std::array<net::mutable_buffer, 2> halves{
      net::buffer(got.data(), got.size() / 2),
      net::buffer(got.data() + got.size() / 2, got.size() - got.size() / 2)};
  std::size_t n = 0;
  c.server.async_read_some(halves, [&](boost::system::error_code ec, std::size_t bytes) {
    REQUIRE_FALSE(ec);
    n = bytes;
  });
  c.run();
  CHECK(n == message.size());
  CHECK(got == message);
  CHECK(c.server.buffered() == 0);
}

TEST_CASE("read-ahead: end of stream after the spill is drained") {
  Connection c;
  const std::string message = pattern(2 * kEngineRead + 10, 6);
  net::write(c.client, net::buffer(message));
  c.client.shutdown(tcp::socket::shutdown_send);
  std::size_t most_buffered = 0;
  std::size_t reads = 0;
  CHECK(c.read(message.size(), most_buffered, reads) == message);
  CHECK(most_buffered == 10);
  std::vector<char> buffer(kEngineRead);
  boost::system::error_code result;
  c.server.async_read_some(net::buffer(buffer),
                           [&](boost::system::error_code ec, std::size_t) { result = ec; });
  c.run();
  CHECK(result == net::error::eof);
  CHECK_FALSE(c.server.has_spill());
}
