#!/usr/bin/env bash
# Plain nginx against nginx + Moat on a static file, one worker pinned to core 0 and wrk on
# core 1, measured in one run. Prints requests/s, p50/p99 latency and the worker's CPU µs per
# request (utime+stime from /proc, the robust figure on a shared machine).
# Usage: bench/wrk-static.sh [seconds] [connections]   (needs scripts/build.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SECS="${1:-10}"
CONNS="${2:-32}"
MODULE="$ROOT/target/release/libngx_http_moat_module.so"
[ -f "$MODULE" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
TICKS=$(getconf CLK_TCK)

run_variant() { # name, extra main-context lines, extra http lines
  local name="$1" main_extra="$2" http_extra="$3"
  local dir; dir=$(mktemp -d /tmp/moat-bench.XXXXXX)
  local port=$((20000 + RANDOM % 20000))
  mkdir -p "$dir/html" "$dir/logs"
  printf 'hello\n' > "$dir/html/index.html"
  cat > "$dir/nginx.conf" <<CONF
$main_extra
user root;
worker_processes 1;
worker_cpu_affinity 01;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/cb;
    $http_extra
    server {
        listen 127.0.0.1:$port;
        location / { root $dir/html; }
    }
}
CONF
  /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf"
  sleep 0.3
  local master; master=$(cat "$dir/nginx.pid")
  local worker; worker=$(pgrep -P "$master" | head -1)
  local url="http://127.0.0.1:$port/index.html?page=2&sort=name&q=shoes"
  taskset -c 1 wrk -t1 -c"$CONNS" -d2s -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0' \
    -H 'Accept: text/html' -H 'Cookie: sid=abc123; theme=dark' -H 'Referer: https://example.com/' "$url" >/dev/null
  local before; before=$(awk '{print $14+$15}' "/proc/$worker/stat")
  local out; out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --latency \
    -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0' -H 'Accept: text/html' \
    -H 'Cookie: sid=abc123; theme=dark' -H 'Referer: https://example.com/' "$url")
  local after; after=$(awk '{print $14+$15}' "/proc/$worker/stat")
  local rss; rss=$(awk '/VmRSS/{print $2}' "/proc/$worker/status")
  kill "$master"; sleep 0.3; rm -rf "$dir"
  local reqs; reqs=$(echo "$out" | awk '/requests in/{print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local p50; p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  local cpu_us; cpu_us=$(awk -v t=$((after - before)) -v r="$reqs" -v hz="$TICKS" 'BEGIN{printf "%.1f", t/hz*1e6/r}')
  printf '| %-28s | %10s | %8s | %8s | %12s | %8s |\n' "$name" "$rps" "$p50" "$p99" "$cpu_us" "$((rss / 1024)) MB"
}

echo "wrk: ${SECS}s, ${CONNS} connections, 1 thread on core 1; nginx: 1 worker on core 0; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-28s | %10s | %8s | %8s | %12s | %8s |\n' variant "req/s" p50 p99 "CPU µs/req" "RSS"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "------------" "----------" "----------" "--------------" "----------"
run_variant "plain nginx, static file" "" ""
run_variant "nginx + Moat (moat on)" "load_module $MODULE;" "moat on;"
