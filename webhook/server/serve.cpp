#include "server/serve.hpp"

#include <cstdio>
#include <cstdlib>
#include <variant>

#include "server/config.hpp"
#include "server/server.hpp"

namespace nodealloc::server {

int serve_main(std::span<char*> args) {
  auto parsed = parse_args(args, [](const char* name) -> const char* { return std::getenv(name); });
  if (std::holds_alternative<ShowHelp>(parsed)) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  if (const auto* usage = std::get_if<UsageError>(&parsed)) {
    std::fprintf(stderr, "argo-node-allocator serve: %s (see serve --help)\n",
                 usage->message.c_str());
    return 2;
  }
  Server server(std::move(std::get<Config>(parsed)));
  return server.run();
}

}  // namespace nodealloc::server
