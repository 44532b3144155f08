// The Prometheus registry: fixed label sets held in arrays of relaxed atomics (no locks on the
// request path), pool counters registered when a policy loads, rendered as text format 0.0.4.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/admission.hpp"

namespace nodealloc::server {

using Counter = std::atomic<std::uint64_t>;
using Gauge = std::atomic<std::int64_t>;

// Which handler on the TLS port answered.
enum class Handler : std::uint8_t { Mutate, Place, Healthz, Readyz, Other, kCount };
// How an admission or a placement ended.
enum class Outcome : std::uint8_t { Allowed, Patched, Denied, Error, kCount };
// Where a connection gave up waiting.
enum class TimeoutStage : std::uint8_t { Handshake, Header, Body, Write, Idle, kCount };

struct PoolCounterRef {
  std::string name;
  Counter* counter;
};

class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  void observe(std::chrono::nanoseconds d);
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<Counter, kBounds.size() + 1> buckets_{};  // per bucket (not cumulative); last: +Inf
  Counter sum_nanos_{0};
};

class Metrics {
 public:
  static constexpr std::array<std::string_view, 6> kKinds = {
      "Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow",
      "other",    "unknown"};
  static constexpr std::array<std::string_view, 6> kOperations = {"CREATE",  "UPDATE", "DELETE",
                                                                  "CONNECT", "other",  "unknown"};
  // HTTP statuses counted by code; any other is counted as "other".
  static constexpr std::array<int, 11> kCodes = {200, 400, 403, 404, 405, 408,
                                                 413, 415, 431, 500, 503};

  Metrics();

  // One admission (/mutate) or placement (/v1/place): summary is null for an error. pools: the
  // counters of the policy that decided (see pool_counter).
  void record(Handler handler, const Summary* summary, std::span<const PoolCounterRef> pools,
              std::chrono::nanoseconds duration);
  void http_response(Handler handler, int status);

  void policy_reload(bool ok) { (ok ? policy_reloads_ok_ : policy_reloads_failed_).fetch_add(1); }
  void certificate_reload(bool ok) { (ok ? cert_reloads_ok_ : cert_reloads_failed_).fetch_add(1); }
  void set_certificate_expiry(std::int64_t unix_seconds) { cert_expiry_.store(unix_seconds); }
  void set_ready(bool ready) { ready_.store(ready ? 1 : 0); }

  void connection_opened() {
    connections_total_.fetch_add(1, std::memory_order_relaxed);
    connections_open_.fetch_add(1, std::memory_order_relaxed);
  }
  void connection_closed() { connections_open_.fetch_sub(1, std::memory_order_relaxed); }
  void handshake_failed() { handshake_failures_.fetch_add(1, std::memory_order_relaxed); }
  void timed_out(TimeoutStage stage) {
    timeouts_[static_cast<std::size_t>(stage)].fetch_add(1, std::memory_order_relaxed);
  }
  void request_started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // A stable counter for templates placed on this pool; its address never changes. Called when
  // a policy loads, so the request path only increments.
  Counter* pool_counter(std::string_view pool);

  // The whole registry in Prometheus text format 0.0.4.
  std::string render() const;

 private:
  static constexpr std::size_t kOutcomes = static_cast<std::size_t>(Outcome::kCount);
  static constexpr std::size_t kHandlers = static_cast<std::size_t>(Handler::kCount);
  static constexpr std::size_t kReasons = 8;  // nodealloc::Reason's values

  using ByKindOpOutcome =
      std::array<std::array<std::array<Counter, kOutcomes>, kOperations.size()>, kKinds.size()>;
  ByKindOpOutcome admission_{};
  std::array<std::array<Counter, kOutcomes>, kKinds.size()> place_{};
  std::array<std::array<Counter, kCodes.size() + 1>, kHandlers> http_{};
  Histogram admission_duration_;
  Histogram place_duration_;
  std::array<Counter, kReasons> skipped_{};
  mutable std::mutex pools_mutex_;  // taken when a policy loads and when scraped
  std::deque<std::pair<std::string, Counter>> pools_;
  Counter policy_reloads_ok_{0}, policy_reloads_failed_{0};
  Counter cert_reloads_ok_{0}, cert_reloads_failed_{0};
  Gauge cert_expiry_{0};
  Gauge ready_{0};
  Counter connections_total_{0};
  Gauge connections_open_{0};
  Counter handshake_failures_{0};
  std::array<Counter, static_cast<std::size_t>(TimeoutStage::kCount)> timeouts_{};
  Gauge in_flight_{0};
  double start_time_;
};

}  // namespace nodealloc::server
