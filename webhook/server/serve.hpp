// `argo-node-allocator serve`: the HTTPS webhook server around the core.
#pragma once

#include <span>

namespace nodealloc::server {

// args: everything after "serve". Returns the process exit code.
int serve_main(std::span<char*> args);

}  // namespace nodealloc::server
