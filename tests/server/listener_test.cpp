// Listener over several io_contexts: each accepts on the shared listening socket only while it
// runs, keeps what it accepts, and stop() closes every descriptor of the socket.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "server/listener.hpp"
#include "server/listener_impl.hpp"
#include "server/logging.hpp"
#include "server/net.hpp"

namespace {

namespace net = boost::asio;
using nodealloc::server::Endpoint;
using nodealloc::server::Listener;
using nodealloc::server::LogFormat;
using nodealloc::server::Logger;
using tcp = net::ip::tcp;

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// A blocking client connection to 127.0.0.1:port; the error, if any.
boost::system::error_code connect_to(unsigned short port, tcp::socket& socket) {
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  return ec;
}

struct Accepted {
  std::size_t index = 0;
  const net::execution_context* context = nullptr;
  std::thread::id thread;
};

}  // namespace

TEST_CASE("listener: an io_context that does not run accepts nothing, another takes it all") {
  Logger log(LogFormat::Text, "error");
  net::io_context idle{1};
  net::io_context running{1};
  std::vector<Accepted> accepted;
  std::vector<nodealloc::server::TcpSocket> keep;  // open until the test ends
  auto opened = Listener::open(idle, Endpoint{"127.0.0.1", 0},
                               [&](Listener::Socket& s) {
                                 accepted.push_back({s.index, &s.socket.get_executor().context(),
                                                     std::this_thread::get_id()});
                                 keep.push_back(std::move(s.socket));
                               },
                               log, {&idle, &running});
  REQUIRE(opened);
  const std::shared_ptr<Listener> listener = std::move(opened.value());
  listener->start();

  // Dealt in turn, every other connection would wait for `idle`, which never runs.
  net::io_context client;
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back(client);
    REQUIRE_FALSE(connect_to(listener->port(), clients.back()));
  }
  std::thread runner([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (accepted.size() < 4 && std::chrono::steady_clock::now() < until) {
      running.run_for(std::chrono::milliseconds(10));
    }
  });
  const std::thread::id runner_id = runner.get_id();
  runner.join();
  REQUIRE(accepted.size() == 4);
  for (const auto& a : accepted) {
    CHECK(a.index == 1);
    CHECK(a.context == &running);
    CHECK(a.thread == runner_id);
  }

  // Once `idle` runs too, both wait on the socket and either may take the next one.
  listener->stop();
  keep.clear();
  running.run_for(std::chrono::milliseconds(50));
  idle.run_for(std::chrono::milliseconds(50));
}

TEST_CASE("listener: stop() closes every io_context's descriptor of the socket") {
  Logger log(LogFormat::Text, "error");
  const std::size_t before = open_descriptors();
  unsigned short port = 0;
  {
    net::io_context a{1};
    net::io_context b{1};
    net::io_context c{1};
    int accepted = 0;
    auto opened = Listener::open(a, Endpoint{"127.0.0.1", 0},
                                 [&](Listener::Socket&) { ++accepted; }, log, {&a, &b, &c});
    REQUIRE(opened);
    std::shared_ptr<Listener> listener = std::move(opened.value());
    port = listener->port();
    listener->start();
    for (auto* ioc : {&a, &b, &c}) ioc->poll();

    net::io_context client;
    tcp::socket probe(client);
    REQUIRE_FALSE(connect_to(port, probe));
    for (int i = 0; i < 100 && accepted == 0; ++i) {
      for (auto* ioc : {&a, &b, &c}) ioc->run_for(std::chrono::milliseconds(5));
    }
    CHECK(accepted == 1);

    listener->stop();
    listener.reset();
    for (auto* ioc : {&a, &b, &c}) {
      ioc->restart();
      ioc->poll();
    }
    // No descriptor of the socket is left listening: a new connection is refused.
    tcp::socket refused(client);
    CHECK(connect_to(port, refused) == net::error::connection_refused);
  }
  CHECK(open_descriptors() == before);
}
