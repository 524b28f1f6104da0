#!/bin/sh
# regress.sh: `make fuzz-regress` (part of `make check`). Replays every input under
# tests/fuzz/regressions/<target>/ through build/fuzz/<target>, FUZZ_REGRESS_RUNS times each
# (default 20: some crashes needed a race or a signal), with libFuzzer's SIGALRM timer on as in a
# fuzzing run. Prints one line per target; on a failure, the sanitizer's report and the input.
set -eu
runs=${FUZZ_REGRESS_RUNS:-20}
logs=build/fuzz/logs
mkdir -p "$logs"
fail=0
total=0
for dir in tests/fuzz/regressions/*/; do
    t=$(basename "$dir")
    bin=build/fuzz/$t
    inputs=$(find "$dir" -maxdepth 1 -type f | sort)
    [ -n "$inputs" ] || continue
    if [ ! -x "$bin" ]; then
        echo "fuzz-regress: $t: no $bin (regressions without a target)"
        fail=1
        continue
    fi
    n=$(echo "$inputs" | wc -l)
    total=$((total + n))
    log=$logs/$t-regress.log
    # libFuzzer runs each file given on the command line -runs times
    # shellcheck disable=SC2086
    if "$bin" -runs="$runs" -timeout=10 -rss_limit_mb=1024 $inputs > "$log" 2>&1; then
        printf 'fuzz-regress: %-16s %3d inputs x %d: ok\n' "$t" "$n" "$runs"
    else
        printf 'fuzz-regress: %-16s %3d inputs x %d: FAILED (full log: %s)\n' "$t" "$n" "$runs" "$log"
        tests/fuzz/report.sh "$log"
        fail=1
    fi
done
echo "fuzz-regress: $total inputs replayed, $([ $fail -eq 0 ] && echo ok || echo FAILED)"
exit $fail
