// The policy in force: an immutable snapshot, swapped whole on reload. Readers cache their
// snapshot and re-load it only when the generation moves: per request that is one atomic load,
// no lock and no shared write.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "server/metrics.hpp"
#include "server/shared_slot.hpp"

namespace nodealloc::server {

struct PolicySnapshot {
  Policy policy;
  std::vector<PoolCounterRef> pool_counters;  // one per pool, in policy order
  std::uint64_t generation = 0;
};

class PolicyStore {
 public:
  explicit PolicyStore(Metrics& metrics) : metrics_(metrics) {}

  // Publishes a new policy; readers see it on their next request.
  void set(Policy policy);
  std::shared_ptr<const PolicySnapshot> load() const { return current_.load(); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  bool loaded() const { return generation() != 0; }

 private:
  Metrics& metrics_;
  std::atomic<std::uint64_t> generation_{0};
  SharedSlot<const PolicySnapshot> current_;
};

// One connection's view of the store.
class PolicyCache {
 public:
  const PolicySnapshot& get(const PolicyStore& store) {
    if (!snapshot_ || snapshot_->generation != store.generation()) snapshot_ = store.load();
    return *snapshot_;
  }

 private:
  std::shared_ptr<const PolicySnapshot> snapshot_;
};

}  // namespace nodealloc::server
