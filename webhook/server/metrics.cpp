#include "server/metrics.hpp"

#include "core/small_vector.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>

namespace nodealloc::server {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

template <std::size_t N>
std::size_t index_of(const std::array<std::string_view, N>& names, std::string_view value) {
  if (value.empty()) return N - 1;  // "unknown"
  for (std::size_t i = 0; i + 2 < N; ++i) {
    if (names[i] == value) return i;
  }
  return N - 2;  // "other"
}

std::size_t code_index(int status) {
  for (std::size_t i = 0; i < Metrics::kCodes.size(); ++i) {
    if (Metrics::kCodes[i] == status) return i;
  }
  return Metrics::kCodes.size();
}

constexpr std::array<std::string_view, 5> kHandlerNames = {"mutate", "place", "healthz", "readyz",
                                                           "other"};
constexpr std::array<std::string_view, 4> kOutcomeNames = {"allowed", "patched", "denied", "error"};
constexpr std::array<std::string_view, 5> kStageNames = {"handshake", "header", "body", "write",
                                                         "idle"};

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A label value escaped as the text format wants (\\, \", \n).
std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

template <class T>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            T value) {
  header(out, name, type, help);
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

void ok_failed(std::string& out, std::string_view name, std::string_view help, const Counter& ok,
               const Counter& failed) {
  header(out, name, "counter", help);
  fmt::format_to(std::back_inserter(out), "{}{{result=\"ok\"}} {}\n{}{{result=\"failed\"}} {}\n",
                 name, ok.load(kRelaxed), name, failed.load(kRelaxed));
}

double seconds(std::uint64_t nanos) {
  return static_cast<double>(nanos) / 1e9;
}

}  // namespace

void Histogram::observe(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, kRelaxed);
  sum_nanos_.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0), kRelaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  const std::string_view sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(kRelaxed);
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                   kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(kRelaxed);
  fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep,
                 cumulative);
  const std::string braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  fmt::format_to(std::back_inserter(out), "{}_sum{} {}\n", name, braces,
                 seconds(sum_nanos_.load(kRelaxed)));
  fmt::format_to(std::back_inserter(out), "{}_count{} {}\n", name, braces, cumulative);
}

Metrics::Metrics()
    : start_time_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {}

void Metrics::record(Handler handler, const Summary* summary, std::span<const PoolCounterRef> pools,
                     std::chrono::nanoseconds duration) {
  Outcome outcome = Outcome::Error;
  std::size_t kind = kKinds.size() - 1;
  std::size_t op = kOperations.size() - 1;
  if (summary != nullptr) {
    outcome = !summary->allowed  ? Outcome::Denied
              : summary->patched ? Outcome::Patched
                                 : Outcome::Allowed;
    kind = index_of(kKinds, summary->kind);
    op = index_of(kOperations, summary->operation);
    // Counted here first, then added once per counter: the counters are shared by the worker
    // threads, and an atomic add per template made their cache lines bounce between cores.
    boost::container::small_vector<std::uint64_t, 8> placed(pools.size(), 0);
    std::array<std::uint64_t, kReasons> skipped{};
    for (const auto& t : summary->templates) {
      if (t.reason == Reason::Placed) {
        for (std::size_t i = 0; i < pools.size(); ++i) {
          if (pools[i].name == t.pool) {
            ++placed[i];
            break;
          }
        }
      } else {
        const auto r = static_cast<std::size_t>(t.reason);
        if (r < skipped.size()) ++skipped[r];
      }
    }
    for (std::size_t i = 0; i < pools.size(); ++i) {
      if (placed[i] > 0) pools[i].counter->fetch_add(placed[i], kRelaxed);
    }
    for (std::size_t r = 0; r < skipped.size(); ++r) {
      if (skipped[r] > 0) skipped_[r].fetch_add(skipped[r], kRelaxed);
    }
  }
  const auto o = static_cast<std::size_t>(outcome);
  if (handler == Handler::Place) {
    place_[kind][o].fetch_add(1, kRelaxed);
    place_duration_.observe(duration);
  } else {
    admission_[kind][op][o].fetch_add(1, kRelaxed);
    admission_duration_.observe(duration);
  }
}

void Metrics::http_response(Handler handler, int status) {
  http_[static_cast<std::size_t>(handler)][code_index(status)].fetch_add(1, kRelaxed);
}

