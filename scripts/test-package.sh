#!/usr/bin/env bash
# End-to-end test of Moat's Debian packages on this machine's real Debian nginx:
#
#  1. builds the .deb files with scripts/package-deb.sh (lintian included);
#  2. installs them with dpkg into the system and checks the files, the modules-enabled link,
#     the nginx ABI dependency, the CLI, and that the system configuration passes `nginx -t`;
#  3. runs /usr/sbin/nginx on a private configuration (temp prefix, loopback ports; never the
#     system service) that loads the module through the installed modules-enabled snippet,
#     includes the installed /etc/moat/nginx-moat.conf and the Docker image's site, plus a
#     server using the installed lua-moat, and checks what clients get: benign 200, SQL
#     injection 403, the default rules' verdicts, the health check;
#  4. removes (link parked, conffiles kept), reinstalls (link back), then purges, and checks
#     that every file is gone and the system configuration still passes `nginx -t`.
#
# The machine is left as it was found, also when a check fails or the test is interrupted: the
# test refuses to start if Moat's packages or files are already present, and its exit trap
# stops its nginx, purges what it installed and deletes its temp dir. One run at a time per
# machine (a lock), since dpkg changes the whole system.
#
# Needs root (or sudo for the system steps). MOAT_SKIP_BUILD=1 packages the current release
# artifacts without running scripts/build.sh first.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

packages=(libnginx-mod-http-moat lua-moat libnginx-mod-http-moat-dbgsym lua-moat-dbgsym)
link=/etc/nginx/modules-enabled/50-mod-http-moat.conf
module=/usr/lib/nginx/modules/ngx_http_moat_module.so
nginx=/usr/sbin/nginx
out_dir="${MOAT_DEB_DIR:-$repo_root/build/deb}"

