#include "server/server.hpp"

#include <fmt/format.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <exception>
#include <thread>
#include <vector>

#include "server/connections.hpp"
#include "server/https_session.hpp"
#include "server/listener.hpp"
#include "server/listener_impl.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/metrics_server.hpp"
#include "server/net.hpp"
#include "server/policy_store.hpp"
#include "server/reloader.hpp"
#include "server/routes.hpp"
#include "server/tls_context.hpp"
#include "server/worker.hpp"

namespace nodealloc::server {

// Declaration order is destruction order reversed: the workers' io_contexts (and with them every
// session) go before the state the sessions use; the signal set and the timer before worker 0's.
struct Server::Impl {
  explicit Impl(Config c)
      : config(std::move(c)),
        log(config.log_format, config.log_level),
        policy(metrics),
        router(log, metrics, policy, ready),
        shared{config, log, metrics, router, tls, tracker},
        reloader(config, log, metrics, policy, tls),
        workers(config.threads),
        signals(workers[0].ioc, SIGINT, SIGTERM),
        shutdown_timer(workers[0].ioc) {}

  int run();
  Result<std::shared_ptr<Listener>> listen(const Endpoint& endpoint, Listener::OnAccept on_accept);
  void on_signal(int signal);
  void wait_for_connections();
  void work(Worker& worker);

  Config config;
  Logger log;
  Metrics metrics;
  PolicyStore policy;
  TlsStore tls;
  std::atomic<bool> ready{false};
  Router router;
  ConnectionTracker tracker;
  HttpsShared shared;
  Reloader reloader;

  Workers workers;
  net::signal_set signals;
  net::steady_timer shutdown_timer;
  std::chrono::steady_clock::time_point deadline;
  bool stopping = false;
  std::shared_ptr<Listener> https_listener;
  std::shared_ptr<Listener> metrics_listener;
};

int Server::Impl::run() {
  std::signal(SIGPIPE, SIG_IGN);
  if (!reloader.load_initial()) return 1;

  auto https = Listener::open(
      workers[0].ioc, config.listen,
      [this](Listener::Socket& s) {
        start_https_session(s, shared, workers[s.index].reader, workers[s.index].bodies);
      },
      log, workers.contexts());
  if (!https) {
    log.error(https.error().message);
    return 1;
  }
  https_listener = https.value();
  std::string metrics_address = "off";
  if (config.metrics_listen) {
    auto m = Listener::open(
        workers[0].ioc, *config.metrics_listen,
        [this](Listener::Socket& s) { start_metrics_session(s, config, metrics); }, log);
    if (!m) {
      log.error(m.error().message);
      return 1;
    }
    metrics_listener = m.value();
    metrics_address = Endpoint{config.metrics_listen->host, metrics_listener->port()}.to_string();
  }

  signals.async_wait([this](beast::error_code ec, int signal) {
    if (!ec) on_signal(signal);
  });
  https_listener->start();
  if (metrics_listener) metrics_listener->start();
  reloader.start();
  ready.store(true);
  metrics.set_ready(true);
  log.info("serving",
           {{"listen", Endpoint{config.listen.host, https_listener->port()}.to_string()},
            {"metrics_listen", metrics_address},
            {"threads", std::to_string(config.threads), false},
            {"client_ca", config.client_ca_file.empty() ? "none" : config.client_ca_file},
            {"policy", policy.load()->policy.summary()}});

  std::vector<std::jthread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    threads.emplace_back([this, i] { work(workers[i]); });
  }
  work(workers[0]);
  for (auto& t : threads) t.join();
  reloader.stop();
  log.info("stopped");
  return 0;
}

void Server::Impl::work(Worker& worker) {
  for (;;) {
    try {
      worker.ioc.run();
      return;
    } catch (const std::exception& e) {
      log.error("unexpected exception in a handler", {{"error", e.what()}});
    }
  }
}

void Server::Impl::on_signal(int signal) {
  const char* name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
  if (stopping) {
    log.warn("second signal; stopping now", {{"signal", name}});
    workers.stop();
    return;
  }
  stopping = true;
  log.info("shutting down",
           {{"signal", name},
            {"open_connections", std::to_string(tracker.size()), false},
            {"grace_seconds", fmt::format("{:g}", config.shutdown_grace.count()), false}});
  ready.store(false);
  metrics.set_ready(false);
  https_listener->stop();
  if (metrics_listener) metrics_listener->stop();
  reloader.stop();
  tracker.shut_down_all();
  deadline = std::chrono::steady_clock::now() + steady(config.shutdown_grace);
  signals.async_wait([this](beast::error_code ec, int s) {
    if (!ec) on_signal(s);
  });
  wait_for_connections();
}

void Server::Impl::wait_for_connections() {
  const auto open = tracker.size();
  if (open == 0) {
    workers.stop();
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    log.warn("shutdown grace over; closing connections still open",
             {{"open_connections", std::to_string(open), false}});
    workers.stop();
    return;
  }
  shutdown_timer.expires_after(std::chrono::milliseconds(20));
  shutdown_timer.async_wait([this](beast::error_code ec) {
    if (!ec) wait_for_connections();
  });
}

Server::Server(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Server::~Server() = default;
int Server::run() {
  return impl_->run();
}

}  // namespace nodealloc::server