Counter* Metrics::pool_counter(std::string_view pool) {
  std::lock_guard lock(pools_mutex_);
  for (auto& [name, counter] : pools_) {
    if (name == pool) return &counter;
  }
  auto& entry = pools_.emplace_back(std::piecewise_construct, std::forward_as_tuple(pool),
                                    std::forward_as_tuple(0));
  return &entry.second;
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(8192);
  auto it = std::back_inserter(out);

  header(out, "node_allocator_admission_requests_total", "counter",
         "Admission reviews answered on /mutate, by object kind, operation and outcome.");
  for (std::size_t k = 0; k < kKinds.size(); ++k) {
    for (std::size_t op = 0; op < kOperations.size(); ++op) {
      for (std::size_t o = 0; o < kOutcomes; ++o) {
        const auto v = admission_[k][op][o].load(kRelaxed);
        if (v == 0) continue;
        fmt::format_to(it,
                       "node_allocator_admission_requests_total{{kind=\"{}\",operation=\"{}\","
                       "outcome=\"{}\"}} {}\n",
                       kKinds[k], kOperations[op], kOutcomeNames[o], v);
      }
    }
  }
  header(out, "node_allocator_admission_duration_seconds", "histogram",
         "Time from a /mutate request's complete header to its answer, in seconds.");
  admission_duration_.render(out, "node_allocator_admission_duration_seconds", "");

  header(out, "node_allocator_place_requests_total", "counter",
         "Placement previews answered on /v1/place, by object kind and outcome.");
  for (std::size_t k = 0; k < kKinds.size(); ++k) {
    for (std::size_t o = 0; o < kOutcomes; ++o) {
      const auto v = place_[k][o].load(kRelaxed);
      if (v == 0) continue;
      fmt::format_to(it, "node_allocator_place_requests_total{{kind=\"{}\",outcome=\"{}\"}} {}\n",
                     kKinds[k], kOutcomeNames[o], v);
    }
  }
  header(out, "node_allocator_place_duration_seconds", "histogram",
         "Time from a /v1/place request's complete header to its answer, in seconds.");
  place_duration_.render(out, "node_allocator_place_duration_seconds", "");

  header(out, "node_allocator_http_requests_total", "counter",
         "HTTP responses on the TLS port, by handler and status code.");
  for (std::size_t h = 0; h < kHandlers; ++h) {
    for (std::size_t c = 0; c <= kCodes.size(); ++c) {
      const auto v = http_[h][c].load(kRelaxed);
      if (v == 0) continue;
      const std::string code = c < kCodes.size() ? std::to_string(kCodes[c]) : "other";
      fmt::format_to(it, "node_allocator_http_requests_total{{handler=\"{}\",code=\"{}\"}} {}\n",
                     kHandlerNames[h], code, v);
    }
  }

  header(out, "node_allocator_templates_placed_total", "counter",
         "Templates given a pool's placement, by pool.");
  {
    std::lock_guard lock(pools_mutex_);
    for (const auto& [name, counter] : pools_) {
      fmt::format_to(it, "node_allocator_templates_placed_total{{pool=\"{}\"}} {}\n",
                     label_value(name), counter.load(kRelaxed));
    }
  }
  header(out, "node_allocator_templates_skipped_total", "counter",
         "Templates left unplaced, by reason.");
  for (std::size_t r = 1; r < skipped_.size(); ++r) {
    fmt::format_to(it, "node_allocator_templates_skipped_total{{reason=\"{}\"}} {}\n",
                   to_string(static_cast<Reason>(r)), skipped_[r].load(kRelaxed));
  }

  ok_failed(
      out, "node_allocator_policy_reloads_total",
      "Policy file changes seen after startup, by result (a failed one keeps the old policy).",
      policy_reloads_ok_, policy_reloads_failed_);
  ok_failed(out, "node_allocator_certificate_reloads_total",
            "Serving certificate/key (or client CA) changes seen after startup, by result.",
            cert_reloads_ok_, cert_reloads_failed_);
  single(out, "node_allocator_certificate_expiry_timestamp_seconds", "gauge",
         "The serving certificate's notAfter, in Unix seconds.", cert_expiry_.load(kRelaxed));
  single(out, "node_allocator_ready", "gauge", "1 while /readyz answers 200, else 0.",
         ready_.load(kRelaxed));
  single(out, "node_allocator_connections_open", "gauge", "Open connections on the TLS port.",
         connections_open_.load(kRelaxed));
  single(out, "node_allocator_connections_total", "counter",
         "Connections accepted on the TLS port.", connections_total_.load(kRelaxed));
  single(out, "node_allocator_tls_handshake_errors_total", "counter",
         "TLS handshakes that failed (timeouts included).", handshake_failures_.load(kRelaxed));
  header(out, "node_allocator_connection_timeouts_total", "counter",
         "Connections closed because a step took too long, by step.");
  for (std::size_t s = 0; s < timeouts_.size(); ++s) {
    fmt::format_to(it, "node_allocator_connection_timeouts_total{{stage=\"{}\"}} {}\n",
                   kStageNames[s], timeouts_[s].load(kRelaxed));
  }
  single(out, "node_allocator_requests_in_flight", "gauge",
         "Requests on the TLS port being read, handled or answered.", in_flight_.load(kRelaxed));
  header(out, "node_allocator_build_info", "gauge", "Always 1; the version is a label.");
  fmt::format_to(it, "node_allocator_build_info{{version=\"{}\"}} 1\n", NODEALLOC_VERSION);
  header(out, "process_start_time_seconds", "gauge", "Start time of the process, in Unix seconds.");
  fmt::format_to(it, "process_start_time_seconds {:.3f}\n", start_time_);
  return out;
}

}  // namespace nodealloc::server