failures=0
log() { printf '==> %s\n' "$*"; }
pass() { printf '  ok    %s\n' "$*"; }
fail() {
    printf '  FAIL  %s\n' "$*" >&2
    failures=$((failures + 1))
}
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
# check DESCRIPTION COMMAND...: runs COMMAND, reports ok or FAIL (and keeps going).
check() {
    local what="$1"
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

command -v dpkg >/dev/null || die "dpkg is missing: this test runs on Debian"
[[ -x "$nginx" ]] || die "$nginx is missing (scripts/install-deps.sh installs nginx)"
command -v curl >/dev/null || die "curl is missing (scripts/install-deps.sh installs it)"

# --- 1. Build ------------------------------------------------------------------------------

scripts/package-deb.sh
version="$(dpkg-parsechangelog -l packaging/deb/changelog -SVersion)"
arch="$(dpkg --print-architecture)"
mod_deb="$out_dir/libnginx-mod-http-moat_${version}_${arch}.deb"
lua_deb="$out_dir/lua-moat_${version}_${arch}.deb"
debs=("$lua_deb" "$mod_deb"
    "$out_dir/libnginx-mod-http-moat-dbgsym_${version}_${arch}.ddeb"
    "$out_dir/lua-moat-dbgsym_${version}_${arch}.ddeb")
for deb in "${debs[@]}"; do
    [[ -f "$deb" ]] || die "package-deb.sh did not produce $deb"
done

# --- Guard: one run per machine, and only on a machine without Moat's packages -------------

lock_dir=/run/lock
[[ -w "$lock_dir" ]] || lock_dir="${TMPDIR:-/tmp}"
exec 9>>"$lock_dir/moat-package-test.lock"
if ! flock -w 900 9; then die "another package test still holds the lock after 15 minutes"; fi

status_of() { dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null || echo not-installed; }
for p in "${packages[@]}"; do
    state="$(status_of "$p")"
    [[ "$state" == not-installed ]] ||
        die "$p is already on this machine ($state); this test installs and purges it, which would change that. Purge it first: dpkg --purge $p"
done
# Enables /etc/moat/nginx-moat.conf in the system configuration for one step below.
system_enable=/etc/nginx/conf.d/moat-package-test.conf
for f in /etc/moat "$link" "$link.removed" "$module" /usr/bin/moat /usr/lib/moat "$system_enable"; do
    [[ ! -e "$f" && ! -L "$f" ]] || die "$f exists without Moat's packages; move it away before running this test"
done

system_nginx_t() { as_root "$nginx" -t -q >/dev/null 2>&1; }
system_ok_before=false
if system_nginx_t; then system_ok_before=true; else
    log "note: the system nginx configuration fails nginx -t before the test; those checks are skipped"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/moat-pkgtest.XXXXXX")"
installed=false

cleanup() {
    local rc=$?
    if [[ -f "$tmp/nginx.pid" ]]; then
        stop_nginx || true
    fi
    as_root rm -f "$system_enable"
    if [[ "$installed" == true ]]; then
        log "cleanup: purging ${packages[*]}"
        as_root dpkg --purge "${packages[@]}" >/dev/null 2>&1 || echo "cleanup: dpkg --purge failed" >&2
    fi
    as_root rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dpkg_do ARGS...: dpkg, waiting (up to 2 minutes) while another dpkg or apt holds its lock.
dpkg_do() {
    local out _
    for _ in $(seq 1 60); do
        if out="$(as_root dpkg "$@" 2>&1)"; then
            printf '%s\n' "$out" >"$tmp/dpkg.log"
            return 0
        fi
        if ! grep -q 'lock' <<<"$out"; then
            printf '%s\n' "$out" >&2
            return 1
        fi
        sleep 2
    done
    printf '%s\n' "$out" >&2
    return 1
}

# --- 2. Install ----------------------------------------------------------------------------

log "checking the nginx ABI dependency against the installed nginx"
abi="$(dpkg-deb -f "$mod_deb" Depends | grep -o 'nginx-abi-[0-9.]*-[0-9]*')"
provides="$(dpkg-query -W -f '${Provides}' nginx 2>/dev/null || true)"
check "the module depends on $abi, which the installed nginx provides ($provides)" \
    grep -qw -- "$abi" <<<"$provides"

# The same package built for another nginx ABI: apt must refuse it. A simulation (-s) changes
# nothing on the machine.
other_abi="nginx-abi-0.0.0-0"
mkdir -p "$tmp/other-abi"
dpkg-deb -R "$mod_deb" "$tmp/other-abi/root"
sed -i "s/\b$abi\b/$other_abi/" "$tmp/other-abi/root/DEBIAN/control"
dpkg-deb --root-owner-group -b "$tmp/other-abi/root" "$tmp/other-abi/module.deb" >/dev/null
apt_out="$(as_root apt-get install -s --no-install-recommends "$tmp/other-abi/module.deb" 2>&1)" && apt_status=0 || apt_status=$?
check "apt refuses the module built for $other_abi (exit $apt_status)" \
    bash -c "[ $apt_status -ne 0 ] && grep -q 'Depends: $other_abi' <<<\"\$1\"" _ "$apt_out"
rm -rf "$tmp/other-abi"

log "installing ${packages[*]} with dpkg"
installed=true
dpkg_do -i "${debs[@]}" || die "dpkg -i failed"
for p in "${packages[@]}"; do
    check "$p is installed" test "$(status_of "$p")" = installed
done
check "module installed at $module" test -f "$module"
check "modules-available snippet installed" test -f /usr/share/nginx/modules-available/mod-http-moat.conf
check "module enabled: $link -> modules-available" \
    test "$(readlink "$link")" = /usr/share/nginx/modules-available/mod-http-moat.conf
check "conffiles /etc/moat/main.conf and nginx-moat.conf registered" \
    test "$(dpkg-query -W -f '${Conffiles}' libnginx-mod-http-moat | awk 'NF {print $1}' | sort | tr '\n' ' ')" = \
    "/etc/moat/main.conf /etc/moat/nginx-moat.conf "
check "moat CLI reports the packaged version" test "$(/usr/bin/moat version)" = "moat ${version%-*}"
printf 'GET /search?q=1%%27%%20OR%%20%%271%%27%%3D%%271 HTTP/1.1\r\nHost: example.com\r\n\r\n' >"$tmp/sqli.http"
cli_status=0
/usr/bin/moat check "$tmp/sqli.http" >/dev/null || cli_status=$?
check "moat check exits 2 (blocked) for a SQL injection request (got $cli_status)" test "$cli_status" -eq 2
check "man page installed" test -f /usr/share/man/man1/moat.1.gz
check "libmoat.so and moat.lua installed" test -f /usr/lib/moat/libmoat.so -a -f /usr/share/lua/5.1/moat.lua
if [[ "$system_ok_before" == true ]]; then
    check "system nginx -t passes with the module enabled" system_nginx_t
fi
# has_debug_info BINARY: the dbgsym package holds BINARY's debug information under its build ID.
has_debug_info() {
    local id debug
    id="$(readelf -n "$1" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')"
    debug="/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    [[ -n "$id" && -f "$debug" ]] && readelf -S "$debug" 2>/dev/null | grep -q '\.debug_line'
}
check "installed binaries are stripped" bash -c "! readelf -S '$module' /usr/bin/moat /usr/lib/moat/libmoat.so | grep -q '\.debug_line'"
for binary in "$module" /usr/bin/moat /usr/lib/moat/libmoat.so; do
    check "dbgsym has the debug information of $binary (by build ID)" has_debug_info "$binary"
done

# --- 3. The installed module and Lua binding serving requests ------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
lua_port="$(free_port)"
health_port="$(free_port)"
while [[ "$lua_port" == "$port" ]]; do lua_port="$(free_port)"; done
while [[ "$health_port" == "$port" || "$health_port" == "$lua_port" ]]; do health_port="$(free_port)"; done

# Workers run as nginx's default unprivileged user: the prefix must be readable by it.
chmod 0755 "$tmp"
mkdir -p "$tmp/www"
echo "moat package test" >"$tmp/www/index.html"
chmod 0644 "$tmp/www/index.html"

# The Docker image's runtime files are the ones served below: fail if it gains another.
docker_files="$(sed -n 's|^COPY \(packaging/[^ ]*\) .*|\1|p' Dockerfile | sort | tr '\n' ' ')"
check "the Dockerfile's configuration files are the ones this test serves ($docker_files)" \
    test "$docker_files" = "packaging/docker/default-site.conf packaging/docker/health.conf "

# The Docker image's site and health server, moved to loopback ports and this prefix; fail
# loudly if the substitutions stop matching them.
sed -e "s|listen 127.0.0.1:8081;|listen 127.0.0.1:$health_port;|" \
    packaging/docker/health.conf >"$tmp/health.conf"
grep -q "listen 127.0.0.1:$health_port;" "$tmp/health.conf" ||
    die "packaging/docker/health.conf changed: update the substitution in $0"
sed -e "s|^\( *\)listen 80 default_server;|\1listen 127.0.0.1:$port;|" \
    -e '/listen \[::\]:80 default_server;/d' \
    -e "s|access_log /var/log/nginx/access.log moat;|access_log $tmp/access.log moat;|" \
    -e "s|root /var/www/html;|root $tmp/www;|" \
    packaging/docker/default-site.conf >"$tmp/site.conf"
if grep -v '^ *#' "$tmp/site.conf" | grep -E 'listen|/var/log/nginx|/var/www' | grep -qv "listen 127.0.0.1:$port;"; then
    die "packaging/docker/default-site.conf changed: update the substitutions in $0"
fi

cat >"$tmp/nginx.conf" <<EOF
# The module, loaded the way the system nginx loads it: the installed modules-enabled link.
include $link;
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log notice;
events { worker_connections 64; }

http {
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;

    # The package's http-level example: moat on, /etc/moat/main.conf, log_format moat.
    include /etc/moat/nginx-moat.conf;
    include $tmp/site.conf;
    include $tmp/health.conf;

    # lua-moat: libmoat.so and moat.lua from the package, the same default rules.
    init_by_lua_block {
        require("moat").init{ lib = "/usr/lib/moat/libmoat.so", rules = "/etc/moat/main.conf", mode = "on" }
    }
    server {
        listen 127.0.0.1:$lua_port;
        moat off;
        root $tmp/www;
        access_log $tmp/lua-access.log;
        location / {
            access_by_lua_block { require("moat").protect() }
        }
    }
}
EOF

# stop_nginx: graceful stop of this test's nginx (by its pid file); after 5 s, kills its master
# and the master's workers.
stop_nginx() {
    local pid _
    pid="$(cat "$tmp/nginx.pid" 2>/dev/null)" || return 0
    as_root kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        if ! as_root kill -0 "$pid" 2>/dev/null; then
            as_root rm -f "$tmp/nginx.pid"
            return 0
        fi
        sleep 0.1
    done
    as_root pkill -KILL -P "$pid" 2>/dev/null || true
    as_root kill -KILL "$pid" 2>/dev/null || true
    as_root rm -f "$tmp/nginx.pid"
}

# The image's whole /etc/nginx as the Dockerfile arranges it around Debian's nginx.conf (a copy
# of this machine's, with its /etc/nginx/ paths pointed at the copy): conf.d/moat.conf ->
# /etc/moat/nginx-moat.conf, conf.d/health.conf, the site as sites-enabled/default.
image_etc="$tmp/image-etc-nginx"
cp -a /etc/nginx "$image_etc"
rm -f "$image_etc"/sites-enabled/* "$image_etc/conf.d/moat-package-test.conf"
cp packaging/docker/default-site.conf "$image_etc/sites-enabled/default"
cp packaging/docker/health.conf "$image_etc/conf.d/health.conf"
ln -s /etc/moat/nginx-moat.conf "$image_etc/conf.d/moat.conf"
sed -i "s|/etc/nginx/|$image_etc/|g" "$image_etc/nginx.conf"
if as_root "$nginx" -t -c "$image_etc/nginx.conf" >"$tmp/image-t.log" 2>&1; then
    pass "nginx -t on the Docker image's /etc/nginx layout (Debian nginx.conf + conf.d + the site)"
else
    fail "nginx -t on the Docker image's /etc/nginx layout: $(cat "$tmp/image-t.log")"
fi

log "nginx -t and start on 127.0.0.1:$port (module), :$lua_port (Lua), :$health_port (health)"
if ! as_root "$nginx" -t -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx-t.log" 2>&1; then
    cat "$tmp/nginx-t.log" >&2
    die "nginx -t failed on the test configuration"
fi
pass "nginx -t on a configuration using the installed snippet, /etc/moat and the Docker site"
as_root "$nginx" -p "$tmp" -c "$tmp/nginx.conf" || die "nginx did not start: $(cat "$tmp/error.log" 2>/dev/null)"
for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$health_port/healthz" && break
    sleep 0.1
done

# expect STATUS METHOD PORT PATH DESCRIPTION: one request, its status checked.
expect() {
    local want="$1" method="$2" p="$3" path="$4" what="$5" got
    got="$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "http://127.0.0.1:$p$path")" || got="curl error"
    check "$what: $method $path -> $want (got $got)" test "$got" = "$want"
}
sqli='/index.html?q=1%27%20OR%20%271%27%3D%271'
expect 200 GET "$port" '/index.html?q=blue+shoes' "module: benign request"
expect 403 GET "$port" "$sqli" "module: SQL injection"
expect 403 GET "$port" '/?q=%3Cscript%3Ealert(1)%3C/script%3E' "module: XSS"
expect 403 GET "$port" '/.git/config' "module: default rule 10001 (/etc/moat/main.conf)"
expect 405 PROPFIND "$port" '/' "module: default rule 10003 (method)"
expect 200 GET "$health_port" '/healthz' "the Docker image's health check"
expect 200 GET "$lua_port" '/index.html?q=blue+shoes' "lua-moat: benign request"
expect 403 GET "$lua_port" "$sqli" "lua-moat: SQL injection"
expect 403 GET "$lua_port" '/.git/config' "lua-moat: default rule 10001"

stop_nginx
check "error log has the block lines, with the built-in and default-rule ids" \
    grep -q 'Moat: Access denied with code 403.*\[id "100100"\]' "$tmp/error.log"
check "error log names rule 10001 and rule 10003" \
    bash -c "grep -q '\[id \"10001\"\]' '$tmp/error.log' && grep -q '\[id \"10003\"\]' '$tmp/error.log'"
check "access log (format moat) records the verdicts" \
    bash -c "grep -q 'moat=block score=[0-9]* rules=\"100100' '$tmp/access.log' && grep -q 'moat=allow' '$tmp/access.log'"

# --- 4. Remove, reinstall, purge -----------------------------------------------------------

log "dpkg --remove with Moat still enabled in the system configuration: the package warns"
as_root ln -s /etc/moat/nginx-moat.conf "$system_enable"
if [[ "$system_ok_before" == true ]]; then
    check "system nginx -t passes with /etc/moat/nginx-moat.conf enabled" system_nginx_t
fi
dpkg_do --remove "${packages[@]}" || die "dpkg --remove failed"
check "removal warns that nginx -t fails, with nginx's reason" \
    bash -c "grep -q 'warning: nginx -t fails without Moat' '$tmp/dpkg.log' && grep -q 'unknown directive \"moat\"' '$tmp/dpkg.log'"
as_root rm "$system_enable"

log "after dpkg --remove: module gone, link parked, conffiles kept"
check "module file removed" test ! -e "$module"
check "modules-enabled link parked as .removed (nginx no longer loads it)" \
    bash -c "[ ! -e '$link' ] && [ -L '$link.removed' ]"
check "conffiles kept after remove" test -f /etc/moat/main.conf
if [[ "$system_ok_before" == true ]]; then
    check "system nginx -t passes after remove" system_nginx_t
fi

log "dpkg -i again: the parked link comes back"
dpkg_do -i "${debs[@]}" || die "dpkg -i (reinstall) failed"
check "link restored on reinstall" test -L "$link" -a ! -e "$link.removed"

log "an administrator's disabling survives an upgrade"
as_root rm "$link"
dpkg_do -i "$mod_deb" || die "dpkg -i (upgrade) failed"
check "link stays deleted when the administrator deleted it" test ! -e "$link" -a ! -L "$link"
as_root ln -s /usr/share/nginx/modules-available/mod-http-moat.conf "$link"

log "dpkg --purge: everything gone"
owned="$(dpkg-query -L "${packages[@]}" | sort -u)"
dpkg_do --purge "${packages[@]}" || die "dpkg --purge failed"
installed=false
for p in "${packages[@]}"; do
    check "$p purged" test "$(status_of "$p")" = not-installed
done
left=""
while IFS= read -r f; do
    [[ -z "$f" || -d "$f" ]] && continue
    if [[ -e "$f" || -L "$f" ]]; then left+=" $f"; fi
done <<<"$owned"
check "no file of the packages is left${left:+:$left}" test -z "$left"
check "/etc/moat removed" test ! -e /etc/moat
check "modules-enabled link and .removed gone" bash -c "[ ! -L '$link' ] && [ ! -L '$link.removed' ]"
if [[ "$system_ok_before" == true ]]; then
    check "system nginx -t passes after purge" system_nginx_t
fi

if [[ "$failures" -gt 0 ]]; then
    printf 'package test: %d check(s) failed; logs were in %s\n' "$failures" "$tmp" >&2
    tail -n 20 "$tmp/error.log" >&2 2>/dev/null || true
    exit 1
fi
log "package test passed"
