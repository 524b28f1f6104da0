#!/bin/sh
# bench_sunspec.sh: 100 emulated SunSpec inverters (4 emulators x 25 unit ids, Fronius int+SF:
# models 101 and 160 = 102 registers per poll) polled at 1 Hz by sitewatchd, and by collectd's
# modbus plugin side by side in the same run. Prints CPU %, RSS, poll-cycle jitter, and the cost
# per register polled of each. collectd (Debian collectd-core) is a bench-only tool, installed
# with apt-get on demand. SUNSPEC_BENCH_SECONDS (default 30) sets the measuring window.
set -eu
seconds=${SUNSPEC_BENCH_SECONDS:-30}
emu=${SITEWATCH_EMU:-build/sitewatch-emu}
dir=$(mktemp -d /tmp/sitewatch-bench-sunspec-XXXXXX)
pids=""
trap 'kill $pids 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
# registers the emulators served so far (SIGUSR2 makes each log its counters)
served() {
    kill -USR2 $emus
    sleep 0.3
    for k in 1 2 3 4; do sed -n 's/.*served [0-9]* requests, \([0-9]*\) registers.*/\1/p' "$dir/emu$k.log" | tail -n 1; done |
        awk '{s += $1} END {print s + 0}'
}

if [ ! -x /usr/sbin/collectd ] || [ ! -e /usr/lib/collectd/modbus.so ]; then
    echo "(installing collectd-core with apt-get for the side-by-side run)"
    if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    DEBIAN_FRONTEND=noninteractive $apt_get install -y --no-install-recommends collectd-core \
        > "$dir/apt.log" 2>&1 || echo "(collectd-core could not be installed: sitewatchd alone)"
fi

# 4 emulators, 25 inverters (unit ids 1..25) each, at noon
ports=""
emus=""
for k in 1 2 3 4; do
    $emu sunspec --listen 127.0.0.1:0 --model fronius-int --units 1-25 \
        --start-hour 12 > "$dir/emu$k.out" 2> "$dir/emu$k.log" &
    emus="$emus $!"
    pids="$pids $!"
done
for k in 1 2 3 4; do
    for _ in $(seq 50); do grep -q '^ready' "$dir/emu$k.out" && break; sleep 0.1; done
    ports="$ports $(sed -n 's/^ready .*://p' "$dir/emu$k.out")"
done

hport=$(freeport)
{
    printf '[daemon]\nstate_dir = %s/state\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n' "$dir" "$hport"
    k=0
    for p in $ports; do
        k=$((k + 1))
        for u in $(seq 25); do
            printf '[device inv%d_%d]\ndriver = sunspec\nhost = 127.0.0.1\nport = %s\nunit = %d\n' "$k" "$u" "$p" "$u"
        done
    done
} > "$dir/sitewatch.conf"

# collectd polls the same inverters (same registers: model 101 at 40069 and 160 at 40121, read
# as the uint16 blocks sitewatchd reads: 102 registers per inverter, in the fewest Data items
# collectd allows: one register per Data).
have_collectd=no
if [ -x /usr/sbin/collectd ] && [ -e /usr/lib/collectd/modbus.so ]; then
    have_collectd=yes
    {
        printf 'Interval 1\nReadThreads 8\nBaseDir "%s"\nPIDFile "%s/collectd.pid"\nPluginDir "/usr/lib/collectd"\nTypesDB "/usr/share/collectd/types.db"\n' "$dir" "$dir"
        printf 'LoadPlugin modbus\n<Plugin modbus>\n'
        r=40069
        while [ $r -lt 40171 ]; do
            printf '  <Data "r%d">\n    RegisterBase %d\n    RegisterType Uint16\n    Type gauge\n    Instance "r%d"\n  </Data>\n' $r $r $r
            r=$((r + 1))
        done
        k=0
        for p in $ports; do
            k=$((k + 1))
            for u in $(seq 25); do
                printf '  <Host "inv%d_%d">\n    Address "127.0.0.1"\n    Port "%s"\n    Interval 1\n    <Slave %d>\n      Instance "inv%d_%d"\n' "$k" "$u" "$p" "$u" "$k" "$u"
                r=40069
                while [ $r -lt 40171 ]; do printf '      Collect "r%d"\n' $r; r=$((r + 1)); done
                printf '    </Slave>\n  </Host>\n'
            done
        done
        printf '</Plugin>\n'
    } > "$dir/collectd.conf"
fi

# the daemon's own footprint (libraries, store, HTTP) with no device, to tell the per-device cost
printf '[daemon]\nstate_dir = %s/state0\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n' "$dir" "$(freeport)" > "$dir/empty.conf"
build/sitewatchd -c "$dir/empty.conf" -f 2> "$dir/daemon0.log" &
d0=$!
sleep 2
rss0=$(awk '/^VmRSS/ {print $2}' /proc/$d0/status)
kill $d0
wait $d0 2>/dev/null || true

build/sitewatchd -c "$dir/sitewatch.conf" -f 2> "$dir/daemon.log" &
daemon=$!
pids="$pids $daemon"
collectd=""
if [ $have_collectd = yes ]; then
    /usr/sbin/collectd -f -C "$dir/collectd.conf" > "$dir/collectd.log" 2>&1 &
    collectd=$!
    pids="$pids $collectd"
