#include "server/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <string>
#include <system_error>

#include "server/reloader.hpp"  // read_file

namespace nodealloc::server {
namespace {

std::optional<long long> whole(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  long long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// A cgroup file's text; nullopt when it is not there (read_file's error names why, not needed).
std::optional<std::string> read_text(const std::filesystem::path& path) {
  auto text = read_file(path.string());
  if (!text.ok()) return std::nullopt;
  return std::move(text.value());
}

// The smallest limit found in `file` from `dir` (relative to `mount`) up to the mount itself;
// only the mount when `dir` is not under it.
template <class ReadLimit>
std::optional<double> smallest_up(const std::filesystem::path& mount, std::string_view dir,
                                  ReadLimit read_limit) {
  std::error_code ec;
  const std::filesystem::path relative = std::filesystem::path(dir).relative_path();
  std::filesystem::path at = mount / relative;
  if (relative.empty() || dir.find("..") != std::string_view::npos ||
      !std::filesystem::is_directory(at, ec)) {
    at = mount;
  }
  std::optional<double> smallest;
  while (true) {
    if (auto limit = read_limit(at); limit && (!smallest || *limit < *smallest)) smallest = limit;
    if (at == mount || !at.has_relative_path() || at.parent_path() == at) break;
    at = at.parent_path();
  }
  return smallest;
}

}  // namespace

std::optional<double> cgroup2_cpu_limit(std::string_view cpu_max) {
  // "<quota> <period>", as v1's two files hold them; a quota of "max" is none.
  const auto space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  return cgroup1_cpu_limit(cpu_max.substr(0, space), cpu_max.substr(space + 1));
}

std::optional<double> cgroup1_cpu_limit(std::string_view quota_us, std::string_view period_us) {
  const auto quota = whole(quota_us);  // -1 (v2: "max"): none
  const auto period = whole(period_us);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> cgroup_cpu_limit(std::string_view proc_self_cgroup,
                                       const std::filesystem::path& root) {
  // "<id>:<controllers>:<path>" per line; "0::<path>" is cgroup v2. A v1 hierarchy with the cpu
  // controller (a hybrid system has both) is where the limit is.
  std::optional<std::string> v2_dir;
  std::istringstream lines{std::string(proc_self_cgroup)};
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string dir = line.substr(second + 1);
    if (controllers.empty()) {
      if (line.compare(0, first, "0") == 0) v2_dir = dir;
      continue;
    }
    if (("," + controllers + ",").find(",cpu,") == std::string::npos) continue;
    std::filesystem::path mount = root / controllers;
    std::error_code ec;
    if (!std::filesystem::is_directory(mount, ec)) mount = root / "cpu";
    return smallest_up(mount, dir, [](const std::filesystem::path& at) -> std::optional<double> {
      const auto quota = read_text(at / "cpu.cfs_quota_us");
      const auto period = read_text(at / "cpu.cfs_period_us");
      return quota && period ? cgroup1_cpu_limit(*quota, *period) : std::nullopt;
    });
  }
  if (!v2_dir) return std::nullopt;
  return smallest_up(root, *v2_dir, [](const std::filesystem::path& at) -> std::optional<double> {
    const auto max = read_text(at / "cpu.max");
    return max ? cgroup2_cpu_limit(*max) : std::nullopt;
  });
}

unsigned CpuBudget::threads() const {
  unsigned n = std::max(1u, affinity);
  if (limit) n = std::min(n, static_cast<unsigned>(std::max(1.0, std::ceil(*limit))));
  return n;
}

CpuBudget CpuBudget::of_this_process() {
  CpuBudget budget;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    budget.affinity = static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  }
  if (const auto cgroup = read_text("/proc/self/cgroup")) {
    budget.limit = cgroup_cpu_limit(*cgroup, "/sys/fs/cgroup");
  }
  return budget;
}

}  // namespace nodealloc::server
