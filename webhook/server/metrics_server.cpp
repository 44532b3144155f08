#include "server/metrics_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "server/listener_impl.hpp"

namespace nodealloc::server {

namespace {

namespace http = beast::http;

constexpr std::size_t kMaxBody = std::size_t{64} * 1024;

class MetricsSession final : public std::enable_shared_from_this<MetricsSession> {
 public:
  MetricsSession(TcpSocket&& socket, const Config& config, const Metrics& metrics)
      : stream_(std::move(socket)), config_(config), metrics_(metrics) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    parser_->header_limit(static_cast<std::uint32_t>(config_.max_header_bytes));
    stream_.expires_after(steady(first_ ? config_.header_timeout : config_.idle_timeout));
    first_ = false;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&MetricsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return;
    const auto& req = parser_->get();
    const auto target = req.target();
    const auto path = target.substr(0, target.find('?'));
    res_.clear();
    res_.version(11);
    res_.keep_alive(req.keep_alive());
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    if (path != "/metrics" && path != "/healthz") {
      res_.result(http::status::not_found);
      res_.body() = "not found\n";
    } else if (req.method() != http::verb::get) {
      res_.result(http::status::method_not_allowed);
      res_.set(http::field::allow, "GET");
      res_.body() = "method not allowed; use GET\n";
    } else if (path == "/healthz") {
      res_.result(http::status::ok);
      res_.body() = "ok\n";
    } else {
      res_.result(http::status::ok);
      res_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res_.body() = metrics_.render();
    }
    res_.prepare_payload();
    stream_.expires_after(steady(config_.write_timeout));
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&MetricsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!res_.keep_alive()) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    read();
  }

  TcpStream stream_;
  const Config& config_;
  const Metrics& metrics_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool first_ = true;
};

}  // namespace

void start_metrics_session(Listener::Socket& socket, const Config& config, const Metrics& metrics) {
  std::make_shared<MetricsSession>(std::move(socket.socket), config, metrics)->start();
}

}  // namespace nodealloc::server
