// The TLS port's request path without sockets: server::Router::handle (what the HTTPS session
// calls once Beast has parsed a request) on a method, target and content type picked by the
// first three bytes and the rest as the body. Properties: no crash, no exception, no sanitizer
// report; the status is one the server documents and never 500 (the core never throws); a
// text answer is one line; a 200 from /mutate or /v1/place is JSON; /metrics renders after.
#include <array>
#include <atomic>
#include <chrono>
#include <string>

#include "core/json.hpp"
#include "core/policy.hpp"
#include "example_policy.hpp"
#include "fuzz_support.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/policy_store.hpp"
#include "server/routes.hpp"

using namespace nodealloc;
using namespace nodealloc::server;

namespace {

constexpr std::array<std::string_view, 5> kMethods = {"POST", "GET", "PUT", "HEAD", "post"};
constexpr std::array<std::string_view, 8> kTargets = {
    "/mutate", "/mutate?timeout=10s", "/v1/place", "/healthz", "/readyz", "/", "/mutate/", "//"};
constexpr std::array<std::string_view, 5> kContentTypes = {
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", ""};

struct World {
  Logger log{LogFormat::Json, "error"};
  Metrics metrics;
  PolicyStore store{metrics};
  std::atomic<bool> ready{true};
  Router router{log, metrics, store, ready};
  json::ReviewReader reader;  // reused from input to input, as a worker thread's is
  World() {
    auto policy = parse_policy(fuzz::kExamplePolicy);
    if (!policy) std::abort();
    store.set(std::move(policy.value()));
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  World& w = world();
  Request request;
  request.method = kMethods[data[0] % kMethods.size()];
  request.target = kTargets[data[1] % kTargets.size()];
  request.content_type = kContentTypes[data[2] % kContentTypes.size()];
  request.body = fuzz::as_text(data + 3, size - 3);
  const std::string context = std::string(request.method) + " " + std::string(request.target) +
                              " [" + std::string(request.content_type) + "] " +
                              std::string(request.body);

  PolicyCache cache;
  const Response r = w.router.handle(request, cache, w.reader, std::chrono::steady_clock::now());
  w.metrics.http_response(r.handler, r.status);
  static constexpr std::array<int, 8> kStatuses = {200, 400, 404, 405, 413, 415, 503};
  bool known = false;
  for (int s : kStatuses) known = known || s == r.status;
  FUZZ_CHECK(known, "unexpected status " + std::to_string(r.status) + ": " + r.body, context);
  FUZZ_CHECK(!r.content_type.empty(), "no content type", context);
  if (r.status == 405) FUZZ_CHECK(!r.allow.empty(), "405 without Allow", context);
  if (r.content_type == kJson) {
    FUZZ_CHECK(r.status == 200, "JSON with status " + std::to_string(r.status), context);
    FUZZ_CHECK(json::parse(r.body).ok(), "the JSON answer does not parse: " + r.body, context);
  } else {
    FUZZ_CHECK(!r.body.empty() && r.body.back() == '\n' && r.body.find('\n') == r.body.size() - 1,
               "a text answer that is not one line: " + r.body, context);
  }
  if ((data[0] & 0x80) != 0) FUZZ_CHECK(!w.metrics.render().empty(), "empty metrics", context);
  return 0;
}
