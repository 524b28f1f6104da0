"""run_tests: runs the unit-test binaries and the integration tests, then prints the closing
line "N passed, N failed" for the whole suite. Exit status 1 when anything failed."""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def run_units(binaries):
    passed = failed = 0
    for b in binaries:
        print("== %s" % b, flush=True)
        r = subprocess.run([b], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = r.stdout
        m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
        lines = [l for l in out.splitlines() if not l.startswith("ok ")]
        print("\n".join(lines[-40:]))
        if not m:
            print("   %s crashed or printed no summary (exit %d)" % (b, r.returncode))
            failed += 1
            continue
        passed += int(m.group(1))
        failed += int(m.group(2))
        if r.returncode != 0 and int(m.group(2)) == 0:
            print("   %s exited %d (sanitizer report?)" % (b, r.returncode))
            failed += 1
    return passed, failed


def run_integration(only, flaky):
    sys.path.insert(0, HERE)
    passed = failed = 0
    idir = HERE
    for fn in sorted(os.listdir(idir)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(idir, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print("== %s" % fn, flush=True)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            if only and only not in name:
                continue
            # An integration test runs real daemons and emulators against wall-clock bounds on a
            # shared 2-core machine: one that fails is run once more and reported as FLAKY when
            # the second run passes (listed at the end); two failures in a row fail the suite.
            for attempt in (1, 2):
                t0 = time.monotonic()
                try:
                    getattr(mod, name)()
                    passed += 1
                    if attempt == 2:
                        flaky.append(name)
                    print("%s %s (%.1f s)" % ("ok  " if attempt == 1 else "ok   (FLAKY: passed on retry)",
                                              name, time.monotonic() - t0), flush=True)
                    break
                except Exception:  # a failing test must not stop the others
                    print("FAIL %s (%.1f s)%s" % (name, time.monotonic() - t0,
                                                  "" if attempt == 2 else ", running it once more"))
                    traceback.print_exc(limit=4)
                    sys.stdout.flush()
                    if attempt == 2:
                        failed += 1
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/san")
    ap.add_argument("--units", nargs="*", default=[])
    ap.add_argument("--only", default="")
    ap.add_argument("--no-integration", action="store_true")
    a = ap.parse_args()
    os.environ["SITEWATCH_BUILD"] = a.build
    sys.path.insert(0, HERE)
    import suite_clock
    suite_clock.setup()  # SITEWATCH_TEST=1 and an unusual TZ (local ~01:00) for the whole run
    p1, f1 = run_units(a.units) if not a.only else (0, 0)
    flaky = []
    p2, f2 = (0, 0) if a.no_integration else run_integration(a.only, flaky)
    if flaky:
        print("FLAKY (failed once, passed on retry): %s" % ", ".join(flaky))
    print("%d passed, %d failed" % (p1 + p2, f1 + f2))
    sys.exit(1 if f1 + f2 else 0)


if __name__ == "__main__":
    main()
