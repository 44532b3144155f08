// The running server: loads policy and certificates, listens on the TLS and metrics ports, runs
// the worker threads, reloads files, and stops gracefully on SIGTERM/SIGINT.
#pragma once

#include <memory>

#include "server/config.hpp"

namespace nodealloc::server {

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Blocks until shut down. Returns the process exit code: 0 after a clean shutdown, 1 when the
  // policy, the TLS files or an address cannot be used at startup.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodealloc::server
