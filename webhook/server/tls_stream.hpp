// A TLS connection with OpenSSL reading and writing the socket itself, as nginx does: no
// BIO pair, no Asio engine between them. Asio's ssl::stream copies every received byte into a
// BIO pair and reads at most 17 KiB from the socket per call (three recvmsg calls for a 40 KiB
// review; a system call costs several µs on this project's VM), and it keeps two 17 KiB
// buffers per connection. Here OpenSSL reads ahead up to kReadAhead bytes per call, into its own
// buffer, which SSL_MODE_RELEASE_BUFFERS (server/tls_context.cpp) gives back while empty.
// docs/benchmarks.md item 29.
//
// Each operation calls OpenSSL until it asks to wait for the socket, then waits for the socket
// to be readable or writable (OpenSSL has just read or written it until EAGAIN, so the next
// bytes or room are signalled) and calls again. Deadlines are beast::basic_stream's: the
// deadline set by expires_after() applies to the operations started after it; one that expires
// cancels the wait, and the operation ends with beast::error::timeout. One operation at a time
// (HTTP/1.1 reads, then writes): the session never starts two.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "server/net.hpp"

namespace nodealloc::server {

class TlsStream {
 public:
  using executor_type = Executor;
  static constexpr std::size_t kReadAhead = std::size_t{64} * 1024;

  // Throws std::bad_alloc when OpenSSL cannot make the connection's state.
  TlsStream(TcpSocket&& socket, net::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  TcpSocket& socket() noexcept { return socket_; }

  // Bytes received and not yet handed out: decrypted, or still in OpenSSL's read-ahead buffer.
  bool has_pending() const { return SSL_has_pending(ssl_) == 1; }

  // The deadline of the operations started from now on (as beast::basic_stream's).
  void expires_after(std::chrono::steady_clock::duration d) {
    deadline_ = std::chrono::steady_clock::now() + d;
  }
  // Ends a pending operation with net::error::operation_aborted.
  void cancel() {
    beast::error_code ignored;
    socket_.cancel(ignored);
  }

  // The server's side of the handshake: this stream only ever accepts.
  template <class Handler>
  void async_handshake(Handler&& handler) {
    SSL_set_accept_state(ssl_);
    start([](TlsStream& s, beast::error_code& ec) { return s.call(SSL_do_handshake(s.ssl_), ec); },
          without_size(std::forward<Handler>(handler)));
  }

  // Sends close_notify and waits for the peer's (or an error, or the deadline).
  template <class Handler>
  void async_shutdown(Handler&& handler) {
    start(
        [](TlsStream& s, beast::error_code& ec) {
          int result = SSL_shutdown(s.ssl_);
          if (result == 0) result = SSL_shutdown(s.ssl_);  // ours is sent: now read theirs
          return s.call(result, ec);
        },
        without_size(std::forward<Handler>(handler)));
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    net::mutable_buffer into;  // the first non-empty buffer (read_some may fill less)
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      into = *it;
      if (into.size() > 0) break;
    }
    start(
        [into](TlsStream& s, beast::error_code& ec) {
          if (into.size() == 0) return Want::Nothing;
          return s.call_ex(SSL_read_ex(s.ssl_, into.data(), into.size(), &s.transferred_), ec);
        },
        std::forward<Handler>(handler));
  }

  // The whole sequence as one write (beast::flat_stream's reason: one TLS record for an
  // answer's header and body, not one per buffer).
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    out_.clear();
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      const net::const_buffer b = *it;
      const auto* bytes = static_cast<const char*>(b.data());
      out_.insert(out_.end(), bytes, bytes + b.size());
    }
    start(
        [](TlsStream& s, beast::error_code& ec) {
          if (s.out_.empty()) return Want::Nothing;
          return s.call_ex(SSL_write_ex(s.ssl_, s.out_.data(), s.out_.size(), &s.transferred_), ec);
        },
        std::forward<Handler>(handler));
  }

 private:
  enum class Want { Nothing, Read, Write };

  // An OpenSSL call's result (> 0: success): done (ec set on failure), or what to wait for.
  Want call(int result, beast::error_code& ec);
  Want call_ex(int result, beast::error_code& ec) {  // SSL_read_ex / SSL_write_ex: 1 or 0
    return result == 1 ? Want::Nothing : call(result, ec);
  }

  template <class Handler>
  static auto without_size(Handler&& handler) {
    return [h = std::forward<Handler>(handler)](beast::error_code ec, std::size_t) mutable {
      std::move(h)(ec);
    };
  }

  template <class Step, class Handler>
  void start(Step step, Handler&& handler) {
    transferred_ = 0;
    timed_out_ = false;
    resume(std::move(step), std::forward<Handler>(handler), true);
  }

  template <class Step, class Handler>
  void resume(Step step, Handler&& handler, bool initiating) {
    beast::error_code ec;
    clear_errors();
    const Want want = step(*this, ec);
    if (want == Want::Nothing) {
      const std::size_t n = ec ? 0 : transferred_;
      if (initiating) {  // an initiating function never completes its handler itself
        net::post(get_executor(), beast::bind_handler(std::forward<Handler>(handler), ec, n));
      } else {
        std::forward<Handler>(handler)(ec, n);
      }
      return;
    }
    arm_timer();
    socket_.async_wait(want == Want::Read ? tcp::socket::wait_read : tcp::socket::wait_write,
                       [this, step = std::move(step), handler = std::forward<Handler>(handler)](
                           beast::error_code wait_ec) mutable {
                         disarm_timer();
                         if (wait_ec) {
                           if (timed_out_) wait_ec = beast::error::timeout;
                           return std::move(handler)(wait_ec, std::size_t{0});
                         }
                         resume(std::move(step), std::move(handler), false);
                       });
  }

  static void clear_errors();  // OpenSSL's error queue and errno, before a call
  void arm_timer();
  void disarm_timer();

  TcpSocket socket_;
  SSL* ssl_;
  net::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  // The timer's handler may run after the stream is gone (its expiry queued just before the
  // session ended): it checks this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  unsigned timer_generation_ = 0;
  bool timed_out_ = false;
  std::size_t transferred_ = 0;  // by the current read or write
  std::vector<char> out_;        // the write in progress, flattened
};

}  // namespace nodealloc::server
