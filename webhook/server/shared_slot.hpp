// A shared_ptr that one thread replaces while others copy it: a mutex around the pointer copy.
// (libstdc++ 12's std::atomic<std::shared_ptr> works, but its lock bit is invisible to
// ThreadSanitizer; the copies here happen per connection or per policy change, never per request.)
#pragma once

#include <memory>
#include <mutex>

namespace nodealloc::server {

template <class T>
class SharedSlot {
 public:
  std::shared_ptr<T> load() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  void store(std::shared_ptr<T> value) {
    std::lock_guard lock(mutex_);
    value_.swap(value);
    // The old value (now in `value`) is released after the lock, outside the critical section.
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<T> value_;
};

}  // namespace nodealloc::server
