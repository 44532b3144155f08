// `serve` settings: every flag with its environment variable twin (spec §8), parsed and checked.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace nodealloc::server {

struct Endpoint {
  std::string host;  // "0.0.0.0", "::", "127.0.0.1"
  unsigned short port = 0;
  std::string to_string() const;
};

enum class LogFormat { Text, Json };

struct Config {
  using Seconds = std::chrono::duration<double>;

  std::string policy_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;  // empty: no client certificate asked for
  Endpoint listen{"0.0.0.0", 8443};
  std::optional<Endpoint> metrics_listen = Endpoint{"0.0.0.0", 9090};  // nullopt: off
  std::size_t max_body_bytes = std::size_t{3} * 1024 * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  Seconds shutdown_grace{15};
  Seconds handshake_timeout{10};
  Seconds header_timeout{10};
  Seconds body_timeout{30};
  Seconds write_timeout{30};
  Seconds idle_timeout{90};
  Seconds reload_interval{2};
  unsigned threads = 0;  // 0: one per CPU the process may use (server/cpus.hpp)
  LogFormat log_format = LogFormat::Text;
  std::string log_level = "info";
};

// What parsing the command line asked for.
struct ShowHelp {};
struct UsageError {
  std::string message;  // one line, without the program name
};
using ParsedArgs = std::variant<Config, ShowHelp, UsageError>;

// args: everything after "serve". env: looks up an environment variable (nullptr when unset);
// flags win over the environment.
ParsedArgs parse_args(std::span<char*> args, const char* (*getenv)(const char*));

// The text `serve --help` prints: every flag, its environment twin and default.
std::string help_text();

// "10", "10s", "1.5s", "250ms", "2m" -> seconds; nullopt when malformed or negative.
std::optional<Config::Seconds> parse_duration(std::string_view text);

}  // namespace nodealloc::server
