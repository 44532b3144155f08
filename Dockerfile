# syntax=docker/dockerfile:1
# argo-node-allocator: the webhook server image.   make image   (= docker build -t argo-node-allocator:TAG .)
#
# Stage 1 builds with Debian 12's toolchain and libraries; stage 2 is debian:12-slim with only the
# shared libraries the binary links (OpenSSL, yaml-cpp, spdlog and its fmt; Boost is header-only
# here). No compiler, no package manager caches, no CA certificates (the server makes no outbound
# TLS connections), and a non-root user.

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake g++ make libboost1.81-dev libssl-dev rapidjson-dev libsimdjson-dev libyaml-cpp-dev \
      libspdlog-dev python3 openssl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the server needs (see .dockerignore): the tests are not built (NODEALLOC_TESTS=OFF).
# A profile-guided Release build: built instrumented, trained on generated reviews (the
# benchmark's review generator and the example policy; in process, and through the server on
# 127.0.0.1 with a throw-away certificate: python3 and openssl), built again with the profile.
COPY CMakeLists.txt ./
COPY webhook/ webhook/
COPY tests/bench/ tests/bench/
COPY examples/policy.yaml examples/policy.yaml
RUN bash tests/bench/pgo-build.sh /build -DCMAKE_BUILD_TYPE=Release -DNODEALLOC_TESTS=OFF \
 && cmake --install /build --prefix /out --strip \
 && /out/bin/argo-node-allocator version

FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libsimdjson14 libyaml-cpp0.7 libspdlog1.10 \
      libfmt9 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY --from=build /out/bin/argo-node-allocator /usr/local/bin/argo-node-allocator
# The example policy as a default; in Kubernetes the ConfigMap is mounted over this directory.
COPY examples/policy.yaml /etc/node-allocator/policy/policy.yaml
# (debian:12-slim keeps coreutils: the Deployment's preStop hook runs /bin/sleep.)
# Fails the build if a shared library is missing from this stage.
RUN /usr/local/bin/argo-node-allocator version
USER 65532:65532
# 8443: HTTPS (POST /mutate, POST /v1/place, GET /healthz, GET /readyz); 9090: GET /metrics.
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/argo-node-allocator"]
# The paths the manifests and the chart mount; every flag also has an environment twin
# (NODE_ALLOCATOR_POLICY, NODE_ALLOCATOR_TLS_CERT, NODE_ALLOCATOR_TLS_KEY, NODE_ALLOCATOR_LOG_FORMAT, ...).
CMD ["serve", \
     "--policy", "/etc/node-allocator/policy/policy.yaml", \
     "--tls-cert", "/etc/node-allocator/tls/tls.crt", \
     "--tls-key", "/etc/node-allocator/tls/tls.key", \
     "--listen", "0.0.0.0:8443", \
     "--metrics-listen", "0.0.0.0:9090", \
     "--log-format", "json"]
