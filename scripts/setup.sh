#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a running demo: installs the packages,
# builds Moat, and starts nginx + Moat in front of a demo backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
scripts/build.sh
scripts/demo.sh
