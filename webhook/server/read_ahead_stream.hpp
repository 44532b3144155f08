// A stream layer under the TLS stream that lets one read from the socket take more than its
// caller asked for. Asio's TLS engine reads at most 17 KiB (one TLS record) per call, so a
// 40 KiB review took three recvmsg calls, and on this project's VM a system call costs several
// µs. When a read fills its caller's buffer (more is likely waiting), the next one also reads
// into a spill of kSpillBytes, from which the following reads are served without a system
// call. The spill exists only while a message larger than one read is arriving: a connection
// waiting for its next request holds none (RSS under 256 connections, docs/benchmarks.md).
#pragma once

#include <array>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace nodealloc::server {

template <class NextLayer>
class ReadAheadStream;

namespace detail {
// Completes a read from the socket for ReadAheadStream, then calls the caller's handler. Its
// move throws only if the handler's does; nothing relies on it not throwing.
template <class Stream, class Handler>
struct ReadAheadOp {  // NOLINT(bugprone-exception-escape)
  Stream* stream;
  std::size_t wanted;    // the caller's buffer
  std::size_t capacity;  // what was read into: the caller's buffer, and the spill if used
  Handler handler;

  void operator()(boost::beast::error_code ec, std::size_t n) {
    std::move(handler)(ec, stream->finish_read(ec, n, wanted, capacity));
  }
};
}  // namespace detail

template <class NextLayer>
class ReadAheadStream {
 public:
  static constexpr std::size_t kSpillBytes = std::size_t{48} * 1024;

  using next_layer_type = NextLayer;  // a beast::basic_stream (its timeouts apply to the reads)
  // What asio::ssl::stream asks of its next layer (basic_stream keeps these private to it).
  using lowest_layer_type = typename NextLayer::socket_type;
  using executor_type = typename NextLayer::executor_type;

  template <class... Args>
  explicit ReadAheadStream(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() noexcept { return next_; }
  lowest_layer_type& lowest_layer() noexcept { return next_.socket(); }
  const lowest_layer_type& lowest_layer() const noexcept { return next_.socket(); }

  // Bytes read from the socket and not yet handed to the layer above.
  std::size_t buffered() const noexcept { return spill_end_ - spill_at_; }
  // Whether a spill is allocated (for tests: none between messages).
  bool has_spill() const noexcept { return spill_ != nullptr; }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return boost::asio::async_initiate<ReadHandler, void(boost::beast::error_code, std::size_t)>(
        [this](auto h, const MutableBufferSequence& b) { this->start_read(b, std::move(h)); },
        handler, buffers);
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return next_.async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

 private:
  template <class, class>
  friend struct detail::ReadAheadOp;

  template <class MutableBufferSequence, class Handler>
  void start_read(const MutableBufferSequence& buffers, Handler&& handler) {
    namespace net = boost::asio;
    if (buffered() > 0) {
      const std::size_t n =
          net::buffer_copy(buffers, net::const_buffer(spill_.get() + spill_at_, buffered()));
      spill_at_ += n;
      if (buffered() == 0) {
        spill_at_ = spill_end_ = 0;
        if (!read_ahead_) spill_.reset();
      }
      // Never inline: an initiating function must not complete its handler itself.
      net::post(get_executor(), boost::beast::bind_handler(std::forward<Handler>(handler),
                                                           boost::beast::error_code(), n));
      return;
    }
    const std::size_t wanted = net::buffer_size(buffers);
    using Op = detail::ReadAheadOp<ReadAheadStream, std::decay_t<Handler>>;
    if constexpr (std::is_convertible_v<const MutableBufferSequence&, net::mutable_buffer>) {
      if (read_ahead_) {  // one buffer (the TLS engine's): read past it into the spill
        if (!spill_) spill_ = std::make_unique_for_overwrite<char[]>(kSpillBytes);
        const std::array<net::mutable_buffer, 2> both{net::mutable_buffer(buffers),
                                                      net::buffer(spill_.get(), kSpillBytes)};
        next_.async_read_some(
            both, Op{this, wanted, wanted + kSpillBytes, std::forward<Handler>(handler)});
        return;
      }
    }
    next_.async_read_some(buffers, Op{this, wanted, wanted, std::forward<Handler>(handler)});
  }

  // A read from the socket is done: what went past the caller's buffer stays in the spill.
  // Returns the bytes the caller got.
  std::size_t finish_read(boost::beast::error_code ec, std::size_t n, std::size_t wanted,
                          std::size_t capacity) {
    read_ahead_ = !ec && capacity > 0 && n >= capacity;  // filled: more is likely waiting
    if (n > wanted) {
      spill_at_ = 0;
      spill_end_ = n - wanted;
      return wanted;
    }
    if (!read_ahead_) spill_.reset();  // the message has arrived: an idle connection holds none
    return n;
  }

  NextLayer next_;
  std::unique_ptr<char[]> spill_;
  std::size_t spill_at_ = 0;   // the next byte to hand out
  std::size_t spill_end_ = 0;  // past the last byte read into the spill
  bool read_ahead_ = false;    // the last read from the socket filled its buffer
};

}  // namespace nodealloc::server

// A ReadAheadOp runs as its handler would: same executor, same allocator, same cancellation.
template <template <class, class> class Associator, class Stream, class Handler, class Default>
struct boost::asio::associator<Associator, nodealloc::server::detail::ReadAheadOp<Stream, Handler>,
                               Default> : Associator<Handler, Default> {
  static typename Associator<Handler, Default>::type get(
      const nodealloc::server::detail::ReadAheadOp<Stream, Handler>& op) noexcept {
    return Associator<Handler, Default>::get(op.handler);
  }
  static auto get(const nodealloc::server::detail::ReadAheadOp<Stream, Handler>& op,
                  const Default& candidate) noexcept {
    return Associator<Handler, Default>::get(op.handler, candidate);
  }
};
