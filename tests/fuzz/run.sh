#!/bin/sh
# run.sh SECONDS: runs every fuzz target for SECONDS on its corpus (seeded from ../shared/testdata,
# tests/fuzz/seeds/<target>/ and tests/fuzz/regressions/<target>/), then prints executions and
# coverage per target. Each run's full log is kept as build/fuzz/logs/<target>-<UTC time>.log
# (the last FUZZ_KEEP_LOGS per target, default 20). A crash leaves its input under
# build/fuzz/crashes/<target>/, prints the sanitizer's report and fails the run.
set -eu
seconds=${1:-600}
testdata=${SITEWATCH_TESTDATA:-../shared/testdata}
keep=${FUZZ_KEEP_LOGS:-20}
logs=build/fuzz/logs
mkdir -p "$logs"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
fail=0
reports=""
printf '%-16s %10s %8s %8s %s\n' TARGET EXECS COV FEATURES RESULT
for bin in build/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    corpus=build/fuzz/corpus/$t
    crashes=build/fuzz/crashes/$t
    mkdir -p "$corpus" "$crashes"
    case $t in
        fuzz_vedirect) seeds="$testdata/vedirect" ;;
        fuzz_conf) seeds="etc" ;;
        *) seeds="tests/fuzz/seeds/$t" ;;
    esac
    for f in $(find $seeds -maxdepth 1 -type f 2>/dev/null) $(find tests/fuzz/seeds/$t \
        tests/fuzz/regressions/$t -type f 2>/dev/null); do
        cp -n "$f" "$corpus/" 2>/dev/null || true
    done
    # never overwrite an earlier log (two runs in one second get a counter)
    log=$logs/$t-$stamp.log
    k=1
    while [ -e "$log" ]; do
        log=$logs/$t-$stamp-$k.log
        k=$((k + 1))
    done
    if "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" > "$log" 2>&1; then
        result=ok
    else
        result="CRASH (log $log, input under $crashes/)"
        reports="$reports $log"
        fail=1
    fi
    # keep the newest $keep logs of this target
    ls -1t "$logs/$t"-2*.log 2>/dev/null | tail -n +$((keep + 1)) | while read -r old; do
        rm -f "$old"
    done
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -a -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-16s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
for log in $reports; do
    tests/fuzz/report.sh "$log"
done
if [ $fail -ne 0 ]; then
    echo "A crash's input belongs in tests/fuzz/regressions/<target>/ with its fix (make fuzz-regress replays it)."
fi
exit $fail
