// What the TLS port answers, free of any networking: a request's method, target, content type and
// body in, a status, content type and body out. Calls the core for /mutate and /v1/place, and
// records metrics and the one log line per admission.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "core/review_reader.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/policy_store.hpp"

namespace nodealloc::server {

struct Request {
  std::string_view method;  // "POST"
  std::string_view target;  // "/mutate?timeout=10s"
  std::string_view content_type;
  std::string_view body;
  // At least json::ReviewReader::kPadding readable bytes follow the body (spare capacity of its
  // buffer): simdjson then parses it where it is instead of copying it first.
  bool body_padded = false;
};

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string_view allow;  // for 405
  Handler handler = Handler::Other;
};

inline constexpr std::string_view kJson = "application/json";

// The handler a target names (query string ignored); Other when none.
Handler route_of(std::string_view target);

// A plain-text answer: body is message plus a newline.
Response text_response(int status, std::string_view message, Handler handler);

class Router {
 public:
  Router(Logger& log, Metrics& metrics, const PolicyStore& policy, const std::atomic<bool>& ready)
      : log_(log), metrics_(metrics), policy_(policy), ready_(ready) {}

  // The answer when the header alone already decides it (404, 405, 415), else status 0.
  Response check_header(std::string_view method, std::string_view target,
                        std::string_view content_type) const;

  // started: when the request's header was complete (for the duration metric and log). reader:
  // the calling thread's, for /mutate (review() reusing its parse buffers).
  Response handle(const Request& request, PolicyCache& cache, json::ReviewReader& reader,
                  std::chrono::steady_clock::time_point started) const;

 private:
  Response admit(const Request& request, Handler handler, PolicyCache& cache,
                 json::ReviewReader& reader, std::chrono::steady_clock::time_point started) const;

  Logger& log_;
  Metrics& metrics_;
  const PolicyStore& policy_;
  const std::atomic<bool>& ready_;
};

}  // namespace nodealloc::server
