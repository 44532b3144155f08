// One TLS connection: handshake -> [wait for a request -> header -> body -> answer]* -> close,
// every step under its own timeout, all on the thread of the worker the connection was given to
// (server/worker.hpp): no strand.
#pragma once

#include "core/review_reader.hpp"
#include "server/body_buffers.hpp"
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

// Starts serving an accepted connection with the TLS context in force now. The socket's
// io_context must run on one thread only; reader and bodies are that thread's (they outlive the
// session).
void start_https_session(Listener::Socket& socket, HttpsShared& shared, json::ReviewReader& reader,
                         BodyBuffers& bodies);

}  // namespace nodealloc::server
