#!/usr/bin/env bash
# Runs Moat's whole test suite: installs what is missing, builds the release artifacts the
# end-to-end tests load into the real nginx, checks formatting and lints, then runs every unit
# and end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
scripts/build.sh
export NGINX_BUILD_DIR="$PWD/build/nginx-src/objs"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --release -- -D warnings
echo "==> cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --release 2>&1 | tee "$log" || status=$?
echo "==> Debian packages: build, install, serve, purge (scripts/test-package.sh)"
package_status=0
MOAT_SKIP_BUILD=1 scripts/test-package.sh || package_status=$?
# One closing line over every test binary (cargo prints one "test result" line per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
if [ "$package_status" -eq 0 ]; then echo "Debian package test: passed"; else
  echo "Debian package test: FAILED"; status=$package_status; fi
exit "$status"
