// Request body buffers, pooled per worker. A connection holds one only from the first byte of a
// Content-Length body to the end of its handling, so idle keep-alive connections keep none: with
// 256 connections a buffer each was about 10 MiB of 40 KiB reviews (docs/benchmarks.md, item 37).
// Used on its worker's thread only, like the worker's ReviewReader: no lock.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace nodealloc::server {

class BodyBuffers {
 public:
  // Free buffers kept for reuse: as many as a worker usually has bodies in flight at once.
  static constexpr std::size_t kKeptBuffers = 8;
  // A buffer larger than this goes back to malloc: an odd huge request must not pin megabytes.
  static constexpr std::size_t kKeptCapacity = std::size_t{256} * 1024;

  // One buffer, given back to its pool when the lease ends (or is replaced).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        give_back();
        pool_ = std::exchange(other.pool_, nullptr);
        data_ = std::move(other.data_);
        capacity_ = std::exchange(other.capacity_, 0);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { give_back(); }

    char* data() const { return data_.get(); }
    std::size_t capacity() const { return capacity_; }

   private:
    friend class BodyBuffers;
    Lease(BodyBuffers* pool, std::unique_ptr<char[]> data, std::size_t capacity)
        : pool_(pool), data_(std::move(data)), capacity_(capacity) {}

    void give_back() {
      if (pool_ != nullptr && data_) pool_->put(std::move(data_), capacity_);
      pool_ = nullptr;
      data_.reset();
      capacity_ = 0;
    }

    BodyBuffers* pool_ = nullptr;
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
  };

  // put() never allocates: a lease's destructor gives its buffer back without a throw.
  BodyBuffers() { free_.reserve(kKeptBuffers); }
  BodyBuffers(const BodyBuffers&) = delete;
  BodyBuffers& operator=(const BodyBuffers&) = delete;

  // A buffer of at least `capacity` bytes, not zero-filled (the body overwrites it).
  Lease take(std::size_t capacity) {
    if (!free_.empty()) {
      Free last = std::move(free_.back());
      free_.pop_back();
      if (last.capacity >= capacity) return {this, std::move(last.data), last.capacity};
    }
    return {this, std::make_unique_for_overwrite<char[]>(capacity), capacity};
  }

  std::size_t free_count() const { return free_.size(); }

 private:
  struct Free {
    std::unique_ptr<char[]> data;
    std::size_t capacity = 0;
  };

  void put(std::unique_ptr<char[]> data, std::size_t capacity) {
    if (capacity > kKeptCapacity || free_.size() >= kKeptBuffers) return;  // freed here
    free_.push_back({std::move(data), capacity});
  }

  std::vector<Free> free_;
};

}  // namespace nodealloc::server
