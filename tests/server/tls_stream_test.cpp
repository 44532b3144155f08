// TlsStream against Asio's own TLS client (ssl::stream, an independent implementation) over
// real loopback sockets: what the session relies on — bytes intact both ways, how the peer's
// endings are reported, deadlines, cancellation, and what is still pending.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/net.hpp"
#include "server/tls_stream.hpp"

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using nodealloc::server::TcpSocket;
using nodealloc::server::TlsStream;
using tcp = net::ip::tcp;
using Client = ssl::stream<TcpSocket>;

std::string pattern(std::size_t n, int salt) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + salt) % 26);
  return s;
}

// A server context with a throw-away P-256 key and self-signed certificate.
void use_throwaway_certificate(ssl::context& context) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* cert = X509_new();
  REQUIRE(cert != nullptr);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  REQUIRE(SSL_CTX_use_certificate(context.native_handle(), cert) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(context.native_handle(), key) == 1);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// A handshaken pair on 127.0.0.1: Asio's TLS client and our server stream.
struct Pair {
  net::io_context ioc{1};
  ssl::context server_context{ssl::context::tls_server};
  ssl::context client_context{ssl::context::tls_client};
  std::optional<TlsStream> server;
  std::optional<Client> client;

  Pair() {
    use_throwaway_certificate(server_context);
    SSL_CTX_set_mode(server_context.native_handle(), SSL_MODE_RELEASE_BUFFERS);  // as the server
    client_context.set_verify_mode(ssl::verify_none);  // the client is only the peer here
    tcp::acceptor acceptor(ioc, {net::ip::address_v4::loopback(), 0});
    TcpSocket client_socket(ioc);
    client_socket.connect(acceptor.local_endpoint());
    TcpSocket server_socket(ioc);
    acceptor.accept(server_socket);
    server.emplace(std::move(server_socket), server_context);
    client.emplace(std::move(client_socket), client_context);
    boost::system::error_code server_ec = net::error::would_block;
    boost::system::error_code client_ec = net::error::would_block;
    server->async_handshake([&](boost::system::error_code ec) { server_ec = ec; });
    client->async_handshake(ssl::stream_base::client,
                            [&](boost::system::error_code ec) { client_ec = ec; });
    run();
    REQUIRE_FALSE(server_ec);
    REQUIRE_FALSE(client_ec);
  }

  // Bounded: a lost completion fails the test instead of hanging it.
  void run(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    ioc.restart();
    ioc.run_for(limit);
  }

  // Reads with the server until `total` bytes or an error; returns what was read.
  std::string server_read(std::size_t total, boost::system::error_code& error) {
    std::string got;
    std::vector<char> buffer(4096);
    std::function<void()> next = [&] {
      const std::size_t want = std::min(buffer.size(), total - got.size());
      server->async_read_some(net::buffer(buffer.data(), want),
                              [&](boost::system::error_code ec, std::size_t n) {
                                got.append(buffer.data(), n);
                                if (ec) {
                                  error = ec;
                                } else if (got.size() < total) {
                                  return next();
                                }
                                ioc.stop();  // done: the peer's own operations may wait on
                              });
    };
    next();
    run();
    return got;
  }
};

}  // namespace

TEST_CASE("tls stream: bytes arrive intact both ways, large and in several records") {
  Pair p;
  const std::string request = pattern(std::size_t{200} * 1024, 1);
  net::async_write(*p.client, net::buffer(request), [](boost::system::error_code, std::size_t) {});
  boost::system::error_code error;
  CHECK((p.server_read(request.size(), error) == request));
  CHECK_FALSE(error);

  // A sequence of buffers, larger than the socket takes at once: written whole, in order.
  const std::string head = pattern(300, 2);
  const std::string body = pattern(std::size_t{3} * 1024 * 1024, 3);
  const std::array<net::const_buffer, 2> answer{net::buffer(head), net::buffer(body)};
  std::size_t written = 0;
  boost::system::error_code write_error = net::error::would_block;
  p.server->async_write_some(answer, [&](boost::system::error_code ec, std::size_t n) {
    write_error = ec;
    written = n;
  });
  std::string received(head.size() + body.size(), '\0');
  boost::system::error_code read_error = net::error::would_block;
  net::async_read(*p.client, net::buffer(received),
                  [&](boost::system::error_code ec, std::size_t) { read_error = ec; });
  p.run();
  CHECK_FALSE(write_error);
  CHECK(written == head.size() + body.size());
  CHECK_FALSE(read_error);
  CHECK((received == head + body));
}

