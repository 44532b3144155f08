// `--threads 0`: the CPUs the process may use (server/cpus.hpp). The cgroup files are read from
// real directory trees laid out as kube's cgroup v1 and v2 hierarchies are.
#include <doctest/doctest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/cpus.hpp"

namespace fs = std::filesystem;
using nodealloc::server::cgroup1_cpu_limit;
using nodealloc::server::cgroup2_cpu_limit;
using nodealloc::server::cgroup_cpu_limit;
using nodealloc::server::CpuBudget;

namespace {

// A directory removed with everything in it when the test ends.
class TempTree {
 public:
  TempTree() {
    std::string pattern = (fs::temp_directory_path() / "cpus-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    root_ = pattern;
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const fs::path& root() const { return root_; }
  void write(const fs::path& relative, const std::string& text) const {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("cgroup v2 cpu.max") {
  CHECK_FALSE(cgroup2_cpu_limit("max 100000\n").has_value());
  CHECK(cgroup2_cpu_limit("150000 100000\n") == doctest::Approx(1.5));
  CHECK(cgroup2_cpu_limit("50000 100000") == doctest::Approx(0.5));
  CHECK(cgroup2_cpu_limit("400000 100000\n") == doctest::Approx(4.0));
  for (const char* bad : {"", "max", "100000", "abc 100000", "100000 0", "0 100000", "-1 100000",
                          "100000 100000 5"}) {
    CAPTURE(bad);
    CHECK_FALSE(cgroup2_cpu_limit(bad).has_value());
  }
}

TEST_CASE("cgroup v1 cfs quota and period") {
  CHECK_FALSE(cgroup1_cpu_limit("-1\n", "100000\n").has_value());
  CHECK(cgroup1_cpu_limit("250000\n", "100000\n") == doctest::Approx(2.5));
  CHECK_FALSE(cgroup1_cpu_limit("x", "100000").has_value());
  CHECK_FALSE(cgroup1_cpu_limit("100000", "0").has_value());
}

TEST_CASE("threads: one per CPU in the affinity mask, at most the limit rounded up, at least one") {
  CHECK(CpuBudget{8, std::nullopt}.threads() == 8);
  CHECK(CpuBudget{8, 1.5}.threads() == 2);
  CHECK(CpuBudget{8, 2.0}.threads() == 2);
  CHECK(CpuBudget{2, 4.0}.threads() == 2);
  CHECK(CpuBudget{8, 0.1}.threads() == 1);
  CHECK(CpuBudget{0, std::nullopt}.threads() == 1);
}

TEST_CASE("cgroup v2: the smallest limit from the process's cgroup up to the root") {
  TempTree tree;
  const std::string container = "kubepods.slice/kubepods-pod1.slice/cri-containerd-c1.scope";
  tree.write(container + "/cpu.max", "max 100000\n");  // no container limit
  tree.write("kubepods.slice/kubepods-pod1.slice/cpu.max", "250000 100000\n");  // the pod's
  tree.write("kubepods.slice/cpu.max", "max 100000\n");
  CHECK(cgroup_cpu_limit("0::/" + container + "\n", tree.root()) == doctest::Approx(2.5));

  tree.write(container + "/cpu.max", "50000 100000\n");  // the container's, smaller
  CHECK(cgroup_cpu_limit("0::/" + container + "\n", tree.root()) == doctest::Approx(0.5));

  SUBCASE("a cgroup namespace: the process's own cgroup is the root") {
    TempTree own;
    own.write("cpu.max", "100000 100000\n");
    CHECK(cgroup_cpu_limit("0::/\n", own.root()) == doctest::Approx(1.0));
    // /proc/self/cgroup naming a path the mount does not show: the root is read.
    CHECK(cgroup_cpu_limit("0::/kubepods/elsewhere\n", own.root()) == doctest::Approx(1.0));
  }
  SUBCASE("no limit anywhere, or no cgroup line") {
    TempTree none;
    none.write("a/cpu.max", "max 100000\n");
    CHECK_FALSE(cgroup_cpu_limit("0::/a\n", none.root()).has_value());
    CHECK_FALSE(cgroup_cpu_limit("", none.root()).has_value());
    CHECK_FALSE(cgroup_cpu_limit("0::/a\n", none.root() / "missing").has_value());
  }
}

TEST_CASE("cgroup v1: the cpu controller's hierarchy, also on a hybrid system") {
  TempTree tree;
  tree.write("cpu,cpuacct/kubepods/burstable/pod1/c1/cpu.cfs_quota_us", "-1\n");
  tree.write("cpu,cpuacct/kubepods/burstable/pod1/c1/cpu.cfs_period_us", "100000\n");
  tree.write("cpu,cpuacct/kubepods/burstable/pod1/cpu.cfs_quota_us", "150000\n");
  tree.write("cpu,cpuacct/kubepods/burstable/pod1/cpu.cfs_period_us", "100000\n");
  tree.write("cpu.max", "max 100000\n");  // the unified hierarchy says nothing
  const std::string cgroup =
      "12:memory:/kubepods/burstable/pod1/c1\n"
      "4:cpu,cpuacct:/kubepods/burstable/pod1/c1\n"
      "0::/\n";
  CHECK(cgroup_cpu_limit(cgroup, tree.root()) == doctest::Approx(1.5));

  SUBCASE("the controller mounted as cpu alone") {
    TempTree alone;
    alone.write("cpu/cpu.cfs_quota_us", "300000\n");
    alone.write("cpu/cpu.cfs_period_us", "100000\n");
    CHECK(cgroup_cpu_limit("3:cpu:/\n", alone.root()) == doctest::Approx(3.0));
    CHECK(cgroup_cpu_limit("3:cpu,cpuacct:/docker/abc\n", alone.root()) == doctest::Approx(3.0));
  }
}

TEST_CASE("this process: its affinity mask, and at least one thread") {
  const CpuBudget budget = CpuBudget::of_this_process();
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  CHECK(budget.affinity == static_cast<unsigned>(CPU_COUNT(&set)));
  CHECK(budget.threads() >= 1);
  CHECK(budget.threads() <= budget.affinity);
}
