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
cargo test --workspace --release
