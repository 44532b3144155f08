#include "server/reloader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nodealloc::server {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": " + std::strerror(errno)};
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Error{path + ": read failed"};
  return std::move(content).str();
}

Reloader::Reloader(const Config& config, Logger& log, Metrics& metrics, PolicyStore& policy,
                   TlsStore& tls)
    : config_(config), log_(log), metrics_(metrics), policy_(policy), tls_(tls) {}

bool Reloader::load_initial() {
  const bool policy_ok = check_policy(true);
  const bool tls_ok = check_tls(true);
  return policy_ok && tls_ok;
}

void Reloader::start() {
  thread_ = std::jthread([this](const std::stop_token& stop) {
    const auto interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(config_.reload_interval);
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
      if (wake_.wait_for(lock, stop, interval, [] { return false; })) break;
      if (stop.stop_requested()) break;
      lock.unlock();
      check();
      lock.lock();
    }
  });
}

void Reloader::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void Reloader::check() {
  check_policy(false);
  check_tls(false);
}

bool Reloader::check_policy(bool initial) {
  auto text = read_file(config_.policy_file);
  if (!text) {
    if (!initial && text.error().message == policy_seen_error_) return false;
    policy_seen_error_ = text.error().message;
    policy_seen_.reset();
    if (initial) {
      log_.error("cannot read the policy", {{"error", text.error().message}});
    } else {
      metrics_.policy_reload(false);
      log_.error("cannot read the policy; keeping the one in force",
                 {{"error", text.error().message}});
    }
    return false;
  }
  policy_seen_error_.clear();
  if (!initial && policy_seen_ == text.value()) return true;
  policy_seen_ = text.value();

  auto parsed = parse_policy(text.value());
  if (!parsed) {
    for (const auto& e : parsed.error()) {
      log_.error(initial ? "invalid policy" : "invalid policy; keeping the one in force",
                 {{"file", config_.policy_file}, {"error", e.to_string()}});
    }
    if (!initial) metrics_.policy_reload(false);
    return false;
  }
  const std::string summary = parsed.value().summary();
  policy_.set(std::move(parsed.value()));
  if (!initial) metrics_.policy_reload(true);
  log_.info(initial ? "policy loaded" : "policy reloaded",
            {{"file", config_.policy_file}, {"policy", summary}});
  return true;
}

std::optional<TlsFiles> Reloader::read_tls(std::string& error) const {
  // Read the certificate again after the key: a symlink swap between the two reads shows up as
  // a changed certificate, and the pass is left for the next tick.
  TlsFiles files;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto cert = read_file(config_.tls_cert_file);
    auto key = read_file(config_.tls_key_file);
    std::optional<Result<std::string>> ca;
    if (!config_.client_ca_file.empty()) ca.emplace(read_file(config_.client_ca_file));
    auto cert_again = read_file(config_.tls_cert_file);
    for (const auto* r : {&cert, &key, &cert_again}) {
      if (!r->ok()) {
        error = r->error().message;
        return std::nullopt;
      }
    }
    if (ca && !ca->ok()) {
      error = ca->error().message;
      return std::nullopt;
    }
    if (cert.value() != cert_again.value()) continue;
    files.cert_pem = std::move(cert.value());
    files.key_pem = std::move(key.value());
    if (ca) files.client_ca_pem = std::move(ca->value());
    return files;
  }
  error = config_.tls_cert_file + ": keeps changing while read";
  return std::nullopt;
}

bool Reloader::check_tls(bool initial) {
  std::string error;
  auto files = read_tls(error);
  if (!files) {
    if (!initial && error == tls_seen_error_) return false;
    tls_seen_error_ = error;
    tls_seen_.reset();
    if (initial) {
      log_.error("cannot read the TLS files", {{"error", error}});
    } else {
      metrics_.certificate_reload(false);
      log_.error("cannot read the TLS files; keeping the certificate in force", {{"error", error}});
    }
    return false;
  }
  tls_seen_error_.clear();
  if (!initial && tls_seen_ == files) return true;
  tls_seen_ = *files;

  auto context = make_tls_context(*files);
  if (!context) {
    if (initial) {
      log_.error("cannot use the TLS files", {{"cert", config_.tls_cert_file},
                                              {"key", config_.tls_key_file},
                                              {"error", context.error().message}});
    } else {
      metrics_.certificate_reload(false);
      log_.error("new TLS files refused; keeping the certificate in force",
                 {{"cert", config_.tls_cert_file},
                  {"key", config_.tls_key_file},
                  {"error", context.error().message}});
    }
    return false;
  }
  tls_.set(std::move(context.value().context));
  metrics_.set_certificate_expiry(context.value().not_after);
  if (!initial) metrics_.certificate_reload(true);
  log_.info(initial ? "certificate loaded" : "certificate reloaded",
            {{"subject", context.value().subject},
             {"not_after", std::to_string(context.value().not_after), false}});
  return true;
}

}  // namespace nodealloc::server
