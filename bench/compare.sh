#!/usr/bin/env bash
# Moat against ModSecurity, side by side, in one run on one machine.
#
# Variants (each its own nginx, one worker pinned to core 0; wrk pinned to core 1):
#   plain nginx | Moat native, built-in detectors | Moat native + OWASP CRS v4 (PL1, rules alone)
#   | nginx + Lua + Moat (built-in detectors) | ModSecurity-nginx + the same OWASP CRS v4 (PL1)
# Request mixes: benign GET (query string, browser headers) on a static file; 10 KB JSON POST
# and 1 MB multipart upload proxied to a trivial backend in the same nginx; an attack GET.
# For each: requests/s, the worker's CPU µs per request (utime+stime from /proc, robust on a
# shared machine), p50/p99 latency, worker RSS, and ratios against plain nginx and ModSecurity.
# All variants run at once and are measured in turn, mix by mix, for several rounds: a machine
# whose speed drifts during the run (a shared VM) shifts every variant alike, and each cell
# reports its median round (by CPU µs/request) with the range over the rounds.
#
# Usage: bench/compare.sh [seconds per run] [output.md] [rounds]
#        (default 5 s, bench/RESULTS.md, 3 rounds)
# MOAT_BENCH_VARIANTS="plain moat-crs" and MOAT_BENCH_MIXES="get" run a subset (quick A/B checks;
# a ratio whose reference variant did not run reads n/a).
# CRS comes from $MOAT_CRS_DIR or ../shared/crs; installs wrk and ModSecurity-nginx if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SECS="${1:-5}"
OUT="${2:-$ROOT/bench/RESULTS.md}"
ROUNDS="${3:-3}"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

need=()
for p in wrk libnginx-mod-http-modsecurity libnginx-mod-http-lua libnginx-mod-http-ndk; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
MODULE="$ROOT/target/release/libngx_http_moat_module.so"
LIBMOAT="$ROOT/target/release/libmoat.so"
# Always through the build script: a module left over from older sources would be measured.
scripts/build.sh >&2
CRS="${MOAT_CRS_DIR:-$ROOT/../shared/crs}"
[ -d "$CRS/rules" ] || { echo "OWASP CRS not found at $CRS: set MOAT_CRS_DIR" >&2; exit 1; }
CRS="$(cd "$CRS" && pwd)"

WORK=$(mktemp -d /tmp/moat-compare.XXXXXX)
trap 'for p in "$WORK"/*/nginx.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; sleep 0.5; rm -rf "$WORK"' EXIT

