#include "server/config.hpp"

#include <array>
#include <charconv>
#include <functional>
#include <string_view>

namespace nodealloc::server {

namespace {

using SetResult = std::optional<std::string>;  // an error message, or nothing when set
using Setter = SetResult (*)(Config&, std::string_view);

struct Flag {
  std::string_view name;      // without "--"
  std::string_view value;     // placeholder shown in --help
  std::string_view fallback;  // the default as shown in --help
  std::string_view help;
  Setter set;
  bool required = false;
};

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint e;
  std::string_view port;
  if (text.starts_with('[')) {  // [::1]:8443
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    e.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    e.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (e.host.empty()) e.host = "0.0.0.0";  // ":8443"
  }
  auto p = parse_unsigned(port);
  if (!p || *p > 65535 || e.host.empty()) return std::nullopt;
  e.port = static_cast<unsigned short>(*p);
  return e;
}

SetResult set_string(std::string& field, std::string_view v) {
  if (v.empty()) return "must not be empty";
  field = std::string(v);
  return std::nullopt;
}

SetResult set_duration(Config::Seconds& field, std::string_view v, bool allow_zero = false) {
  auto d = parse_duration(v);
  if (!d) return "want a duration such as 10s, 500ms or 2m";
  if (!allow_zero && d->count() <= 0) return "must be more than zero";
  field = *d;
  return std::nullopt;
}

SetResult set_size(std::size_t& field, std::string_view v) {
  auto n = parse_unsigned(v);
  if (!n || *n == 0) return "want a positive whole number of bytes";
  field = static_cast<std::size_t>(*n);
  return std::nullopt;
}

constexpr std::array kFlags = {
    Flag{"policy", "FILE", "", "placement policy YAML; watched and reloaded when it changes",
         [](Config& c, std::string_view v) { return set_string(c.policy_file, v); }, true},
    Flag{"tls-cert", "FILE", "", "serving certificate chain (PEM); watched and reloaded",
         [](Config& c, std::string_view v) { return set_string(c.tls_cert_file, v); }, true},
    Flag{"tls-key", "FILE", "", "private key of --tls-cert (PEM); watched and reloaded",
         [](Config& c, std::string_view v) { return set_string(c.tls_key_file, v); }, true},
    Flag{"listen", "HOST:PORT", "0.0.0.0:8443",
         "HTTPS address (/mutate, /v1/place, /healthz, /readyz)",
         [](Config& c, std::string_view v) -> SetResult {
           auto e = parse_endpoint(v);
           if (!e) return "want HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443";
           c.listen = *e;
           return std::nullopt;
         }},
    Flag{"metrics-listen", "HOST:PORT", "0.0.0.0:9090",
         "plain-HTTP address for /metrics and /healthz; \"off\" or \"0\" disables",
         [](Config& c, std::string_view v) -> SetResult {
           if (v == "off" || v == "0") {
             c.metrics_listen.reset();
             return std::nullopt;
           }
           auto e = parse_endpoint(v);
           if (!e) return "want HOST:PORT, \"off\" or \"0\"";
           c.metrics_listen = *e;
           return std::nullopt;
         }},
    Flag{"client-ca", "FILE", "none",
         "CA bundle (PEM): require a client certificate signed by it; watched and reloaded",
         [](Config& c, std::string_view v) { return set_string(c.client_ca_file, v); }},
    Flag{"max-body-bytes", "N", "3145728", "largest request body accepted; more is answered 413",
         [](Config& c, std::string_view v) { return set_size(c.max_body_bytes, v); }},
    Flag{"max-header-bytes", "N", "16384", "largest request header accepted; more is answered 431",
         [](Config& c, std::string_view v) { return set_size(c.max_header_bytes, v); }},
    Flag{"shutdown-grace", "SECONDS", "15",
         "on SIGTERM/SIGINT, how long in-flight requests may take to finish",
         [](Config& c, std::string_view v) { return set_duration(c.shutdown_grace, v, true); }},
    Flag{"handshake-timeout", "DURATION", "10s", "time allowed for the TLS handshake",
         [](Config& c, std::string_view v) { return set_duration(c.handshake_timeout, v); }},
    Flag{"header-timeout", "DURATION", "10s",
         "time allowed to receive a request's header, from its first byte",
         [](Config& c, std::string_view v) { return set_duration(c.header_timeout, v); }},
    Flag{"body-timeout", "DURATION", "30s", "time allowed to receive a request's body",
         [](Config& c, std::string_view v) { return set_duration(c.body_timeout, v); }},
    Flag{"write-timeout", "DURATION", "30s", "time allowed to send a response",
         [](Config& c, std::string_view v) { return set_duration(c.write_timeout, v); }},
    Flag{"idle-timeout", "DURATION", "90s", "an idle keep-alive connection is closed after this",
         [](Config& c, std::string_view v) { return set_duration(c.idle_timeout, v); }},
    Flag{"reload-interval", "DURATION", "2s",
         "how often the policy, certificate, key and client CA files are checked for changes",
         [](Config& c, std::string_view v) { return set_duration(c.reload_interval, v); }},
    Flag{"threads", "N", "0",
         "worker threads; 0 means one per CPU it may use (affinity, cgroup CPU limit)",
         [](Config& c, std::string_view v) -> SetResult {
           auto n = parse_unsigned(v);
           if (!n || *n > 1024) return "want a whole number from 0 to 1024";
           c.threads = static_cast<unsigned>(*n);
           return std::nullopt;
         }},
    Flag{"log-format", "text|json", "text", "log line format (on stderr)",
         [](Config& c, std::string_view v) -> SetResult {
           if (v == "text") {
             c.log_format = LogFormat::Text;
           } else if (v == "json") {
             c.log_format = LogFormat::Json;
           } else {
             return "want text or json";
           }
           return std::nullopt;
         }},
    Flag{"log-level", "LEVEL", "info", "trace, debug, info, warn or error",
         [](Config& c, std::string_view v) -> SetResult {
           constexpr std::array<std::string_view, 5> levels = {"trace", "debug", "info", "warn",
                                                               "error"};
           for (auto l : levels) {
             if (v == l) {
               c.log_level = std::string(v);
               return std::nullopt;
             }
           }
           return "want trace, debug, info, warn or error";
         }},
};

std::string env_name(std::string_view flag) {
  std::string name = "NODE_ALLOCATOR_";
  for (char ch : flag) {
    name += ch == '-' ? '_' : static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  }
  return name;
}

const Flag* find_flag(std::string_view name) {
  for (const auto& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Config::Seconds> parse_duration(std::string_view text) {
  double scale = 1;
  if (text.ends_with("ms")) {
    scale = 0.001;
    text.remove_suffix(2);
  } else if (text.ends_with('s')) {
    text.remove_suffix(1);
  } else if (text.ends_with('m')) {
    scale = 60;
    text.remove_suffix(1);
  } else if (text.ends_with('h')) {
    scale = 3600;
    text.remove_suffix(1);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v >= 0) ||
      v > 1e9) {
    return std::nullopt;
  }
  return Config::Seconds(v * scale);
}

ParsedArgs parse_args(std::span<char*> args, const char* (*getenv)(const char*)) {
  Config config;
  std::array<bool, kFlags.size()> given{};
  auto apply = [&](const Flag& flag, std::string_view value,
                   std::string_view source) -> std::optional<UsageError> {
    if (auto err = flag.set(config, value)) {
      return UsageError{std::string(source) + "=" + std::string(value) + ": " + *err};
    }
    given[static_cast<std::size_t>(&flag - kFlags.data())] = true;
    return std::nullopt;
  };

  // Flags first (they win), then the environment fills in what the flags left.
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "help") return ShowHelp{};
    if (!arg.starts_with("--"))
      return UsageError{"unexpected argument \"" + std::string(arg) + "\""};
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* flag = find_flag(name);
    if (!flag) return UsageError{"unknown flag --" + std::string(name)};
    if (!value) {
      if (i + 1 >= args.size()) return UsageError{"flag --" + std::string(name) + " needs a value"};
      value = args[++i];
    }
    if (auto err = apply(*flag, *value, "--" + std::string(name))) return *err;
  }
  for (std::size_t i = 0; i < kFlags.size(); ++i) {
    if (given[i]) continue;
    const std::string env = env_name(kFlags[i].name);
    if (const char* v = getenv(env.c_str()); v != nullptr && *v != '\0') {
      if (auto err = apply(kFlags[i], v, env)) return *err;
    }
  }
  for (std::size_t i = 0; i < kFlags.size(); ++i) {
    if (kFlags[i].required && !given[i]) {
      return UsageError{"--" + std::string(kFlags[i].name) + " (or " + env_name(kFlags[i].name) +
                        ") is required"};
    }
  }
  return config;
}

