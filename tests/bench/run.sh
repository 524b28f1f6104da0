#!/bin/sh
# run.sh: `make bench`. Prints the figures the issues ask for.
#   1. VE.Direct parser throughput (MB/s). A peer parser runs side by side when PEER_VEDIRECT
#      names a command that parses the capture files given as arguments and prints one line
#      "<name>: <N> MB/s ..." (the peer is fetched and built by hand, never committed).
#   2. Daemon CPU and memory with 10 emulated VE.Direct devices for BENCH_SECONDS (default 60).
set -eu
testdata=${SITEWATCH_TESTDATA:-../shared/testdata}
seconds=${BENCH_SECONDS:-60}
echo "== VE.Direct parser throughput"
build/bench/bench_vedirect_parse "$testdata" 64
if [ -n "${PEER_VEDIRECT:-}" ]; then
    $PEER_VEDIRECT "$testdata/vedirect/karioja_bvm702.dump" \
        "$testdata/vedirect/karioja_bluesolar_1.23.dump" \
        "$testdata/vedirect/karioja_smartsolar_1.39.dump"
else
    echo "(no peer: set PEER_VEDIRECT to compare with another parser in the same run)"
fi

echo "== sitewatchd with 10 emulated VE.Direct devices for ${seconds} s"
dir=$(mktemp -d /tmp/sitewatch-bench-XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/sitewatch-emu site --dir "$dir" --bmv 1 --mppt 9 > "$dir/emu.out" 2> "$dir/emu.log" &
emu=$!
trap 'kill $emu $daemon 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
daemon=""
for _ in $(seq 50); do grep -q '^ready site' "$dir/emu.out" && break; sleep 0.1; done
{
    printf '[daemon]\nstate_dir = %s/state\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n' "$dir" "$port"
    for dev in $(sed -n 's|^ready .*/\([^/]*\)$|\1|p' "$dir/emu.out"); do
        printf '[device %s]\ndriver = vedirect\nport = %s/%s\n' "$dev" "$dir" "$dev"
    done
} > "$dir/sitewatch.conf"
build/sitewatchd -c "$dir/sitewatch.conf" -f 2> "$dir/daemon.log" &
daemon=$!
sleep 5   # warm-up: open ports, identify devices, first HEX round
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
t0=$(ticks $daemon); e0=$(ticks $emu); s0=$(date +%s.%N)
sleep "$seconds"
t1=$(ticks $daemon); e1=$(ticks $emu); s1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
devices_ok=$(curl -s "http://127.0.0.1:$port/api/v1/health" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["devices_ok"])')
awk -v t0="$t0" -v t1="$t1" -v e0="$e0" -v e1="$e1" -v s0="$s0" -v s1="$s1" -v hz="$hz" 'BEGIN {
    printf "daemon CPU: %.2f %% of one core   (emulators: %.2f %%)\n", (t1-t0)/hz/(s1-s0)*100, (e1-e0)/hz/(s1-s0)*100 }'
grep -E '^(RssAnon|VmRSS|VmHWM|Threads)' /proc/$daemon/status | sed 's/^/daemon /'
echo "devices ok: $devices_ok of 10"
