#!/bin/bash
# A profile-guided Release build of the server (and core_bench) in BUILD_DIR: build it
# instrumented, run the review on generated AdmissionReviews of 5, 50 and 500 templates (every
# template shape core_bench makes: containers, sidecars, init containers, containerSets, steps
# and DAGs with inline templates, GPU and tolerations, warnings) and the benchmark's floor,
# in process and through the server over TLS, then build it again with the profile GCC wrote.
# The image (Dockerfile) and make bench are built this way: what the benchmarks measure is what
# ships. docs/benchmarks.md, item 32.
#
#   bash tests/bench/pgo-build.sh BUILD_DIR [cmake -D options...]     (from the source root)
set -euo pipefail
build=${1:?usage: pgo-build.sh BUILD_DIR [cmake options]}
shift
jobs=${JOBS:-$(nproc)}
profile="$(cd "$(dirname "$build")" && pwd)/$(basename "$build")/pgo-profile"

# The same build directory for both builds: GCC names each object's profile after its path.
rm -rf "$profile"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNODEALLOC_BENCH=ON -DNODEALLOC_PGO=generate \
  -DNODEALLOC_PGO_DIR="$profile" "$@" >/dev/null
cmake --build "$build" -j "$jobs" --target core_bench argo-node-allocator
for size_and_rounds in "50 2000" "5 3000" "500 100"; do
  # shellcheck disable=SC2086
  "$build/tests/bench/core_bench" examples/policy.yaml --loop $size_and_rounds >/dev/null
done
# The benchmark's floor (a bare RapidJSON parse and serialize) is trained as much as the review,
# so that the core ratio compares two profiled builds.
"$build/tests/bench/core_bench" examples/policy.yaml --loop 50 2000 floor >/dev/null
# And the server around the review: TLS, HTTP, the sessions, reviews of every size.
/usr/bin/python3 "$(dirname "$0")/pgo_train_server.py" "$build" examples/policy.yaml
cmake -S . -B "$build" -DNODEALLOC_PGO=use >/dev/null
cmake --build "$build" -j "$jobs" --target argo-node-allocator core_bench
