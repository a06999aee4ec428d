# syntax=docker/dockerfile:1
#
# profd container image: one image for `profd api` and `profd worker`.
#
#   docker build -t profd:0.1.0 .
#   docker run --rm -p 8080:8080 -e PROFD_JWT_SECRET=... profd:0.1.0            # the API
#   docker run --rm --user 0 --cap-add SYS_PTRACE --pid container:APP \
#       -e PROFD_TARGETS=/etc/profd/targets.json ... profd:0.1.0 worker          # a worker
#
# Three stages:
#   build   compiles profd on debian:bookworm with the -dev packages;
#   pyspy   fetches py-spy from PyPI as a wheel and keeps only its static binary;
#   runtime debian:bookworm-slim with the shared libraries profd links and
#           nothing else (no compiler, no Python: py-spy is a self-contained binary,
#           and the built-in sampler is profd itself).
#
# The worker's needs (see docs/deploy.md, "ptrace permissions"):
#   * it must share the PID namespace of the processes it profiles
#     (docker: --pid container:APP or --pid host; compose: pid: "service:app";
#     Kubernetes: hostPID: true on a DaemonSet, or shareProcessNamespace in a pod);
#   * it needs CAP_SYS_PTRACE (docker: --cap-add SYS_PTRACE), and runs as root
#     inside its container so that the capability is effective (a non-root user
#     loses it at exec). It refuses to start as root without PROFD_TARGETS (an
#     allowlist), unless PROFD_ALLOW_ANY_PID=1 (development only);
#   * it writes capture files to PROFD_SPOOL_DIR (/tmp/profd-spool): mount a
#     writable volume there when the root filesystem is read-only.
# The API needs none of that and runs as the unprivileged user `profd` (uid 10001).

ARG DEBIAN_RELEASE=bookworm

############################ build ############################################
FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      librdkafka-dev libhiredis-dev libjson-c-dev libcurl4-openssl-dev libssl-dev \
      zlib1g-dev libcmocka-dev libdw-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree (minus what .dockerignore drops): CMake configures the test
# directories too, although only the binary is built here (the tests need
# redis-server, kcat and Python targets; run them with `make test`).
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" --target profd \
 && strip --strip-debug /build/profd \
 && /build/profd --version

############################ pyspy ############################################
# py-spy 0.4.0 is the first release that reads CPython 3.12 and 3.13; 0.4.1 fixes
# subprocess profiling on 3.12. PyPI's manylinux wheel carries one self-contained
# binary (bin/py-spy); pip checks the wheel against the sha256 the index lists.
FROM python:3.12-slim-${DEBIAN_RELEASE} AS pyspy
ARG PYSPY_VERSION=0.4.1
RUN pip install --no-cache-dir --root-user-action=ignore "py-spy==${PYSPY_VERSION}" \
 && /usr/local/bin/py-spy --version

############################ runtime ##########################################
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# Runtime libraries only: the sonames the build stage's -dev packages link against.
# curl is the HEALTHCHECK's client (profd has no probe subcommand).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libhiredis0.14 libjson-c5 libcurl4 libssl3 zlib1g libdw1 libelf1 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 profd \
 && useradd --system --uid 10001 --gid profd --home-dir /var/lib/profd \
      --create-home --shell /usr/sbin/nologin profd \
 && mkdir -p /etc/profd /tmp/profd-spool \
 && chown profd:profd /tmp/profd-spool

COPY --from=build /build/profd /usr/local/bin/profd
COPY --from=pyspy /usr/local/bin/py-spy /usr/local/bin/py-spy
RUN profd --version && py-spy --version

# Defaults suited to a container; every one can be overridden at run time
# (`profd help env` lists them all).
ENV PROFD_LISTEN=0.0.0.0:8080 \
    PROFD_METRICS_LISTEN=0.0.0.0:9464 \
    PROFD_LOG_FORMAT=json \
    PROFD_SPOOL_DIR=/tmp/profd-spool \
    PROFD_PYSPY=/usr/local/bin/py-spy

WORKDIR /var/lib/profd
USER profd:profd
EXPOSE 8080 9464

# The API's liveness endpoint. A worker answers /healthz on its metrics
# listener instead (PROFD_METRICS_LISTEN, port 9464): override the check for
# worker containers (docker-compose.yml does). Kubernetes ignores HEALTHCHECK
# and uses the chart's probes.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]

ENTRYPOINT ["/usr/local/bin/profd"]
CMD ["api"]
