#!/usr/bin/env bash
# Starts the demo: Debian's nginx with the Moat module on 127.0.0.1:8080 in front of a small
# backend on 127.0.0.1:8081, streaming every decision to a private ClickHouse on 127.0.0.1:18123
# (schema applied with `moat schema`). `scripts/demo.sh stop` stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/build/demo"
PORT="${MOAT_DEMO_PORT:-8080}"
BACKEND_PORT="${MOAT_DEMO_BACKEND_PORT:-8081}"
CH_PORT="${MOAT_DEMO_CLICKHOUSE_PORT:-18123}"
CH="$DEMO/clickhouse"

stop() {
  [ -f "$DEMO/nginx.pid" ] && kill "$(cat "$DEMO/nginx.pid")" 2>/dev/null || true
  [ -f "$DEMO/backend.pid" ] && kill "$(cat "$DEMO/backend.pid")" 2>/dev/null || true
  sleep 0.5   # nginx's workers flush their queued events to ClickHouse as they exit
  [ -f "$DEMO/clickhouse.pid" ] && kill "$(cat "$DEMO/clickhouse.pid")" 2>/dev/null || true
  rm -f "$DEMO/nginx.pid" "$DEMO/backend.pid" "$DEMO/clickhouse.pid"
  sleep 0.5
}

# A private ClickHouse (Debian's clickhouse-server, not the system service) for the events.
start_clickhouse() {
  mkdir -p "$CH/logs" "$CH/data" "$CH/tmp"
  cat > "$CH/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$CH/logs/server.log</log><errorlog>$CH/logs/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_PORT</http_port>
  <path>$CH/data/</path>
  <tmp_path>$CH/tmp/</tmp_path>
  <mark_cache_size>67108864</mark_cache_size>
  <users_config>config.xml</users_config>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <users><default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default/></quotas>
</yandex>
XML
  (cd "$CH" && nohup /usr/sbin/clickhouse-server --config-file="$CH/config.xml" >"$CH/logs/stdout.log" 2>&1 & echo $! > "$DEMO/clickhouse.pid")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$CH_PORT/ping" >/dev/null 2>&1 && break
    sleep 0.1
  done
  target/release/moat schema "http://127.0.0.1:$CH_PORT" database=moat
}

if [ "${1:-start}" = "stop" ]; then stop; echo "demo stopped"; exit 0; fi
stop
mkdir -p "$DEMO/logs"
start_clickhouse
sed -e "s|@MODULE@|$ROOT/target/release/libngx_http_moat_module.so|" \
    -e "s|@DEMO@|$DEMO|g" -e "s|@PORT@|$PORT|" -e "s|@BACKEND_PORT@|$BACKEND_PORT|" \
    -e "s|@CLICKHOUSE_PORT@|$CH_PORT|" \
    nginx-conf/demo.conf > "$DEMO/nginx.conf"

target/release/moat-mmdb build geoip/data/test-places.csv "$DEMO/places.mmdb" >/dev/null

nohup python3 scripts/demo_backend.py 127.0.0.1 "$BACKEND_PORT" >"$DEMO/logs/backend.log" 2>&1 &
echo $! > "$DEMO/backend.pid"
/usr/sbin/nginx -t -p "$DEMO" -c "$DEMO/nginx.conf"
/usr/sbin/nginx -p "$DEMO" -c "$DEMO/nginx.conf"
sleep 0.5

cat <<MSG

Moat demo running: nginx + Moat on http://127.0.0.1:$PORT -> backend on 127.0.0.1:$BACKEND_PORT
Logs: $DEMO/logs/error.log (ModSecurity-style block lines), $DEMO/logs/access.log (verdicts)

Try:
  curl -i 'http://127.0.0.1:$PORT/search?q=shoes'                          # passes (200)
  curl -i 'http://127.0.0.1:$PORT/search?q=1%27%20OR%20%271%27%3D%271'     # SQL injection: 403
  curl -i 'http://127.0.0.1:$PORT/?q=%3Cscript%3Ealert(1)%3C/script%3E'    # XSS: 403
  curl -i -d 'file=../../etc/passwd' http://127.0.0.1:$PORT/download         # path traversal: 403
  curl -i 'http://127.0.0.1:$PORT/detect/?q=%3Cscript%3E'                  # detect-only: 200, logged
  curl -s 'http://[::1]:$PORT/'                                            # GeoIP: IPv6 client, "JP Tokyo"
  curl -s -H 'X-Forwarded-For: 203.0.113.7' http://127.0.0.1:$PORT/         # behind the trusted proxy: "AU Sydney"
  curl -i -H 'X-Forwarded-For: 198.18.0.1' http://127.0.0.1:$PORT/          # moat_geo_deny RU: 403
  curl -i -H 'X-Forwarded-For: 192.0.2.1' http://127.0.0.1:$PORT/nl-only/   # moat_geo_allow NL: 200 (others 403)
  tail -n 3 $DEMO/logs/access.log                                          # client=... geo=AU/"Sydney"/...
  tail -n 3 $DEMO/logs/error.log
  curl -s http://127.0.0.1:$PORT/metrics | grep '^moat_requests_total'      # Prometheus metrics

Every decision is in ClickHouse (sent within a second):
  curl 'http://127.0.0.1:$CH_PORT/?query=SELECT+time,action,status,uri,rule_ids+FROM+moat.events+ORDER+BY+time+DESC+LIMIT+5'
  curl 'http://127.0.0.1:$CH_PORT/?query=SELECT+minute,action,sum(requests)+FROM+moat.events_by_minute+GROUP+BY+minute,action+ORDER+BY+minute'

Stop it with: scripts/demo.sh stop
MSG
for url in "/search?q=shoes" "/search?q=1%27%20OR%20%271%27%3D%271"; do
  printf 'GET %-40s -> %s\n' "$url" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$url")"
done
for xff in 203.0.113.7 2001:db8:1::9 198.18.0.1; do
  printf 'GET / from %-38s -> %s %s\n' "$xff" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $xff" "http://127.0.0.1:$PORT/")" \
    "$(tail -n 1 "$DEMO/logs/access.log" | grep -o 'client=.*')"
done
