#include "server/serve.hpp"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <variant>

#include "server/config.hpp"
#include "server/cpus.hpp"
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
  // A review allocates and frees a few hundred KiB. By default glibc hands the top of the heap
  // back to the kernel after such frees (brk, madvise), and each of those flushes the TLB of every
  // core: a third of the server's CPU time under load (docs/benchmarks.md). Keep freed memory for
  // the next request instead, and serve blocks up to the largest body from the heap, not mmap.
  // glibc's arena per thread stays: a connection lives on one worker (server/worker.hpp), so
  // each worker allocates in an arena of its own, with no lock shared (one arena for both
  // workers cost 400 µs per /mutate against 195; docs/benchmarks.md, item 10).
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  Config& config = std::get<Config>(parsed);
  if (config.threads == 0) config.threads = CpuBudget::of_this_process().threads();
  Server server(std::move(config));
  return server.run();
}

}  // namespace nodealloc::server
