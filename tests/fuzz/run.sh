#!/bin/sh
# run.sh SECONDS: runs every fuzz target for SECONDS on its corpus (seeded from ../shared/testdata
# and tests/fuzz/seeds/<target>/), then prints executions and coverage per target. A crash
# leaves its input under build/fuzz/crashes/<target>/ and fails the run.
set -eu
seconds=${1:-600}
testdata=${SITEWATCH_TESTDATA:-../shared/testdata}
fail=0
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
    for f in $(find $seeds -maxdepth 1 -type f 2>/dev/null) $(find tests/fuzz/seeds/$t -type f 2>/dev/null); do
        cp -n "$f" "$corpus/" 2>/dev/null || true
    done
    log=build/fuzz/$t.log
    if "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" > "$log" 2>&1; then
        result=ok
    else
        result="CRASH (see $log and $crashes/)"
        fail=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -a -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-16s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $fail
