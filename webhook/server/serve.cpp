#include "server/serve.hpp"

#include <cstdio>

namespace nodealloc::server {

int serve_main(std::span<char*> /*args*/) {
  std::fputs("argo-node-allocator: serve: not implemented yet\n", stderr);
  return 2;
}

}  // namespace nodealloc::server
