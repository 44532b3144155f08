#include "server/tls_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <new>
#include <system_error>

namespace nodealloc::server {

TlsStream::TlsStream(TcpSocket&& socket, net::ssl::context& context)
    : socket_(std::move(socket)),
      ssl_(SSL_new(context.native_handle())),
      timer_(socket_.get_executor()) {
  if (ssl_ == nullptr) throw std::bad_alloc();
  // The socket's descriptor, not owned (BIO_NOCLOSE): the socket closes it.
  if (SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) {
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAhead);
  // OpenSSL's reads and writes must return at once when the socket has nothing or no room.
  beast::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) {
    SSL_free(ssl_);
    throw std::system_error(ec);
  }
}

TlsStream::~TlsStream() {
  *alive_ = false;
  SSL_free(ssl_);
}

void TlsStream::clear_errors() {
  ERR_clear_error();
  errno = 0;
}

TlsStream::Want TlsStream::call(int result, beast::error_code& ec) {
  if (result > 0) return Want::Nothing;
  const int system_error = errno;  // of the socket call OpenSSL made, if any
  Want want = Want::Nothing;
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      want = Want::Read;
      break;
    case SSL_ERROR_WANT_WRITE:
      want = Want::Write;
      break;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      ec = net::error::eof;
      break;
    case SSL_ERROR_SYSCALL: {
      const unsigned long error = ERR_peek_error();
      if (error != 0) {
        ec = beast::error_code(static_cast<int>(error), net::error::get_ssl_category());
      } else if (system_error != 0) {
        ec = beast::error_code(system_error, boost::system::system_category());
      } else {
        ec = net::ssl::error::stream_truncated;  // the connection ended without close_notify
      }
      break;
    }
    default: {  // SSL_ERROR_SSL: the peer broke the protocol, or ended without close_notify
      const unsigned long error = ERR_peek_error();
      if (ERR_GET_LIB(error) == ERR_LIB_SSL &&
          ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = net::ssl::error::stream_truncated;
      } else if (error != 0) {
        ec = beast::error_code(static_cast<int>(error), net::error::get_ssl_category());
      } else {  // a wait this server never asks for (X.509 lookup, async engines): a failure
        ec = net::ssl::error::unspecified_system_error;
      }
      break;
    }
  }
  ERR_clear_error();
  return want;
}

void TlsStream::arm_timer() {
  if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
  timer_.expires_at(deadline_);
  timer_.async_wait([alive = alive_, this, generation = ++timer_generation_](beast::error_code ec) {
    // Cancelled, or expired just as the wait ended (the generation moved on): nothing to do.
    if (ec || !*alive || generation != timer_generation_) return;
    timed_out_ = true;
    cancel();
  });
}

void TlsStream::disarm_timer() {
  if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
  ++timer_generation_;
  timer_.cancel();
}

}  // namespace nodealloc::server
