#include "server/https_session.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstring>
#include <memory>
#include <optional>

#include "core/review_reader.hpp"
#include "server/body_buffers.hpp"
#include "server/listener_impl.hpp"
#include "server/policy_store.hpp"
#include "server/request_body.hpp"
#include "server/tls_stream.hpp"

namespace nodealloc::server {

namespace {

namespace ssl = net::ssl;
namespace http = beast::http;

constexpr std::size_t kFirstReadSize = 4096;
// A connection keeps its chunked body's string for the next request up to this size (an odd huge
// request must not pin megabytes on an idle keep-alive connection).
constexpr std::size_t kKeptBodyCapacity = BodyBuffers::kKeptCapacity;
constexpr auto kCloseTimeout = std::chrono::seconds(2);  // TLS close_notify and lingering close
constexpr std::size_t kLingerBytes = std::size_t{1024} * 1024;  // dropped at most while lingering
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

class HttpsSession final : public Connection, public std::enable_shared_from_this<HttpsSession> {
 public:
  HttpsSession(TcpSocket&& socket, HttpsShared& shared, json::ReviewReader& reader,
               BodyBuffers& bodies, std::shared_ptr<ssl::context> context)
      : shared_(shared),
        reader_(reader),
        bodies_(bodies),
        context_(std::move(context)),
        stream_(std::move(socket), *context_) {}

  ~HttpsSession() override {
    if (in_request_) shared_.metrics.request_finished();
    shared_.tracker.remove(this);
    shared_.metrics.connection_closed();
  }

  // On the listener's thread; the rest on the worker's.
  void start() {
    shared_.metrics.connection_opened();
    shared_.tracker.add(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

  void shut_down() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->waiting_ && !self->input_pending()) self->stream_.cancel();
    });
  }

 private:
  const Config& config() const { return shared_.config; }

