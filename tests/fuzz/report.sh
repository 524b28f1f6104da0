#!/bin/sh
# report.sh LOG: prints what a failed libFuzzer run says crashed, so that a CI log shows it
# without the artifacts: the harness's own message, the sanitizer's report (from its first
# "==PID==ERROR", "runtime error", "WARNING: ThreadSanitizer" or "ERROR: libFuzzer" line to its
# SUMMARY line), the input being run and where libFuzzer saved it.
set -eu
log=$1
echo "---- what crashed (from $log) ----"
awk '
    /^fuzz_[a-z_]+: / && !shown { print; next }
    !inrep && (/==[0-9]+== ?ERROR/ || /runtime error:/ || /WARNING: ThreadSanitizer/ ||
               /ERROR: libFuzzer/) { inrep = 1; lines = 0 }
    inrep {
        if (lines++ < 150) print
        if (/^SUMMARY:/) { inrep = 0; shown = 1 }
        next
    }
    /^Running: / && !shown { last = substr($0, 10) }
    /Test unit written to|^Base64:/ { print }
    END { if (last != "") print "the input being run: " last }
' "$log"
echo "---- end of report ----"
