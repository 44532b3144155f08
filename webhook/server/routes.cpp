#include "server/routes.hpp"

#include <fmt/format.h>

#include <exception>

#include "core/admission.hpp"

namespace nodealloc::server {

namespace {

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// "application/json; charset=utf-8" -> true.
bool is_json(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  return iequals(media, kJson);
}

std::string_view one_line(std::string_view s) {
  return s.substr(0, s.find('\n'));
}

}  // namespace

Handler route_of(std::string_view target) {
  const auto path = path_of(target);
  if (path == "/mutate") return Handler::Mutate;
  if (path == "/v1/place") return Handler::Place;
  if (path == "/healthz") return Handler::Healthz;
  if (path == "/readyz") return Handler::Readyz;
  return Handler::Other;
}

Response text_response(int status, std::string_view message, Handler handler) {
  Response r;
  r.status = status;
  r.handler = handler;
  r.body.reserve(message.size() + 1);
  r.body.append(message);
  r.body += '\n';
  return r;
}

Response Router::check_header(std::string_view method, std::string_view target,
                              std::string_view content_type) const {
  const Handler handler = route_of(target);
  switch (handler) {
    case Handler::Mutate:
    case Handler::Place:
      if (method != "POST") {
        auto r = text_response(405, "method not allowed; use POST", handler);
        r.allow = "POST";
        return r;
      }
      if (!is_json(content_type)) {
        return text_response(415, "content type must be application/json", handler);
      }
      break;
    case Handler::Healthz:
    case Handler::Readyz:
      if (method != "GET") {
        auto r = text_response(405, "method not allowed; use GET", handler);
        r.allow = "GET";
        return r;
      }
      break;
    default:
      return text_response(404, "not found", handler);
  }
  Response pass;
  pass.status = 0;
  pass.handler = handler;
  return pass;
}

Response Router::handle(const Request& request, PolicyCache& cache, json::ReviewReader& reader,
                        std::chrono::steady_clock::time_point started) const {
  Response r = check_header(request.method, request.target, request.content_type);
  if (r.status != 0) return r;
  switch (r.handler) {
    case Handler::Healthz:
      return text_response(200, "ok", r.handler);
    case Handler::Readyz:
      if (ready_.load(std::memory_order_relaxed) && policy_.loaded()) {
        return text_response(200, "ok", r.handler);
      }
      return text_response(503, "not ready", r.handler);
    default:
      return admit(request, r.handler, cache, reader, started);
  }
}

Response Router::admit(const Request& request, Handler handler, PolicyCache& cache,
                       json::ReviewReader& reader,
                       std::chrono::steady_clock::time_point started) const {
  const PolicySnapshot& snapshot = cache.get(policy_);
  Result<Answer> answer = Error{};
  try {
    answer = handler == Handler::Place
                 ? place(request.body, snapshot.policy)
                 : review(request.body, snapshot.policy, reader, request.body_padded);
  } catch (const std::exception& e) {
    const auto took = std::chrono::steady_clock::now() - started;
    metrics_.record(handler, nullptr, snapshot.pool_counters, took);
    log_.error("internal error", {{"path", path_of(request.target)}, {"error", e.what()}});
    return text_response(500, "internal error", handler);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  const auto path = path_of(request.target);
  if (!answer) {
    metrics_.record(handler, nullptr, snapshot.pool_counters, took);
    const auto reason = one_line(answer.error().message);
    log_.warn("bad request", {{"path", path}, {"status", "400", false}, {"error", reason}});
    return text_response(400, reason, handler);
  }
  const Summary& s = answer.value().summary;
  metrics_.record(handler, &s, snapshot.pool_counters, took);

  if (log_.enabled(Level::Info)) {
    std::size_t placed = 0;
    std::string placements;
    for (const auto& t : s.templates) {
      if (t.reason != Reason::Placed) continue;
      ++placed;
      if (!placements.empty()) placements += ',';
      placements += t.name;
      placements += '=';
      placements += t.pool;
    }
    const std::string n_placed = std::to_string(placed);
    const std::string n_skipped = std::to_string(s.templates.size() - placed);
    const std::string ms =
        fmt::format("{:.3f}", std::chrono::duration<double, std::milli>(took).count());
    const std::string_view outcome = !s.allowed ? "denied" : s.patched ? "patched" : "allowed";
    log_.info(handler == Handler::Mutate ? "admission" : "place",
              {{"uid", s.uid},
               {"kind", s.kind},
               {"namespace", s.namespace_name},
               {"name", s.name},
               {"operation", s.operation},
               {"outcome", outcome},
               {"placed", n_placed, false},
               {"skipped", n_skipped, false},
               {"placements", placements},
               {"warnings", std::to_string(s.warnings.size()), false},
               {"duration_ms", ms, false}});
    if (log_.enabled(Level::Debug)) {
      for (const auto& t : s.templates) {
        log_.debug("template", {{"uid", s.uid},
                                {"template", t.name},
                                {"reason", to_string(t.reason)},
                                {"pool", t.pool}});
      }
    }
  }

  Response r;
  r.status = 200;
  r.handler = handler;
  r.content_type = kJson;
  r.body = std::move(answer.value().body);
  return r;
}

}  // namespace nodealloc::server