  void handshake() {
    if (shared_.tracker.stopping()) return;  // accepted just as the server stopped
    waiting_ = true;
    stream_.expires_after(steady(config().handshake_timeout));
    stream_.async_handshake(
        beast::bind_front_handler(&HttpsSession::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    waiting_ = false;
    if (ec) {
      if (ec == beast::error::timeout) shared_.metrics.timed_out(TimeoutStage::Handshake);
      shared_.metrics.handshake_failed();
      shared_.log.debug("TLS handshake failed", {{"error", ec.message()}});
      return;
    }
    wait_for_request(true);
  }

  // Bytes of a next request already here (read, in OpenSSL, or in the socket) but not handled
  // yet: at shutdown such a connection is not idle, its request is served (Connection: close).
  // Under load the server can be milliseconds behind what clients have sent; closing those
  // connections as idle lost requests that had arrived before the signal (found by the soak).
  bool input_pending() {
    beast::error_code ec;
    return buffer_.size() > 0 || stream_.has_pending() || stream_.socket().available(ec) > 0;
  }

  // Waits for the first byte of the next request: an idle connection, which shutdown may close.
  void wait_for_request(bool first) {
    if ((stopping_ || shared_.tracker.stopping()) && !input_pending()) return close();
    if (buffer_.size() > 0) return read_header();  // pipelined
    waiting_ = true;
    first_ = first;
    stream_.expires_after(steady(first ? config().header_timeout : config().idle_timeout));
    stream_.async_read_some(
        buffer_.prepare(kFirstReadSize),
        beast::bind_front_handler(&HttpsSession::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    waiting_ = false;
    if (ec) {
      if (ec == beast::error::timeout) {
        shared_.metrics.timed_out(first_ ? TimeoutStage::Header : TimeoutStage::Idle);
      }
      return;  // closed by the peer, idle too long, or shut down
    }
    buffer_.commit(n);
    read_header();
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(config().max_header_bytes));
    parser_->body_limit(config().max_body_bytes);
    auto& body = parser_->get().body();
    body.swap(spare_body_);  // reuse this connection's body buffer (chunked bodies)
    body.clear();
    direct_body_ = false;
    begin_request();
    stream_.expires_after(steady(config().header_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpsSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec, TimeoutStage::Header);
    started_ = std::chrono::steady_clock::now();
    auto& req = parser_->get();
    const Handler handler = route_of(req.target());
    if (const auto length = parser_->content_length();
        length && *length > config().max_body_bytes) {
      return reply_and_close(text_response(413, "request body too large", handler));
    }
    if (parser_->is_done()) return handle();
    if (iequals(req[http::field::expect], "100-continue")) {
      // Refuse before the body is sent when the header already decides.
      auto early = shared_.router.check_header(req.method_string(), req.target(),
                                               req[http::field::content_type]);
      if (early.status != 0) return reply_and_close(std::move(early));
      stream_.expires_after(steady(config().write_timeout));
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              [self = shared_from_this()](beast::error_code e, std::size_t) {
                                if (e) return;
                                self->read_body();
                              });
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(steady(config().body_timeout));
    const auto length = parser_->content_length();  // none when chunked
    if (!length) {
      http::async_read(stream_, buffer_, *parser_,
                       beast::bind_front_handler(&HttpsSession::on_body, shared_from_this()));
      return;
    }
    // A Content-Length body (kube-apiserver's) is read straight into a buffer of the worker's
    // pool: OpenSSL copies it there from its record buffer, instead of into buffer_ for
    // Beast's parser to copy out again. The buffer is not zero-filled (a std::string cannot grow
    // without that in C++20: 40 KiB of memset per review) and keeps kPadding spare bytes for
    // the reader. The length is at most max_body_bytes (on_header).
    const auto size = static_cast<std::size_t>(*length);
    const std::size_t have = std::min(buffer_.size(), size);  // read with the header
    body_ = bodies_.take(size + json::ReviewReader::kPadding);
    body_size_ = size;
    direct_body_ = true;
    if (have > 0) std::memcpy(body_.data(), buffer_.data().data(), have);
    buffer_.consume(have);  // what is left belongs to a pipelined request
    if (have == size) return handle();
    net::async_read(stream_, net::buffer(body_.data() + have, size - have),
                    beast::bind_front_handler(&HttpsSession::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec, TimeoutStage::Body);
    handle();
  }

  void on_read_error(beast::error_code ec, TimeoutStage stage) {
    if (ec == beast::error::timeout) {
      shared_.metrics.timed_out(stage);
      shared_.log.debug("request timed out",
                        {{"stage", stage == TimeoutStage::Header ? "header" : "body"}});
      return;  // the stream is closed already
    }
    const Handler handler = parser_ ? route_of(parser_->get().target()) : Handler::Other;
    if (ec == http::error::body_limit) {
      return reply_and_close(text_response(413, "request body too large", handler));
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(text_response(431, "request header too large", Handler::Other));
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return;  // the peer went away
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return reply_and_close(
          text_response(400, "malformed HTTP request: " + ec.message(), Handler::Other));
    }
    shared_.log.debug("read failed", {{"error", ec.message()}});
  }

  void handle() {
    auto& req = parser_->get();
    const std::string& chunked = req.body();
    const Request request =
        direct_body_
            ? Request{req.method_string(), req.target(), req[http::field::content_type],
                      std::string_view(body_.data(), body_size_), true}
            : Request{req.method_string(), req.target(), req[http::field::content_type], chunked,
                      chunked.capacity() - chunked.size() >= json::ReviewReader::kPadding};
    Response response = shared_.router.handle(request, policy_, reader_, started_);
    body_ = {};  // back to the pool: the answer does not point into it
    const bool keep_alive = req.keep_alive() && !stopping_ && !shared_.tracker.stopping();
    send(std::move(response), keep_alive, false);
  }

  void reply_and_close(Response response) { send(std::move(response), false, true); }

  void send(Response response, bool keep_alive, bool linger) {
    keep_alive_ = keep_alive;
    linger_ = linger;
    shared_.metrics.http_response(response.handler, response.status);
    res_.clear();
    res_.result(static_cast<unsigned>(response.status));
    res_.version(11);
    res_.set(http::field::content_type, response.content_type);
    if (!response.allow.empty()) res_.set(http::field::allow, response.allow);
    res_.body() = std::move(response.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    stream_.expires_after(steady(config().write_timeout));
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&HttpsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    end_request();
    if (ec) {
      if (ec == beast::error::timeout) shared_.metrics.timed_out(TimeoutStage::Write);
      return;
    }
    if (linger_) return linger();
    if (!keep_alive_) return close();
    spare_body_.swap(parser_->get().body());
    if (spare_body_.capacity() > kKeptBodyCapacity) std::string().swap(spare_body_);
    std::string().swap(res_.body());  // the answer's bytes are not kept between requests either
    wait_for_request(false);
  }

  // After an answer sent before the request was read to its end: read and drop what the peer
  // still sends for a moment, so closing does not reset the connection under the answer. The
  // moment is bounded in total (time and bytes), not per read: a client streaming a 100 MiB body
  // behind its 413 must not keep the connection and a thread decrypting it.
  void linger() {
    buffer_.clear();
    stream_.expires_after(kCloseTimeout);
    drain(0);
  }

  void drain(std::size_t drained) {
    stream_.async_read_some(
        buffer_.prepare(std::size_t{16} * 1024),
        [self = shared_from_this(), drained](beast::error_code ec, std::size_t n) {
          if (!ec && drained + n < kLingerBytes) self->drain(drained + n);
        });
  }

  // Sends close_notify; waits a moment for the peer's.
  void close() {
    stream_.expires_after(kCloseTimeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  void begin_request() {
    if (!in_request_) shared_.metrics.request_started();
    in_request_ = true;
  }
  void end_request() {
    if (in_request_) shared_.metrics.request_finished();
    in_request_ = false;
  }

  HttpsShared& shared_;
  json::ReviewReader& reader_;             // the worker's
  BodyBuffers& bodies_;                    // the worker's
  std::shared_ptr<ssl::context> context_;  // outlives stream_
  TlsStream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<RequestBody>> parser_;
  std::string spare_body_;
  // A Content-Length body (read_body), held from its first byte to the end of its handling.
  BodyBuffers::Lease body_;
  std::size_t body_size_ = 0;
  bool direct_body_ = false;  // this request's body is in body_, not the parser's string
  http::response<http::string_body> res_;
  PolicyCache policy_;
  std::chrono::steady_clock::time_point started_;
  bool waiting_ = false;  // handshake or waiting for a request's first byte
  bool first_ = true;
  bool stopping_ = false;
  bool keep_alive_ = true;
  bool linger_ = false;
  bool in_request_ = false;
};

}  // namespace

void start_https_session(Listener::Socket& socket, HttpsShared& shared, json::ReviewReader& reader,
                         BodyBuffers& bodies) {
  auto context = shared.tls.load();
  std::make_shared<HttpsSession>(std::move(socket.socket), shared, reader, bodies,
                                 std::move(context))
      ->start();
}

}  // namespace nodealloc::server