fi
sleep 8 # warm-up: connect, discover, identify 100 inverters

echo "== sitewatchd polling 100 SunSpec inverters at 1 Hz for ${seconds} s (102 registers each)"
g0=$(served)
t0=$(ticks $daemon); s0=$(date +%s.%N)
[ -n "$collectd" ] && c0=$(ticks $collectd)
f0=$(curl -s "http://127.0.0.1:$hport/api/v1/devices" | /usr/bin/python3 -c 'import json,sys; print(sum(d["counters"]["frames_ok"] for d in json.load(sys.stdin)["devices"]))')
sleep "$seconds"
t1=$(ticks $daemon); s1=$(date +%s.%N)
[ -n "$collectd" ] && c1=$(ticks $collectd)
g1=$(served)
f1=$(curl -s "http://127.0.0.1:$hport/api/v1/devices" | /usr/bin/python3 -c 'import json,sys; print(sum(d["counters"]["frames_ok"] for d in json.load(sys.stdin)["devices"]))')
hz=$(getconf CLK_TCK)
rss=$(awk '/^VmRSS/ {print $2}' /proc/$daemon/status)
echo "sitewatchd RSS with no device: $rss0 kB; with 100 inverters: $rss kB ($(( (rss - rss0) / 100 )) kB per inverter)"
awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v hz="$hz" -v f0="$f0" -v f1="$f1" -v rss="$rss" 'BEGIN {
    el = s1 - s0; cpu = (t1-t0)/hz/el*100; regs = (f1-f0)*102/el
    printf "sitewatchd: CPU %.2f %% of one core, RSS %d kB, %.1f polls/s, %.0f registers/s\n", cpu, rss, (f1-f0)/el, regs
    printf "sitewatchd: %.3f %% CPU and %.1f kB RSS per 1000 registers/s\n", cpu/regs*1000, rss/regs*1000 }'
grep -E '^(VmHWM|Threads)' /proc/$daemon/status | sed 's/^/sitewatchd /'
curl -s "http://127.0.0.1:$hport/api/v1/devices" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["devices"]; print("inverters ok: %d of 100" % sum(x["driver"] == "sunspec" and x["state"] == "ok" for x in d))'

if [ -n "$collectd" ]; then
    crss=$(awk '/^VmRSS/ {print $2}' /proc/$collectd/status)
    # collectd reads one register per request; what it got = what the emulators served minus
    # what sitewatchd read (102 registers per poll)
    awk -v t0="$c0" -v t1="$c1" -v s0="$s0" -v s1="$s1" -v hz="$hz" -v rss="$crss" -v st0="$t0" -v st1="$t1" -v srss="$rss" -v f0="$f0" -v f1="$f1" -v g0="$g0" -v g1="$g1" 'BEGIN {
        el = s1 - s0; cpu = (t1-t0)/hz/el*100
        scpu = (st1-st0)/hz/el*100; sregs = (f1-f0)*102/el
        regs = (g1 - g0)/el - sregs; if (regs < 1) regs = 1
        printf "collectd modbus: CPU %.2f %% of one core, RSS %d kB, %.0f registers/s (of 10200 asked)\n", cpu, rss, regs
        printf "collectd modbus: %.3f %% CPU and %.1f kB RSS per 1000 registers/s\n", cpu/regs*1000, rss/regs*1000
        if (cpu > 0 && sregs > 0)
            printf "ratio sitewatchd / collectd per register polled: CPU %.3f, memory %.3f\n", (scpu/sregs)/(cpu/regs), (srss/sregs)/(rss/regs) }'
    grep -i "error\|failed" "$dir/collectd.log" | sort | uniq -c | head -n 3 | sed 's/^/collectd log: /'
fi

if [ -n "$collectd" ]; then
    kill "$collectd" 2>/dev/null || true # jitter of sitewatchd alone: collectd floods the emulators
    wait "$collectd" 2>/dev/null || true
fi
echo "== poll-cycle jitter: interval between two updates of Ac/Power, 10 inverters, 20 s"
/usr/bin/python3 - "$hport" <<'PY'
import json, statistics, sys, time, urllib.request
port = sys.argv[1]
keys = ["inv%d_%d/Ac/Power" % (1 + i % 4, 1 + i * 2) for i in range(10)]
last, gaps = {}, []
end = time.monotonic() + 20
while time.monotonic() < end:
    for k in keys:
        with urllib.request.urlopen("http://127.0.0.1:%s/api/v1/points/%s" % (port, k)) as r:
            ts = json.load(r)["ts"]
        if k in last and ts != last[k]:
            gaps.append(ts - last[k])
        last[k] = ts
    time.sleep(0.1)
if gaps:
    dev = [abs(g - 1000) for g in gaps]
    print("%d intervals: mean %.1f ms, stdev %.1f ms, max |interval - 1000| %d ms, p99 %d ms" % (
        len(gaps), statistics.mean(gaps), statistics.pstdev(gaps), max(dev),
        sorted(dev)[int(len(dev) * 0.99) - 1]))
PY
