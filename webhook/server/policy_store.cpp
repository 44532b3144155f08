#include "server/policy_store.hpp"

namespace nodealloc::server {

void PolicyStore::set(Policy policy) {
  auto snapshot = std::make_shared<PolicySnapshot>();
  snapshot->policy = std::move(policy);
  for (const auto& pool : snapshot->policy.pools) {
    snapshot->pool_counters.push_back({pool.name, metrics_.pool_counter(pool.name)});
  }
  snapshot->generation = generation_.load(std::memory_order_relaxed) + 1;
  const auto generation = snapshot->generation;
  current_.store(std::move(snapshot));
  generation_.store(generation, std::memory_order_release);
}

}  // namespace nodealloc::server
