#!/usr/bin/env bash
# GeoIP cost per request through nginx: nginx + Moat (moat on, built-in detectors) on a static
# file without GeoIP, with GeoIP for a recurring client (cache hits), and with a new client
# address on every request (X-Forwarded-For from a trusted proxy, random addresses: cache
# misses). The database (written by moat-mmdb) maps every /18 of the unicast IPv4 space to one of
# 20,000 places, so every lookup finds a record. One worker pinned to
# core 0, wrk on core 1; prints requests/s and the worker's CPU µs per request.
# Usage: bench/wrk-geo.sh [seconds]   (needs scripts/build.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SECS="${1:-5}"
MODULE="$ROOT/target/release/libngx_http_moat_module.so"
MMDB="$ROOT/target/release/moat-mmdb"
[ -f "$MODULE" ] && [ -x "$MMDB" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/moat-geo-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK/places.csv" <<'PY'
import sys
# Every /18 of 1.0.0.0-223.255.255.255 (228,352 networks): every client address is found.
with open(sys.argv[1], "w") as f:
    f.write("network,country_code,country_name,city,latitude,longitude,asn,asn_org\n")
    for a in range(1, 224):
        for b in range(256):
            for c in (0, 64, 128, 192):
                p = (a * 1024 + b * 4 + c // 64) % 20000
                f.write(f"{a}.{b}.{c}.0/18,{chr(65 + p % 26)}{chr(65 + p // 26 % 26)},Country {p % 250},"
                        f"City {p},{(p % 180) - 89.5},{(p % 360) - 179.5},{64512 + p % 1000},Net {p % 1000}\n")
PY
"$MMDB" build "$WORK/places.csv" "$WORK/places.mmdb" >/dev/null

cat > "$WORK/random-xff.lua" <<'LUA'
math.randomseed(11)
request = function()
  local ip = string.format("%d.%d.%d.%d", math.random(1, 223), math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format("GET", nil, { ["X-Forwarded-For"] = ip })
end
LUA

run_variant() { # name, http lines, extra wrk arguments
  local name="$1" http_extra="$2"; shift 2
  local dir; dir=$(mktemp -d "$WORK/nginx.XXXXXX")
  local port; port=$(free_port)
  mkdir -p "$dir/html" "$dir/logs"
  printf 'hello\n' > "$dir/html/index.html"
  cat > "$dir/nginx.conf" <<CONF
load_module $MODULE;
user root;
worker_processes 1;
worker_cpu_affinity 01;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/cb;
    moat on;
    $http_extra
    server {
        listen 127.0.0.1:$port;
        location / { root $dir/html; add_header X-Country "\$moat_geo_country"; }
    }
}
CONF
  start_nginx_at "$dir" "$port"
  wrk_measured "$dir" 16 "$@" "http://127.0.0.1:$port/index.html?page=2"
  kill "$(cat "$dir/nginx.pid")"; sleep 0.3
  local rps; rps=$(echo "$WRK_OUT" | awk '/Requests\/sec/{print $2}')
  printf '| %-44s | %10s | %12s |\n' "$name" "$rps" "$CPU_US"
}

printf '| %-44s | %10s | %12s |\n' "variant" "req/s" "CPU µs/req"
printf '|%s|%s|%s|\n' "----------------------------------------------" "------------" "--------------"
run_variant "moat on, no GeoIP" ""
run_variant "GeoIP, one recurring client (cache hits)" "moat_geoip $WORK/places.mmdb;"
run_variant "GeoIP, new client every request (misses)" \
  "moat_geoip $WORK/places.mmdb; moat_trusted_proxies 127.0.0.1;" -s "$WORK/random-xff.lua"
run_variant "trusted proxy, no GeoIP, random XFF" "moat_trusted_proxies 127.0.0.1;" -s "$WORK/random-xff.lua"
