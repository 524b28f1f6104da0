#!/usr/bin/env python3
"""summary: the closing table of `make bench`. Reads the whole output of tests/bench/run.sh
(build/bench/output.txt) and prints one table across the project: for every "== section" the
lines that carry a figure of the kinds the README's Reliability and Performance sections quote
(parser MB/s, Modbus reads/s, API req/s, SSE latency, RSS, CPU, bytes written per day, peer
ratios). The bench sections keep their own formats: this only selects, it never recomputes, so
a figure here is always the one printed above it."""
import re
import sys

KINDS = [
    ("parser MB/s", re.compile(r"MB/s")),
    ("Modbus reads/s", re.compile(r"reads/s|registers/s|polls/s", re.I)),
    ("API req/s", re.compile(r"req/s")),
    ("latency", re.compile(r"latency|p99|p50", re.I)),
    ("bytes/day", re.compile(r"/day|per day", re.I)),
    ("peer ratio", re.compile(r"ratio|\bvs\b|x faster|times", re.I)),
    ("CPU", re.compile(r"\bCPU\b")),
    ("RSS", re.compile(r"\bRSS\b|VmRSS|VmHWM|RssAnon", re.I)),
]
WIDTH = 100


def classify(line):
    for name, rx in KINDS:
        if rx.search(line):
            return name
    return None


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "build/bench/output.txt"
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    rows = []
    section = "(start)"
    for raw in lines:
        line = raw.strip()
        if line.startswith("== "):
            section = line[3:]
            continue
        if not line or line.startswith("(") or line.startswith("make"):
            continue
        kind = classify(line)
        if kind:
            rows.append((section, kind, line))
    print()
    print("=" * WIDTH)
    print("SUMMARY of make bench (figures as printed above; %s)" % path)
    print("=" * WIDTH)
    last = None
    for section, kind, line in rows:
        if section != last:
            print("-- %s" % section)
            last = section
        print("  %-15s %s" % (kind, line))
    if not rows:
        print("(no figures found: did the bench sections run?)")
    print("=" * WIDTH)


if __name__ == "__main__":
    main()
