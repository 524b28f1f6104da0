#!/bin/sh
# bench_rrd.sh: the RRD history figures (tests/bench/bench_rrd.c), with a real rrdcached from
# Debian's rrdcached package started here on a unix socket when it is installed. The files live
# under build/ (a real disk: on tmpfs nothing would be written).
set -eu
dir=$(mktemp -d "$PWD/build/bench-rrd-XXXXXX")
cached=""
trap 'if [ -n "$cached" ]; then kill $cached 2>/dev/null || true; wait $cached 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
if command -v rrdcached > /dev/null; then
    mkdir "$dir/journal"
    rrdcached -g -l "unix:$dir/rrdcached.sock" -p "$dir/rrdcached.pid" -j "$dir/journal" \
        -w 3600 -b "$dir" > /dev/null 2>&1 &
    cached=$!
    for _ in $(seq 50); do [ -S "$dir/rrdcached.sock" ] && break; sleep 0.1; done
    build/bench/bench_rrd "$dir" "unix:$dir/rrdcached.sock" "$cached"
else
    build/bench/bench_rrd "$dir"
fi
