// The plain-HTTP port: GET /metrics (Prometheus text format 0.0.4) and GET /healthz.
#pragma once

#include "server/config.hpp"
#include "server/listener.hpp"
#include "server/metrics.hpp"

namespace nodealloc::server {

void start_metrics_session(Listener::Socket& socket, const Config& config, const Metrics& metrics);

}  // namespace nodealloc::server
