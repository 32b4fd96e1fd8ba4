#!/usr/bin/env bash
# Starts the demo: Debian's nginx with the Moat module on 127.0.0.1:8080 in front of a small
# backend on 127.0.0.1:8081. `scripts/demo.sh stop` stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/build/demo"
PORT="${MOAT_DEMO_PORT:-8080}"
BACKEND_PORT="${MOAT_DEMO_BACKEND_PORT:-8081}"

stop() {
  [ -f "$DEMO/nginx.pid" ] && kill "$(cat "$DEMO/nginx.pid")" 2>/dev/null || true
  [ -f "$DEMO/backend.pid" ] && kill "$(cat "$DEMO/backend.pid")" 2>/dev/null || true
  rm -f "$DEMO/nginx.pid" "$DEMO/backend.pid"
  sleep 0.3
}

if [ "${1:-start}" = "stop" ]; then stop; echo "demo stopped"; exit 0; fi
stop
mkdir -p "$DEMO/logs"
sed -e "s|@MODULE@|$ROOT/target/release/libngx_http_moat_module.so|" \
    -e "s|@DEMO@|$DEMO|g" -e "s|@PORT@|$PORT|" -e "s|@BACKEND_PORT@|$BACKEND_PORT|" \
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

Stop it with: scripts/demo.sh stop
MSG
for url in "/search?q=shoes" "/search?q=1%27%20OR%20%271%27%3D%271"; do
  printf 'GET %-40s -> %s\n' "$url" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$url")"
done
for xff in 203.0.113.7 2001:db8:1::9 198.18.0.1; do
  printf 'GET / from %-38s -> %s %s\n' "$xff" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $xff" "http://127.0.0.1:$PORT/")" \
    "$(tail -n 1 "$DEMO/logs/access.log" | grep -o 'client=.*')"
done