std::string help_text() {
  std::string out =
      "Usage: argo-node-allocator serve --policy FILE --tls-cert FILE --tls-key FILE [flags]\n"
      "\n"
      "Serves the mutating admission webhook over HTTPS: POST /mutate, POST /v1/place,\n"
      "GET /healthz, GET /readyz; and GET /metrics, GET /healthz over plain HTTP.\n"
      "Every flag may also be set by its environment variable; a flag wins over it.\n"
      "Durations: 10s, 500ms, 2m or plain seconds.\n"
      "\n"
      "Flags:\n";
  for (const auto& f : kFlags) {
    std::string head = "  --" + std::string(f.name) + " " + std::string(f.value);
    out += head;
    out += std::string(head.size() < 34 ? 34 - head.size() : 1, ' ');
    out += f.help;
    out += "\n";
    out += std::string(34, ' ') + "env " + env_name(f.name);
    if (f.required) {
      out += "; required";
    } else {
      out += "; default " + std::string(f.fallback);
    }
    out += "\n";
  }
  out +=
      "\n"
      "Signals: SIGTERM or SIGINT stop accepting, turn /readyz to 503, let in-flight requests\n"
      "finish within --shutdown-grace, then exit 0.\n"
      "Exit codes: 0 after a clean shutdown, 1 when the policy, certificate or address cannot\n"
      "be used at startup, 2 for bad flags.\n";
  return out;
}

}  // namespace nodealloc::server
