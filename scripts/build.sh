#!/usr/bin/env bash
# Builds the whole workspace in release mode: the engine (libmoat.so, the `moat` CLI) and the
# nginx module (libngx_http_moat_module.so).
#
# The module is compiled against a configured copy of the nginx sources shipped by Debian's
# nginx-dev package (/usr/share/nginx/src), configured with Debian's own flags so that the module
# is binary compatible with /usr/sbin/nginx. Only `./configure` is run, never `make`.
#
# Environment:
#   NGINX_SRC   nginx sources to copy (default /usr/share/nginx/src)
#   CARGO       cargo binary (default cargo)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

nginx_src="${NGINX_SRC:-/usr/share/nginx/src}"
build_src="$repo_root/build/nginx-src"
conf_flags="$build_src/conf_flags"
auto_config="$build_src/objs/ngx_auto_config.h"

log() { printf '==> %s\n' "$*"; }

if [[ ! -f "$nginx_src/configure" || ! -f "$nginx_src/conf_flags" ]]; then
    echo "error: $nginx_src has no nginx sources (install the nginx-dev package)" >&2
    exit 1
fi

if [[ ! -f "$conf_flags" ]]; then
    log "copying nginx sources from $nginx_src to $build_src"
    rm -rf "$build_src"
    mkdir -p "$repo_root/build"
    cp -a "$nginx_src" "$build_src"
fi

if [[ -f "$auto_config" && "$auto_config" -nt "$conf_flags" ]]; then
    log "nginx sources already configured ($auto_config)"
else
    log "configuring nginx sources in $build_src with Debian's flags"
    # shellcheck source=/dev/null
    source "$conf_flags"
    (cd "$build_src" && ./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1) || {
        echo "error: ./configure failed, see $build_src/configure.log" >&2
        exit 1
    }
fi

export NGINX_BUILD_DIR="$build_src/objs"
log "building workspace (release) with NGINX_BUILD_DIR=$NGINX_BUILD_DIR"
"${CARGO:-cargo}" build --release --workspace

for artifact in libngx_http_moat_module.so libmoat.so moat; do
    if [[ ! -f "target/release/$artifact" ]]; then
        echo "error: target/release/$artifact was not produced" >&2
        exit 1
    fi
    log "built $repo_root/target/release/$artifact"
done
