#!/bin/sh
# bench_modbus_server.sh: Modbus-TCP server throughput (called by tests/bench/run.sh).
# Reads/s of a 50-register block (unit 100, registers 800..849: system values, live from the store)
# with 1, 8 and 64 clients of build/bench/mb_load (a C libmodbus client on this machine), and the
# failed reads, for: sitewatchd serving the emulated demo site; mb_ceiling, a bare libmodbus
# select() loop serving a static mapping (the practical ceiling of the library); the pymodbus
# server (Debian python3-pymodbus, installed here on demand with apt-get: it is a benchmark peer,
# not a build or test dependency). MB_BENCH_SECONDS (default 5) per run.
set -eu
seconds=${MB_BENCH_SECONDS:-5}
py=/usr/bin/python3
dir=$(mktemp -d /tmp/sitewatch-mbbench-XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
freeport() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() { for _ in $(seq 100); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run_peer() { # name port
    for n in 1 8 64; do
        printf '%-10s %3d clients: ' "$1" "$n"
        build/bench/mb_load load 127.0.0.1 "$2" 100 800 50 "$n" "$seconds"
    done
}

# sitewatchd with the demo site
build/sitewatch-emu site --dir "$dir" --start-hour 12 > "$dir/emu.out" 2> "$dir/emu.log" &
pids="$pids $!"
waitfor '^ready site' "$dir/emu.out"
hport=$(freeport)
mport=$(freeport)
{
    printf '[daemon]\nstate_dir = %s/state\nlog_level = warning\n[http]\nlisten = 127.0.0.1:%s\nweb_root = web\n' "$dir" "$hport"
    printf '[modbus_server]\nlisten = 127.0.0.1:%s\nmap = etc/modbus-map.csv\n' "$mport"
    for dev in bmv mppt1 mppt2; do printf '[device %s]\ndriver = vedirect\nport = %s/%s\n' "$dev" "$dir" "$dev"; done
} > "$dir/sitewatch.conf"
build/sitewatchd -c "$dir/sitewatch.conf" -f 2> "$dir/daemon.log" &
pids="$pids $!"
sleep 4
run_peer sitewatchd "$mport"

cport=$(freeport)
build/bench/mb_ceiling "$cport" > "$dir/ceiling.out" &
pids="$pids $!"
waitfor '^ready' "$dir/ceiling.out"
run_peer ceiling "$cport"

if ! $py -c 'import pymodbus, serial_asyncio' 2>/dev/null; then
    echo "(installing the pymodbus peer: apt-get install python3-pymodbus python3-serial-asyncio)"
    apt-get install -y -q python3-pymodbus python3-serial-asyncio > "$dir/apt.log" 2>&1 ||
        echo "(could not install python3-pymodbus; see apt-get)"
fi
if $py -c 'import pymodbus, serial_asyncio' 2>/dev/null; then
    pport=$(freeport)
    $py tests/bench/mb_pymodbus.py "$pport" > "$dir/pymodbus.out" 2> "$dir/pymodbus.log" &
    pids="$pids $!"
    waitfor '^ready' "$dir/pymodbus.out"
    run_peer pymodbus "$pport"
fi
