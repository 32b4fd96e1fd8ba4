#!/usr/bin/env bash
# Installs what Moat needs to build, test and run its demo on Debian bookworm (run as root or
# with sudo available). Idempotent: packages already present are not fetched again.
set -euo pipefail

PACKAGES=(
  nginx nginx-dev                                      # the nginx Moat plugs into, and its sources
  libclang-dev clang                                   # bindgen for the nginx bindings
  libnginx-mod-http-lua libnginx-mod-http-ndk lua-resty-core  # the Lua path (OpenResty's LuaJIT2)
  mmdb-bin                                             # mmdblookup: tests read moat-mmdb output with libmaxminddb
  curl wrk python3 pkg-config build-essential ca-certificates procps
  dpkg-dev lintian                                     # scripts/package-deb.sh: the .deb files and their check
  clickhouse-server clickhouse-client                  # events store (tests and demo run private instances)
  python3-prometheus-client                            # tests parse the metrics with the reference Prometheus parser
  prometheus                                           # the dashboard test evaluates its PromQL in a real Prometheus
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  # Package install scripts would start system services (nginx on port 80, clickhouse-server on
  # 8123/9000); Moat's tests and demo run their own instances. A policy-rc.d that denies every
  # start keeps them from starting (only added when none exists, and removed afterwards).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    "${sudo_cmd[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    "${sudo_cmd[@]}" systemctl disable --now clickhouse-server >/dev/null 2>&1 || true
    "${sudo_cmd[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "==> installing the Rust toolchain with rustup (Debian's rustc is too old for the nginx bindings)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
echo "==> dependencies present ($(cargo --version))"
