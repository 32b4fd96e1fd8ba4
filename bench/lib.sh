# Shared by bench/compare.sh and bench/wrk-geo.sh (sourced): starting one nginx and measuring a
# wrk run by the CPU its single worker used.

TICKS=$(getconf CLK_TCK)

# free_port: a random port in 20000-31999 (below the kernel's ephemeral range, where outgoing
# connections take their local ports) on which nothing listens on 127.0.0.1 now.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
}

# start_nginx_at DIR PORT: starts nginx on DIR/nginx.conf (prefix DIR) and waits until
# 127.0.0.1:PORT answers.
start_nginx_at() {
  local dir="$1" port="$2"
  /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" || return 1
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/index.html" && return 0
    sleep 0.1
  done
  echo "nginx in $dir did not answer on port $port" >&2
  return 1
}

# wrk_measured DIR CONNS WRK-ARGS...: 1 s of warm-up, then wrk for $SECS s (1 thread on core 1)
# against the nginx whose pid file is DIR/nginx.pid. Sets WRK_OUT (wrk's report), WRK_REQS
# (requests completed), WORKER (the worker's pid) and CPU_US (the worker's user + system CPU µs
# per request, from /proc: robust on a shared machine).
wrk_measured() {
  local dir="$1" conns="$2"; shift 2
  WORKER=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
  taskset -c 1 wrk -t1 -c"$conns" -d1s "$@" >/dev/null
  local before after
  before=$(awk '{print $14+$15}' "/proc/$WORKER/stat")
  WRK_OUT=$(taskset -c 1 wrk -t1 -c"$conns" -d"${SECS}s" --latency "$@")
  after=$(awk '{print $14+$15}' "/proc/$WORKER/stat")
  WRK_REQS=$(echo "$WRK_OUT" | awk '/requests in/{print $1}')
  CPU_US=$(awk -v t=$((after - before)) -v r="$WRK_REQS" -v hz="$TICKS" \
    'BEGIN{ if (r > 0) printf "%.1f", t/hz*1e6/r; else print "n/a" }')
}
