// The worker threads, nginx-style: each runs an io_context of its own, and a connection is given
// to one worker when accepted (in turn) and stays there, so all its handlers run on one thread:
// no strand, no lock shared with the other workers on the request path, and a worker's scratch
// (the ReviewReader's parse buffers) is reused from request to request without a lock.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <memory>
#include <vector>

#include "core/review_reader.hpp"
#include "server/body_buffers.hpp"

namespace nodealloc::server {

struct Worker {
  // A timer's service opens the io_context's epoll reactor (three descriptors) now, not at the
  // worker's first connection: the server's descriptors are all open once it serves, and a
  // count taken then is the one its connections must bring it back to (the soak checks it).
  Worker() { boost::asio::steady_timer open_reactor(ioc); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Declared before ioc: they outlive the sessions ioc's destructor destroys.
  json::ReviewReader reader;
  BodyBuffers bodies;
  boost::asio::io_context ioc{1};  // run by this worker's thread only
  // Keeps run() going while the worker has no connection; ioc.stop() ends it.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> busy =
      boost::asio::make_work_guard(ioc);
};

// Worker 0 also runs the listeners, the signal set, the shutdown timer and the metrics sessions.
class Workers {
 public:
  explicit Workers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  }
  // Worker 0 first: its pending accept holds a socket of another worker's io_context.
  ~Workers() {
    for (auto& w : workers_) w.reset();
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  std::size_t size() const { return workers_.size(); }
  Worker& operator[](std::size_t i) { return *workers_[i]; }

  // Where the TLS listener puts accepted connections, in turn.
  std::vector<boost::asio::io_context*> contexts() {
    std::vector<boost::asio::io_context*> out;
    for (auto& w : workers_) out.push_back(&w->ioc);
    return out;
  }

  // From any thread: every worker's run() returns (now, or as soon as it starts).
  void stop() {
    for (auto& w : workers_) w->ioc.stop();
  }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace nodealloc::server
