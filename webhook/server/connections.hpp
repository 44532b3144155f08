// The open TLS connections, so that shutdown can close the idle ones and wait for the rest.
// Touched once when a connection opens and once when it closes, never per request.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace nodealloc::server {

class Connection {
 public:
  virtual ~Connection() = default;
  // From any thread: finish the request in progress (if any), then close; close now when idle.
  virtual void shut_down() = 0;
};

class ConnectionTracker {
 public:
  void add(Connection* c, std::weak_ptr<Connection> weak) {
    std::lock_guard lock(mutex_);
    open_.emplace(c, std::move(weak));
  }
  void remove(Connection* c) {
    std::lock_guard lock(mutex_);
    open_.erase(c);
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Marks the server as stopping and asks every open connection to shut down.
  void shut_down_all() {
    stopping_.store(true, std::memory_order_release);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(mutex_);
      for (auto& [c, weak] : open_) {
        if (auto p = weak.lock()) live.push_back(std::move(p));
      }
    }
    for (auto& c : live) c->shut_down();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;
  std::atomic<bool> stopping_{false};
};

}  // namespace nodealloc::server
