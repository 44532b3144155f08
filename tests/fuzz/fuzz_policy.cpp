// parse_policy on arbitrary bytes. Properties: no crash, no exception, no sanitizer report; a
// loaded policy is what §4 promises (pools, names, selectors, non-negative capacities,
// dedicatedTo within capacity, tolerations an array) and summary() works; a refused one has
// at least one error, each with a line and a message.
#include <set>
#include <string>

#include "core/placement.hpp"
#include "core/policy.hpp"
#include "fuzz_support.hpp"

using namespace nodealloc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto loaded = parse_policy(text);
  if (!loaded) {
    FUZZ_CHECK(!loaded.error().empty(), "refused without an error", text);
    for (const auto& e : loaded.error()) {
      FUZZ_CHECK(e.line >= 0, "negative line in " + e.to_string(), text);
      FUZZ_CHECK(!e.message.empty(), "error without a message: " + e.to_string(), text);
      FUZZ_CHECK(!e.to_string().empty(), "empty error text", text);
    }
    return 0;
  }
  const Policy& policy = loaded.value();
  FUZZ_CHECK(!policy.summary().empty(), "empty summary", text);
  FUZZ_CHECK(!policy.pools.empty(), "a policy without pools", text);
  std::set<std::string> names;
  for (const auto& pool : policy.pools) {
    FUZZ_CHECK(names.insert(pool.name).second, "duplicate pool " + pool.name, text);
    FUZZ_CHECK(!pool.name.empty(), "a pool without a name", text);
    FUZZ_CHECK(!pool.node_selector.empty(), "pool " + pool.name + " has no nodeSelector", text);
    for (const auto& [resource, q] : pool.capacity) {
      FUZZ_CHECK(!q.is_negative(), "pool " + pool.name + " capacity " + resource + " < 0", text);
    }
    for (const auto& r : pool.dedicated_to) {
      FUZZ_CHECK(pool.capacity.count(r) == 1, "dedicatedTo " + r + " not in capacity", text);
    }
    FUZZ_CHECK(pool.tolerations.IsArray(), "tolerations are not an array", text);
  }
  for (const auto& [resource, q] : policy.executor_overhead) {
    FUZZ_CHECK(!q.is_negative(), "executorOverhead " + resource + " < 0", text);
  }
  // The policy is usable: a request of nothing, and the overhead alone, go through the strategy.
  (void)choose_pool(policy, RequestList{});
  RequestList overhead;
  for (const auto& [resource, q] : policy.executor_overhead) overhead.emplace(resource, q);
  (void)choose_pool(policy, overhead);
  // Loading is deterministic.
  auto again = parse_policy(text);
  FUZZ_CHECK(again.ok() && again->summary() == policy.summary(), "a second load differs", text);
  return 0;
}