TEST_CASE("tls stream: the peer's close_notify is eof") {
  Pair p;
  boost::system::error_code shutdown_error = net::error::would_block;
  p.client->async_shutdown([&](boost::system::error_code ec) { shutdown_error = ec; });
  boost::system::error_code error;
  CHECK(p.server_read(1, error).empty());
  CHECK(error == net::error::eof);
}

TEST_CASE("tls stream: an end without close_notify is stream_truncated, a reset a reset") {
  {
    Pair p;
    p.client->next_layer().shutdown(tcp::socket::shutdown_send);  // FIN, no close_notify
    boost::system::error_code error;
    CHECK(p.server_read(1, error).empty());
    CHECK(error == ssl::error::stream_truncated);
  }
  {
    Pair p;
    p.client->next_layer().close();  // the server's session tickets unread: an RST
    boost::system::error_code error;
    CHECK(p.server_read(1, error).empty());
    CHECK(error == net::error::connection_reset);
  }
}

TEST_CASE("tls stream: an expired deadline ends the step with beast's timeout") {
  Pair p;
  p.server->expires_after(std::chrono::milliseconds(50));
  const auto started = std::chrono::steady_clock::now();
  boost::system::error_code error;
  CHECK(p.server_read(1, error).empty());
  CHECK(error == boost::beast::error::timeout);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));

  // A later step with a new deadline is not cut off by the old one.
  p.server->expires_after(std::chrono::seconds(30));
  const std::string more = pattern(1000, 4);
  net::async_write(*p.client, net::buffer(more), [](boost::system::error_code, std::size_t) {});
  CHECK((p.server_read(more.size(), error) == more));
}

TEST_CASE("tls stream: cancel ends a waiting read with operation_aborted") {
  Pair p;
  boost::system::error_code error = net::error::would_block;
  std::vector<char> buffer(100);
  p.server->async_read_some(net::buffer(buffer),
                            [&](boost::system::error_code ec, std::size_t) { error = ec; });
  p.run(std::chrono::milliseconds(100));  // waiting: nothing sent
  CHECK(error == net::error::would_block);
  p.server->cancel();
  p.run();
  CHECK(error == net::error::operation_aborted);
}

TEST_CASE("tls stream: bytes read ahead are pending until handed out") {
  Pair p;
  const std::string two = pattern(std::size_t{40} * 1024, 5);  // three records
  net::async_write(*p.client, net::buffer(two), [](boost::system::error_code, std::size_t) {});
  boost::system::error_code error;
  CHECK((p.server_read(100, error) == two.substr(0, 100)));
  CHECK(p.server->has_pending());
  CHECK((p.server_read(two.size() - 100, error) == two.substr(100)));
  CHECK_FALSE(p.server->has_pending());
}

TEST_CASE("tls stream: shutdown sends close_notify and ends with the peer's") {
  Pair p;
  boost::system::error_code server_error = net::error::would_block;
  p.server->async_shutdown([&](boost::system::error_code ec) { server_error = ec; });
  // The client reads the close_notify (eof) and answers with its own.
  std::vector<char> buffer(100);
  boost::system::error_code client_read = net::error::would_block;
  p.client->async_read_some(net::buffer(buffer), [&](boost::system::error_code ec, std::size_t) {
    client_read = ec;
    p.client->async_shutdown([](boost::system::error_code) {});
  });
  p.run();
  CHECK(client_read == net::error::eof);
  CHECK_FALSE(server_error);
}
