#!/bin/sh
# bench_console.sh: the console's HTTP server. GET /api/v1/points requests/s (wrk), nginx serving
# a static file of the same size in the same run, and SSE latency with 50 clients. wrk and nginx
# are bench-only: installed from Debian on demand, never build or test dependencies.
set -eu
secs=${BENCH_CONSOLE_SECONDS:-10}
need() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return 0
    echo "(installing $1 from Debian for this benchmark)"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$1" \
        > /dev/null
}
need wrk
need nginx-light
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d /tmp/sitewatch-bench-console-XXXXXX)
port=$(freeport)
nport=$(freeport)
emu="" daemon="" nginx=""
trap 'kill $emu $daemon $nginx 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
build/sitewatch-emu site --dir "$dir" --start-hour 12 > "$dir/emu.out" 2> "$dir/emu.log" &
emu=$!
for _ in $(seq 50); do grep -q '^ready site' "$dir/emu.out" && break; sleep 0.1; done
printf '[daemon]\nstate_dir = %s/state\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n' \
    "$dir" "$port" > "$dir/sitewatch.conf"
for d in bmv mppt1 mppt2; do
    printf '[device %s]\ndriver = vedirect\nport = %s/%s\n' "$d" "$dir" "$d" >> "$dir/sitewatch.conf"
done
build/sitewatchd -c "$dir/sitewatch.conf" -f 2> "$dir/daemon.log" &
daemon=$!
sleep 4
size=$(curl -s "http://127.0.0.1:$port/api/v1/points" | wc -c)
points=$(curl -s "http://127.0.0.1:$port/api/v1/health" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["points"])')
mkdir -p "$dir/www" "$dir/nginx"
head -c "$size" /dev/zero | tr '\0' 'x' > "$dir/www/points.json"
cat > "$dir/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/nginx; proxy_temp_path $dir/nginx; fastcgi_temp_path $dir/nginx;
    uwsgi_temp_path $dir/nginx; scgi_temp_path $dir/nginx;
    server { listen 127.0.0.1:$nport; root $dir/www; }
}
CONF
/usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir/nginx" &
nginx=$!
sleep 1
rate() { wrk -t2 -c32 -d"${secs}s" "$1" | awk '/Requests\/sec/ {r=$2} /Latency/ {l=$2} END {printf "%s req/s (mean latency %s)", r, l}'; }
echo "GET /api/v1/points ($points points, $size bytes, 32 connections, ${secs} s):"
echo "  sitewatchd          $(rate "http://127.0.0.1:$port/api/v1/points")"
echo "  nginx, static file  $(rate "http://127.0.0.1:$nport/points.json")"
echo "  sitewatchd, a static console file (app.js): $(rate "http://127.0.0.1:$port/app.js")"
/usr/bin/python3 tests/bench/sse_latency.py 127.0.0.1 "$port" 50 "$secs"
grep -E '^(VmRSS|VmHWM|Threads)' /proc/$daemon/status | tr '\n' ' ' | sed 's/^/daemon after the runs: /'
echo
