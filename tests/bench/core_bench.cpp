// In-process benchmark of nodealloc::review() against the floor: a bare RapidJSON parse +
// serialize of the same AdmissionReview. Counts heap allocations by interposing malloc.
//
//   core_bench POLICY --emit N            the N-template AdmissionReview on stdout
//   core_bench POLICY [--ms MS]           JSON lines: 5/50/500 templates, then 10..5000 scaling
//   core_bench POLICY --loop N ITER [review|floor]   one of them ITER times (for callgrind)
//
// The reviews are generated deterministically: a Kubeflow-like mix of container, script,
// containerSet, resource and GPU templates, sidecars, init containers, steps and DAGs with inline
// templates, a template with its own nodeSelector and one whose request is a {{...}} expression.
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/admission.hpp"
#include "core/policy.hpp"
#include "floor.hpp"

// ---- allocation counting: every malloc in the process (operator new calls malloc too) ----
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
}
namespace {
std::size_t g_allocs = 0;
}
extern "C" {
void* malloc(std::size_t n) {
  ++g_allocs;
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) {
  ++g_allocs;
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) {
  ++g_allocs;
  return __libc_realloc(p, n);
}
void free(void* p) {
  __libc_free(p);
}
}

namespace {

// ---- the generated review ----

std::string resources(const char* cpu, const char* mem, bool limits_only = false) {
  std::string r = "{\"";
  r += limits_only ? "limits" : "requests";
  r += "\":{\"cpu\":\"";
  r += cpu;
  r += "\",\"memory\":\"";
  r += mem;
  r += "\"}";
  if (!limits_only) {
    r += ",\"limits\":{\"cpu\":\"";
    r += cpu;
    r += "\",\"memory\":\"";
    r += mem;
    r += "\"}";
  }
  r += "}";
  return r;
}

std::string container(const std::string& name, const std::string& image, const std::string& res) {
  return "{\"name\":\"" + name + "\",\"image\":\"" + image +
         "\",\"command\":[\"python3\",\"-u\",\"-c\"],\"args\":[\"import sys; print('step', "
         "sys.argv[1])\",\"{{inputs.parameters.input}}\"],\"env\":[{\"name\":\"PYTHONUNBUFFERED\","
         "\"value\":\"1\"},{\"name\":\"POD_NAME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":"
         "\"metadata.name\"}}}],\"volumeMounts\":[{\"name\":\"workdir\",\"mountPath\":\"/work\"}],"
         "\"resources\":" +
         res + "}";
}

std::string io(const std::string& name) {
  return "\"inputs\":{\"parameters\":[{\"name\":\"input\"}]},\"outputs\":{\"artifacts\":[{"
         "\"name\":\"" +
         name + "-out\",\"path\":\"/tmp/outputs/" + name +
         "/data\"}]},\"metadata\":{\"labels\":{\"pipelines.kubeflow.org/pipeline-sdk-type\":"
         "\"kfp\"},\"annotations\":{\"pipelines.kubeflow.org/component_spec\":\"{\\\"name\\\": "
         "\\\"" +
         name + "\\\"}\"}}";
}

const char* kCpus[] = {"250m", "500m", "1", "2", "0.5", "1500m", "3"};
const char* kMems[] = {"256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "3Gi"};

// Template i of n; steps/dag templates call the next few templates by name.
std::string make_template(int i, int n) {
  const std::string name = "t" + std::to_string(i);
  const char* cpu = kCpus[i % 7];
  const char* mem = kMems[(i / 7) % 7];
  auto call = [&](int k) { return "t" + std::to_string((i + k) % n); };
  switch (i % 10) {
    case 0: {  // a DAG calling the next templates, one task inline
      std::string t = "{\"name\":\"" + name + "\",\"dag\":{\"tasks\":[";
      for (int k = 1; k <= 3; ++k) {
        t += "{\"name\":\"task" + std::to_string(k) + "\",\"template\":\"" + call(k) +
             "\",\"arguments\":{\"parameters\":[{\"name\":\"input\",\"value\":\"{{inputs."
             "parameters.input}}\"}]}},";
      }
      t += "{\"name\":\"inline-task\",\"inline\":{\"container\":" +
           container("main", "alpine:3.19", resources("100m", "128Mi")) + "}}]}}";
      return t;
    }
    case 1:  // a plain container
      return "{\"name\":\"" + name + "\"," + io(name) +
             ",\"container\":" + container("main", "python:3.11-slim", resources(cpu, mem)) + "}";
    case 2:  // a script with limits only
      return "{\"name\":\"" + name + "\"," + io(name) +
             ",\"script\":{\"image\":\"python:3.11\",\"command\":[\"python\"],\"source\":\"import "
             "json\\nprint(json.dumps({'ok': True}))\\n\",\"resources\":" +
             resources(cpu, mem, true) + "}}";
    case 3:  // sidecars and init containers
      return "{\"name\":\"" + name + "\"," + io(name) +
             ",\"container\":" + container("main", "python:3.11-slim", resources(cpu, mem)) +
             ",\"sidecars\":[" +
             container("proxy", "envoyproxy/envoy:v1.29", resources("100m", "64Mi")) + "," +
             container("metrics", "prom/statsd-exporter", resources("50m", "32Mi")) +
             "],\"initContainers\":[" +
             container("fetch", "curlimages/curl", resources("200m", "128Mi")) + "]}";
    case 4:  // a containerSet
      return "{\"name\":\"" + name + "\",\"containerSet\":{\"containers\":[" +
             container("a", "alpine", resources("500m", "512Mi")) + "," +
             container("b", "alpine", resources("250m", "256Mi")) + "," +
             container("main", "alpine", resources(cpu, mem)) + "]}}";
    case 5:  // a resource template
      return "{\"name\":\"" + name +
             "\",\"resource\":{\"action\":\"create\",\"setOwnerReference\":true,\"manifest\":"
             "\"apiVersion: batch/v1\\nkind: Job\\nmetadata:\\n  generateName: job-\\nspec:\\n  "
             "template:\\n    spec:\\n      containers:\\n      - name: main\\n        image: "
             "alpine\\n      restartPolicy: Never\\n\"}}";
    case 6:  // GPU training: the tainted pool, tolerations added
      return "{\"name\":\"" + name + "\"," + io(name) + ",\"container\":" +
             container("main", "pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime",
                       "{\"requests\":{\"cpu\":\"8\",\"memory\":\"32Gi\",\"nvidia.com/gpu\":\"2\"},"
                       "\"limits\":{\"nvidia.com/gpu\":\"2\"}}") +
             "}";
    case 7:  // steps calling the next templates, one step inline
      return "{\"name\":\"" + name + "\",\"steps\":[[{\"name\":\"s1\",\"template\":\"" + call(1) +
             "\"},{\"name\":\"s2\",\"template\":\"" + call(2) +
             "\"}],[{\"name\":\"inline-step\",\"inline\":{\"script\":{\"image\":\"alpine\","
             "\"source\":\"echo hi\",\"resources\":" +
             resources("50m", "64Mi") + "}}}]]}";
    case 8:  // its own nodeSelector: kept (existingPlacement Keep)
      return "{\"name\":\"" + name +
             "\",\"nodeSelector\":{\"node-pool\":\"highmem\"},\"container\":" +
             container("main", "python:3.11-slim", resources("12", "100Gi")) + "}";
    default:  // every 20th: an unresolvable request; else a big-memory container
      if (i % 20 == 19) {
        return "{\"name\":\"" + name + "\",\"container\":" +
               container("main", "alpine",
                         "{\"requests\":{\"cpu\":\"{{inputs.parameters.cpu}}\"}}") +
               "}";
      }
      return "{\"name\":\"" + name + "\"," + io(name) +
             ",\"container\":" + container("main", "python:3.11", resources("6", "64Gi")) + "}";
  }
}

std::string make_review(int n) {
  std::string s =
      "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
      "\"uid\":\"9f3c2a44-5d2b-4c1e-9a7e-2b1f0c6d8e01\",\"kind\":{\"group\":\"argoproj.io\","
      "\"version\":\"v1alpha1\",\"kind\":\"Workflow\"},\"resource\":{\"group\":\"argoproj.io\","
      "\"version\":\"v1alpha1\",\"resource\":\"workflows\"},\"requestKind\":{\"group\":"
      "\"argoproj.io\",\"version\":\"v1alpha1\",\"kind\":\"Workflow\"},\"requestResource\":{"
      "\"group\":\"argoproj.io\",\"version\":\"v1alpha1\",\"resource\":\"workflows\"},"
      "\"namespace\":\"ml-team\",\"operation\":\"CREATE\",\"userInfo\":{\"username\":\"system:"
      "serviceaccount:kubeflow:pipeline-runner\",\"uid\":\"5b1c7a2e-0000-4000-8000-000000000001\","
      "\"groups\":[\"system:serviceaccounts\",\"system:serviceaccounts:kubeflow\",\"system:"
      "authenticated\"]},\"object\":{\"apiVersion\":\"argoproj.io/v1alpha1\",\"kind\":"
      "\"Workflow\",\"metadata\":{\"generateName\":\"bench-pipeline-\",\"namespace\":\"ml-team\","
      "\"labels\":{\"pipelines.kubeflow.org/kfp_sdk_version\":\"1.8.22\"},\"annotations\":{"
      "\"pipelines.kubeflow.org/kfp_sdk_version\":\"1.8.22\",\"pipelines.kubeflow.org/"
      "pipeline_spec\":\"{\\\"name\\\": \\\"bench\\\"}\"}},\"spec\":{\"entrypoint\":\"t0\","
      "\"serviceAccountName\":\"pipeline-runner\",\"arguments\":{\"parameters\":[{\"name\":"
      "\"input\",\"value\":\"gs://bucket/data.parquet\"},{\"name\":\"epochs\",\"value\":\"20\"}]},"
      "\"volumes\":[{\"name\":\"workdir\",\"emptyDir\":{}}],\"templates\":[";
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ',';
    s += make_template(i, n);
  }
  s += "]}},\"oldObject\":null,\"dryRun\":false,\"options\":{\"apiVersion\":\"meta.k8s.io/v1\","
       "\"kind\":\"CreateOptions\"}}}";
  return s;
}

// ---- measuring ----

std::size_t g_sink = 0;

// As the server does: one reader per thread, its simdjson buffers kept between reviews.
std::size_t run_review(const std::string& text, const nodealloc::Policy& policy) {
  static nodealloc::json::ReviewReader reader;
  auto answer = nodealloc::review(text, policy, reader);
  if (!answer) {
    std::fprintf(stderr, "review failed: %s\n", answer.error().message.c_str());
    std::exit(1);
  }
  return answer.value().body.size();
}

std::size_t run_floor(const std::string& text) {
  return nodealloc::bench::parse_and_serialize(text);
}

// This thread's CPU time: on a machine shared with other work, time spent descheduled is not
// the code's cost (wall time under load varies 2-5x; CPU time a few percent).
double cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <class F>
double ns_per_call(F&& f, int iterations) {
  const double t0 = cpu_ns();
  for (int i = 0; i < iterations; ++i) g_sink += f();
  return (cpu_ns() - t0) / iterations;
}

template <class F>
double allocs_per_call(F&& f) {
  g_sink += f();  // warm
  const std::size_t before = g_allocs;
  g_sink += f();
  return static_cast<double>(g_allocs - before);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Alternates batches of review and floor (the CPU's speed changes within seconds); per-pair
// ratios, their median. About `budget_ms` in all.
void measure(const char* group, int n, const nodealloc::Policy& policy, double budget_ms) {
  const std::string text = make_review(n);
  auto review_fn = [&] { return run_review(text, policy); };
  auto floor_fn = [&] { return run_floor(text); };
  // Calibrate: iterations per batch so that a batch takes about budget/(2*pairs).
  constexpr int kPairs = 9;
  ns_per_call(review_fn, 1);  // warm the caches and the allocator
  const double one =
      std::min({ns_per_call(review_fn, 1), ns_per_call(review_fn, 1), ns_per_call(review_fn, 1)});
  const double batch_ns = budget_ms * 1e6 / (2 * kPairs);
  const int iterations = std::max(1, static_cast<int>(batch_ns / std::max(one, 1.0)));
  std::vector<double> review_ns, floor_ns, ratios;
  for (int p = 0; p < kPairs; ++p) {
    const double r = ns_per_call(review_fn, iterations);
    const double f = ns_per_call(floor_fn, iterations);
    review_ns.push_back(r);
    floor_ns.push_back(f);
    ratios.push_back(r / f);
  }
  const double rn = median(review_ns);
  const double fn = median(floor_ns);
  std::printf(
      "{\"group\":\"%s\",\"templates\":%d,\"bytes\":%zu,\"review_ns\":%.0f,\"review_min_ns\":%.0f,"
      "\"floor_ns\":%.0f,\"floor_min_ns\":%.0f,\"ratio\":%.3f,\"ratio_min\":%.3f,\"ratio_max\":%."
      "3f,"
      "\"review_allocs\":%.0f,\"floor_allocs\":%.0f,\"iterations\":%d,\"answer_bytes\":%zu}\n",
      group, n, text.size(), rn, *std::min_element(review_ns.begin(), review_ns.end()), fn,
      *std::min_element(floor_ns.begin(), floor_ns.end()), median(ratios),
      *std::min_element(ratios.begin(), ratios.end()),
      *std::max_element(ratios.begin(), ratios.end()), allocs_per_call(review_fn),
      allocs_per_call(floor_fn), iterations, run_review(text, policy));
  std::fflush(stdout);
}

nodealloc::Policy load_policy(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto policy = nodealloc::parse_policy(ss.str());
  if (!policy) {
    std::fprintf(stderr, "%s: %s\n", path, policy.error().front().to_string().c_str());
    std::exit(2);
  }
  return std::move(policy.value());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: core_bench POLICY [--emit N | --loop N ITER [review|floor] | --ms MS]\n");
    return 2;
  }
  // The server's malloc settings (webhook/server/serve.cpp): without them glibc gives the heap
  // top back to the kernel between reviews and the page faults land in the measured CPU time.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  const nodealloc::Policy policy = load_policy(argv[1]);
  const std::string mode = argc > 2 ? argv[2] : "";
  if (mode == "--emit" && argc > 3) {
    const std::string text = make_review(std::atoi(argv[3]));
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (mode == "--loop" && argc > 4) {
    const std::string text = make_review(std::atoi(argv[3]));
    const int iterations = std::atoi(argv[4]);
    const bool floor = argc > 5 && std::string_view(argv[5]) == "floor";
    for (int i = 0; i < iterations; ++i)
      g_sink += floor ? run_floor(text) : run_review(text, policy);
    std::printf("%zu\n", g_sink);
    return 0;
  }
  const double ms = (mode == "--ms" && argc > 3) ? std::atof(argv[3]) : 400;
  for (int n : {5, 50, 500}) measure("core", n, policy, ms);
  for (int n : {10, 20, 50, 100, 200, 500, 1000, 2000, 5000}) measure("scaling", n, policy, ms / 2);
  return g_sink == 0 ? 1 : 0;
}
