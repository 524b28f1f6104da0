#!/bin/sh
# run.sh: `make bench`. Prints the figures the issues ask for.
#   1. VE.Direct parser throughput (MB/s). A peer parser runs side by side when PEER_VEDIRECT
#      names a command that parses the capture files given as arguments and prints one line
#      "<name>: <N> MB/s ..." (the peer is fetched and built by hand, never committed).
#   2. Daemon CPU and memory with 10 emulated VE.Direct devices for BENCH_SECONDS (default 60).
set -eu
# The whole output also goes to build/bench/output.txt; tests/bench/summary.py prints one table
# of the figures from it at the end (the run re-executes itself once under tee for that).
if [ -z "${SITEWATCH_BENCH_LOG:-}" ]; then
    mkdir -p build/bench
    export SITEWATCH_BENCH_LOG=build/bench/output.txt
    rm -f build/bench/status
    { "$0" "$@" 2>&1 && echo 0 > build/bench/status || echo $? > build/bench/status; } |
        tee "$SITEWATCH_BENCH_LOG"
    /usr/bin/python3 tests/bench/summary.py "$SITEWATCH_BENCH_LOG"
    exit "$(cat build/bench/status)"
fi
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
build/sitewatch-emu site --dir "$dir" --bmv 1 --mppt 9 --start-hour 12 > "$dir/emu.out" 2> "$dir/emu.log" &
emu=$!
trap 'kill $emu $daemon 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
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
devices_ok=$(curl -s "http://127.0.0.1:$port/api/v1/devices" | /usr/bin/python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin)["devices"] if d["driver"] == "vedirect" and d["state"] == "ok"))')
awk -v t0="$t0" -v t1="$t1" -v e0="$e0" -v e1="$e1" -v s0="$s0" -v s1="$s1" -v hz="$hz" 'BEGIN {
    printf "daemon CPU: %.2f %% of one core   (emulators: %.2f %%)\n", (t1-t0)/hz/(s1-s0)*100, (e1-e0)/hz/(s1-s0)*100 }'
grep -E '^(RssAnon|VmRSS|VmHWM|Threads)' /proc/$daemon/status | sed 's/^/daemon /'
echo "devices ok: $devices_ok of 10"

echo "== VE.Bus: frame on the pty → point in the store (real driver + runner, MK2 answering at once)"
build/bench/bench_vebus_latency 300 1
build/bench/bench_vebus_latency 300 3
vb_seconds=${VEBUS_BENCH_SECONDS:-20}
for vb_phases in 1 3; do
    echo "== sitewatchd with one emulated VE.Bus system ($vb_phases phase(s), 2400 baud pacing) for ${vb_seconds} s"
    (
        vdir=$(mktemp -d /tmp/sitewatch-bench-vebus-XXXXXX)
        vport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        build/sitewatch-emu vebus --pty "$vdir/multi" --phases "$vb_phases" --start-hour 12 > "$vdir/emu.out" 2> "$vdir/emu.log" &
        vemu=$!
        vdaemon=""
        trap 'kill $vemu $vdaemon 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$vdir"' EXIT
        for _ in $(seq 50); do grep -q '^ready' "$vdir/emu.out" && break; sleep 0.1; done
        printf '[daemon]\nstate_dir = %s/state\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n[device multi]\ndriver = vebus\nport = %s/multi\n' \
            "$vdir" "$vport" "$vdir" > "$vdir/sitewatch.conf"
        build/sitewatchd -c "$vdir/sitewatch.conf" -f 2> "$vdir/daemon.log" &
        vdaemon=$!
        sleep 5
        vticks() { awk '{print $14 + $15}' /proc/$1/stat; }
        t0=$(vticks $vdaemon); s0=$(date +%s.%N)
        sleep "$vb_seconds"
        t1=$(vticks $vdaemon); s1=$(date +%s.%N)
        awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
            printf "daemon CPU: %.2f %% of one core\n", (t1-t0)/hz/(s1-s0)*100 }'
        grep -E '^(VmRSS|VmHWM)' /proc/$vdaemon/status | sed 's/^/daemon /'
        curl -s "http://127.0.0.1:$vport/api/v1/devices" | /usr/bin/python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin)["devices"] if x["name"] == "multi"][0]
print("multi: state %s, %s, %d frames, %d timeouts" % (d["state"], d["product_name"], d["counters"]["frames_ok"], d["counters"]["timeouts"]))'
    )
done

echo "== SunSpec: 100 inverters over Modbus-TCP at 1 Hz, collectd's modbus plugin side by side"
tests/bench/bench_sunspec.sh

echo "== Modbus-TCP server: reads/s of a 50-register block, 1/8/64 clients, vs a bare libmodbus loop and pymodbus"
tests/bench/bench_modbus_server.sh

echo "== SoC engine: replay of real battery monitors, and 30 simulated days"
build/bench/bench_soc "$testdata"

echo "== Alarm engine: 1,000 rules over 5,000 points per tick (goal < 5 ms), and its memory"
build/bench/bench_alarm 1000 5000 300

echo "== RRD history: update cost, bytes written per day (batched and through rrdcached), 1-year query and graph latency"
tests/bench/bench_rrd.sh

echo "== Web console: /api/v1/points requests/s vs nginx serving a static file of the same size; SSE latency with 50 clients"
tests/bench/bench_console.sh
