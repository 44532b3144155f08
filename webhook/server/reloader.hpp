// Loads the policy and the TLS files at startup, then re-reads them every --reload-interval on
// a thread of its own and swaps in what changed. Content is compared, not timestamps, so
// Kubernetes' `..data` symlink swap of a mounted Secret or ConfigMap is seen like any edit. A
// change that does not load (invalid policy, unreadable file, key not matching the certificate)
// is logged and counted once, and what is serving stays.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/policy_store.hpp"
#include "server/tls_context.hpp"

namespace nodealloc::server {

// The whole file, or an Error naming it and why it could not be read.
Result<std::string> read_file(const std::string& path);

class Reloader {
 public:
  Reloader(const Config& config, Logger& log, Metrics& metrics, PolicyStore& policy, TlsStore& tls);
  ~Reloader() { stop(); }
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Startup: false (after logging every error) when the policy or the TLS files cannot serve.
  bool load_initial();
  void start();
  void stop();

  // One pass over the files; public for tests and for start()'s loop.
  void check();

 private:
  bool check_policy(bool initial);
  bool check_tls(bool initial);
  std::optional<TlsFiles> read_tls(std::string& error) const;

  const Config& config_;
  Logger& log_;
  Metrics& metrics_;
  PolicyStore& policy_;
  TlsStore& tls_;

  std::optional<std::string> policy_seen_;  // last content looked at, good or bad
  std::string policy_seen_error_;           // last read error looked at
  std::optional<TlsFiles> tls_seen_;
  std::string tls_seen_error_;

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

}  // namespace nodealloc::server
