// One TLS connection: handshake -> [wait for a request -> header -> body -> answer]* -> close,
// every step under its own timeout, on the connection's strand.
#pragma once

#include "server/config.hpp"
#include "server/connections.hpp"
#include "server/listener.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/routes.hpp"
#include "server/tls_context.hpp"

namespace nodealloc::server {

// What every connection uses; outlives them all.
struct HttpsShared {
  const Config& config;
  Logger& log;
  Metrics& metrics;
  const Router& router;
  const TlsStore& tls;
  ConnectionTracker& tracker;
};

// Starts serving an accepted connection with the TLS context in force now.
void start_https_session(Listener::Socket& socket, HttpsShared& shared);

}  // namespace nodealloc::server
