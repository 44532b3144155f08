// argo-node-allocator: dispatch to a subcommand.
#include <cstdio>
#include <span>
#include <string_view>

#include "cli/commands.hpp"
#include "server/serve.hpp"

namespace {

constexpr std::string_view kUsage =
    "argo-node-allocator: places Argo Workflows templates on node pools.\n"
    "\n"
    "Usage:\n"
    "  argo-node-allocator serve --policy FILE --tls-cert FILE --tls-key FILE [flags]\n"
    "  argo-node-allocator review --policy FILE          < admission-review.json\n"
    "  argo-node-allocator mutate --policy FILE -f FILE|- [-o yaml|json|patch]\n"
    "  argo-node-allocator check-policy FILE\n"
    "  argo-node-allocator version\n"
    "\n"
    "Run 'argo-node-allocator <command> --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  std::span<char*> args(argv, static_cast<size_t>(argc));
  if (args.size() < 2) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  const std::string_view command = args[1];
  auto rest = args.subspan(2);
  if (command == "serve") return nodealloc::server::serve_main(rest);
  if (command == "review") return nodealloc::cli::review_main(rest);
  if (command == "mutate") return nodealloc::cli::mutate_main(rest);
  if (command == "check-policy") return nodealloc::cli::check_policy_main(rest);
  if (command == "version" || command == "--version") {
    std::printf("argo-node-allocator %s\n", NODEALLOC_VERSION);
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  std::fprintf(stderr, "argo-node-allocator: unknown command \"%.*s\"; see --help\n",
               static_cast<int>(command.size()), command.data());
  return 2;
}
