// How many CPUs this process may use, for `--threads 0`: std::thread::hardware_concurrency()
// counts the node's cores, and a webhook pod on a 96-core node would start 96 workers, each with
// its reader's buffers and its own malloc arena, under a memory limit sized for a few.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace nodealloc::server {

// A cgroup v2 cpu.max ("max 100000", "150000 100000"): the limit in CPUs, nullopt when there is
// none or the text is not of that form.
std::optional<double> cgroup2_cpu_limit(std::string_view cpu_max);

// cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us ("-1" and "100000": no limit).
std::optional<double> cgroup1_cpu_limit(std::string_view quota_us, std::string_view period_us);

// The CPU limit of the cgroup that `proc_self_cgroup` (the text of /proc/self/cgroup) names,
// read under `root` (/sys/fs/cgroup): the smallest from that cgroup up to the root, as
// Kubernetes sets it on the container (resources.limits.cpu) and may on the pod. A cgroup
// directory that is not there (a container sees its own cgroup as the root of its cgroup
// namespace, or of the v1 mount) is looked for at the root. nullopt: no limit found.
std::optional<double> cgroup_cpu_limit(std::string_view proc_self_cgroup,
                                       const std::filesystem::path& root);

struct CpuBudget {
  unsigned affinity = 1;        // CPUs in the affinity mask (cpusets, taskset, CPU manager)
  std::optional<double> limit;  // the cgroup's CPU limit, if any

  // One worker per CPU the process may run on, and no more than the limit rounded up; at
  // least one (like Go's container-aware GOMAXPROCS, Go 1.25).
  unsigned threads() const;

  // This process's, from sched_getaffinity, /proc/self/cgroup and /sys/fs/cgroup.
  static CpuBudget of_this_process();
};

}  // namespace nodealloc::server