# The same CRS, paranoia level 1, anomaly threshold 5, for both engines.
cat > "$WORK/moat-crs.conf" <<EOF
SecRuleEngine On
SecRequestBodyAccess On
Include $CRS/crs-setup.conf.example
Include $CRS/rules/*.conf
EOF
cat > "$WORK/modsec-crs.conf" <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecAuditEngine Off
SecDebugLogLevel 0
SecArgumentSeparator &
SecCookieFormat 0
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
# As modsecurity.conf-recommended: parse JSON and XML bodies (else their fields go uninspected).
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
Include $CRS/crs-setup.conf.example
Include $CRS/rules/*.conf
EOF

# Request bodies and the wrk scripts that send them.
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
items, i = [], 0
while len(json.dumps({"order": {"id": "A-1001", "items": items}})) < 10000:
    items.append({"sku": f"SKU-{i:05}", "name": "Blue cotton shirt size M", "qty": i % 4 + 1,
                  "price": 19.99, "note": "gift wrap please"})
    i += 1
open(f"{work}/body.json", "w").write(json.dumps({"order": {"id": "A-1001", "items": items}}))
b = "----moatbench"
data = ("x" * 1023 + "\n") * 1024
body = (f"--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday photos\r\n"
        f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\n{data}\r\n--{b}--\r\n")
open(f"{work}/body.multipart", "w").write(body)
for name, ctype, path in [("json", "application/json", "/api/orders"),
                          ("upload", f"multipart/form-data; boundary={b}", "/api/upload")]:
    open(f"{work}/{name}.lua", "w").write(f'''
local f = io.open("{work}/body.{'json' if name == 'json' else 'multipart'}", "rb")
wrk.method = "POST"
wrk.path = "{path}"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{ctype}"
''')
PY

# A browser names the site in Host; wrk would send the numeric 127.0.0.1:port, which CRS flags
# (920350, a warning logged on every request by both WAFs) and no benign browser request carries.
HEADERS=(-H 'Host: shop.example.com'
         -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36'
         -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
         -H 'Accept-Language: en-US,en;q=0.9' -H 'Cookie: sid=9f8e7d6c5b4a3f2e1d0c; theme=dark'
         -H 'Referer: https://shop.example.com/')

start_nginx() { # dir, main-context lines, http-context lines, server-context lines
  local dir="$1" main="$2" http="$3" server="$4"
  local port backend
  port=$(free_port)
  backend=$(free_port)
  mkdir -p "$dir/html" "$dir/logs"
  printf 'hello\n' > "$dir/html/index.html"
  cat > "$dir/nginx.conf" <<CONF
$main
user root;
worker_processes 1;
worker_cpu_affinity 01;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/cb;
    client_max_body_size 16m;
    client_body_buffer_size 16k;
    $http
    server {
        listen 127.0.0.1:$backend;
        location / { return 204; }
    }
    server {
        listen 127.0.0.1:$port;
        $server
        location / { root $dir/html; }
        location /api/ { proxy_pass http://127.0.0.1:$backend; }
    }
}
CONF
  start_nginx_at "$dir" "$port" || return 1
  echo "$port"
}

# Per variant and mix, one entry per round (space-separated); RSS keeps the largest.
declare -A RPS CPU P50 P99 RSS NON2XX FAILOPEN PORT
run_mix() { # variant, dir, port, mix
  local v="$1" dir="$2" port="$3" mix="$4" conns=16 args=()
  case "$mix" in
    get) args=("${HEADERS[@]}" "http://127.0.0.1:$port/index.html?category=shirts&page=2&sort=price") ;;
    attack) args=("${HEADERS[@]}" "http://127.0.0.1:$port/index.html?category=shirts%27%20UNION%20SELECT%20password%20FROM%20users--") ;;
    json) conns=8; args=("${HEADERS[@]}" -s "$WORK/json.lua" "http://127.0.0.1:$port") ;;
    upload) conns=2; args=(-H 'Host: shop.example.com' -s "$WORK/upload.lua" "http://127.0.0.1:$port") ;;
  esac
  wrk_measured "$dir" "$conns" "${args[@]}"
  local out="$WRK_OUT" rss
  RPS[$v,$mix]+="$(echo "$out" | awk '/Requests\/sec/{printf "%.0f", $2}') "
  P50[$v,$mix]+="$(echo "$out" | awk '$1=="50%"{print $2}') "
  P99[$v,$mix]+="$(echo "$out" | awk '$1=="99%"{print $2}') "
  NON2XX[$v,$mix]+="$(echo "$out" | awk '/Non-2xx/{print $NF}' | grep . || echo 0) "
  CPU[$v,$mix]+="$CPU_US "
  rss=$(awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$WORKER/status")
  [ "${RSS[$v,$mix]:-0}" -ge "$rss" ] || RSS[$v,$mix]=$rss
}

# median_round LIST: the (0-based) round whose value is the median of LIST (the lower middle
# one for an even count).
median_round() {
  echo "$1" | tr ' ' '\n' | grep . | awk '{print NR-1, $1}' | sort -k2,2g \
    | awk '{r[NR]=$1} END{print r[int((NR+1)/2)]}'
}
# nth LIST N: the N-th (0-based) entry of LIST.
nth() { echo "$1" | awk -v n="$2" '{print $(n+1)}'; }
# range LIST: "min–max" of LIST.
range() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk 'NR==1{a=$1} {b=$1} END{print a "–" b}'; }

VARIANTS=(plain moat moat-crs lua modsec-crs)
[ -z "${MOAT_BENCH_VARIANTS:-}" ] || read -r -a VARIANTS <<< "$MOAT_BENCH_VARIANTS"
declare -A LABEL=(
  [plain]="plain nginx"
  [moat]="Moat native, built-in detectors"
  [moat-crs]="Moat native + OWASP CRS v4 PL1"
  [lua]="nginx + Lua + Moat (built-in)"
  [modsec-crs]="ModSecurity-nginx + OWASP CRS v4 PL1"
)
MIXES=(get json upload attack)
[ -z "${MOAT_BENCH_MIXES:-}" ] || read -r -a MIXES <<< "$MOAT_BENCH_MIXES"
declare -A MIXLABEL=([get]="benign GET" [json]="10 KB JSON POST" [upload]="1 MB upload" [attack]="attack GET")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

for v in "${VARIANTS[@]}"; do
  dir="$WORK/$v"; mkdir -p "$dir"
  case "$v" in
    plain) port=$(start_nginx "$dir" "" "" "") ;;
    moat) port=$(start_nginx "$dir" "load_module $MODULE;" "moat on;" "") ;;
    moat-crs) port=$(start_nginx "$dir" "load_module $MODULE;" \
      "moat on; moat_detectors off; moat_rules_file $WORK/moat-crs.conf; moat_time_budget 200ms; moat_body_limit 2m;" "") ;;
    lua) port=$(start_nginx "$dir" \
      "load_module /usr/lib/nginx/modules/ndk_http_module.so; load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;" \
      "lua_package_path \"$ROOT/lua/?.lua;;\"; init_by_lua_block { require(\"moat\").init{ lib = \"$LIBMOAT\", mode = \"on\" } }" \
      "access_by_lua_block { require(\"moat\").protect() }") ;;
    modsec-crs) port=$(start_nginx "$dir" "load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;" \
      "modsecurity on; modsecurity_rules_file $WORK/modsec-crs.conf;" "") ;;
  esac
  [ -n "$port" ] || { echo "could not start the $v variant (see $dir/logs/error.log)" >&2; exit 1; }
  echo "==> $v on port $port" >&2
  PORT[$v]=$port
done
for round in $(seq "$ROUNDS"); do
  for m in "${MIXES[@]}"; do
    echo "==> round $round/$ROUNDS: ${MIXLABEL[$m]}" >&2
    for v in "${VARIANTS[@]}"; do run_mix "$v" "$WORK/$v" "${PORT[$v]}" "$m"; done
  done
done
for v in "${VARIANTS[@]}"; do
  FAILOPEN[$v]=$(grep -c "Inspection incomplete" "$WORK/$v/logs/error.log" || true)
done
# Each cell: its median round's figures.
declare -A MED
for v in "${VARIANTS[@]}"; do
  for m in "${MIXES[@]}"; do MED[$v,$m]=$(median_round "${CPU[$v,$m]}"); done
done
cell() { nth "$1" "${MED[$2,$3]}"; } # cell LIST variant mix

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a != "") printf "%.2f", a/b; else print "n/a" }'; }
{
  echo "# Moat against ModSecurity, side by side"
  echo
  echo "Generated by \`bench/compare.sh $SECS $(basename "$OUT") $ROUNDS\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB;"
  echo "$(/usr/sbin/nginx -v 2>&1 | sed 's/nginx version: //'), libmodsecurity $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null),"
  echo "OWASP CRS from \`$CRS\` (paranoia level 1, threshold 5) for both WAFs. One nginx worker pinned to core 0,"
  echo "wrk (1 thread) on core 1, ${SECS} s per run after 1 s of warm-up; 16 connections (GET), 8 (JSON), 2 (upload)."
  echo "All variants run at once and are measured in turn, mix by mix, in $ROUNDS rounds; each row shows the"
  echo "round with the median CPU µs/request for that variant and request (the range over all rounds beside it),"
  echo "so a machine whose speed drifts during the run moves every variant alike."
  echo "Every request names the site (\`Host: shop.example.com\`); the GETs and the JSON POST carry a browser's headers."
  echo "Moat + CRS runs the rule set alone (\`moat_detectors off\`), as ModSecurity does; with the built-in detectors"
  echo "next to it, add about what the built-in variant costs over plain nginx."
  echo "Load average before the run: $LOAD_BEFORE (other work on the machine inflates latency more than CPU µs/request)."
  echo
  echo "| variant | request | req/s | CPU µs/req | CPU µs/req, all rounds | p50 | p99 | worker RSS | non-2xx | throughput vs plain | throughput vs ModSecurity |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for m in "${MIXES[@]}"; do
    for v in "${VARIANTS[@]}"; do
      rps=$(cell "${RPS[$v,$m]}" "$v" "$m")
      echo "| ${LABEL[$v]} | ${MIXLABEL[$m]} | $rps | $(cell "${CPU[$v,$m]}" "$v" "$m") | $(range "${CPU[$v,$m]}") | $(cell "${P50[$v,$m]}" "$v" "$m") | $(cell "${P99[$v,$m]}" "$v" "$m") | ${RSS[$v,$m]} MB | $(cell "${NON2XX[$v,$m]}" "$v" "$m") | $(ratio "$rps" "$(cell "${RPS[plain,$m]}" plain "$m")") | $(ratio "$rps" "$(cell "${RPS[modsec-crs,$m]}" modsec-crs "$m")") |"
    done
  done
  echo
  echo "non-2xx: responses that were not 2xx/3xx (blocks: every attack GET should be one for the WAF variants)."
  echo "Fail-opens logged by Moat during the run: $(for v in moat moat-crs lua; do [ -n "${PORT[$v]:-}" ] || continue; printf '%s %s; ' "${LABEL[$v]}" "${FAILOPEN[$v]:-0}"; done)"
} > "$OUT"
cat "$OUT"
