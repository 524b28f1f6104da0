"""Integration tests of the suite's clock (issue 14: two tests timed out at 04:30 because the
emulated MPPTs followed the local time of day). The suite runs under SITEWATCH_TEST=1 and an
unusual TZ (tests/integration/suite_clock.py); an emulator refuses to start without a pinned hour there; and a
pinned hour, not the time zone, decides whether the sun shines."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import suite_clock
from itlib import BUILD, Site, check, wait_for

EMU = os.path.join(BUILD, "sitewatch-emu")


def ok_value(site, key):
    p = site.point(key)
    return p["value"] if p["state"] == "ok" else None


def test_clock_emulator_refuses_unpinned_hour():
    """Under SITEWATCH_TEST=1 every subcommand with a site model exits 2 without --start-hour,
    saying so, and never prints 'ready'; with --start-hour it starts; without SITEWATCH_TEST a
    user's emulator still follows the local time of day."""
    d = tempfile.mkdtemp(prefix="sitewatch-clock-")
    try:
        refuses_unpinned(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def refuses_unpinned(d):
    env = dict(os.environ, SITEWATCH_TEST="1")
    for args in (["site", "--dir", os.path.join(d, "site")],
                 ["vedirect", "--pty", os.path.join(d, "ved"), "--kind", "mppt"],
                 ["vedirect", "--tcp", "127.0.0.1:0", "--kind", "bmv712"],
                 ["vebus", "--pty", os.path.join(d, "multi")],
                 ["sunspec", "--listen", "127.0.0.1:0", "--model", "fronius-float"]):
        r = subprocess.run([EMU] + args, env=env, capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "ready" not in r.stdout and
              "SITEWATCH_TEST=1: --start-hour H is required" in r.stderr,
              "%s unpinned: rc %d, %r %r" % (args[0], r.returncode, r.stdout, r.stderr))
    for extra_env in ({"SITEWATCH_TEST": "1"}, {"SITEWATCH_TEST": ""}):
        args = ["vedirect", "--pty", os.path.join(d, "ok"), "--kind", "mppt"]
        if extra_env["SITEWATCH_TEST"]:
            args += ["--start-hour", "12"]
        p = subprocess.Popen([EMU] + args, env=dict(os.environ, **extra_env),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = p.stdout.readline()
            check(line.startswith("ready "), "%r with %r: %r" % (args, extra_env, line))
        finally:
            p.terminate()
            p.wait(10)


def test_clock_suite_runs_in_an_unusual_tz():
    """tests/integration/run_tests.py set SITEWATCH_TEST=1 and a TZ under which the suite started at the
    wanted local hour (01:00 unless SITEWATCH_TEST_HOUR says otherwise), and the daemon's clock
    is in that zone too (its log stamps match ours)."""
    check(os.environ.get("SITEWATCH_TEST") == "1", "SITEWATCH_TEST is not 1: run this test "
          "through tests/integration/run_tests.py")
    tz = os.environ.get("TZ", "")
    check(tz, "the suite sets no TZ")
    if os.environ.get("SITEWATCH_TEST_TZ"):
        check(tz == os.environ["SITEWATCH_TEST_TZ"], "TZ %r is not SITEWATCH_TEST_TZ" % tz)
    else:
        want = int(os.environ.get("SITEWATCH_SUITE_HOUR", suite_clock.DEFAULT_HOUR))
        check(re.fullmatch(r"SWT[+-]\d+:\d\d", tz), "TZ %r is not the suite's" % tz)
        # the suite started at want:00 local and runs for well under 3 hours
        hour = time.localtime().tm_hour
        check((hour - want) % 24 < 3, "local hour %d under TZ=%s, the suite wanted %d" %
              (hour, tz, want))
    s = Site("clock-tz")
    try:
        s.write_conf([])
        before = time.strftime("%Y-%m-%d %H:%M")
        s.start_daemon()
        after = time.strftime("%Y-%m-%d %H:%M")
        stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d):\d\d\.\d{3} ", s.log(), re.M)
        check(stamps and stamps[0] in (before, after),
              "daemon log stamp %r, our local time %s..%s (TZ=%s)" %
              (stamps[:1], before, after, tz))
    finally:
        s.close()


def test_clock_pinned_hour_not_tz_decides_the_sun():
    """An MPPT pinned at 12:00 charges though its TZ says it is 01:00 local; one pinned at 01:00
    does not though its TZ says 13:00."""
    s = Site("clock-sun")
    try:
        night = dict(os.environ, TZ=suite_clock.tz_for_local_hour(1))
        day = dict(os.environ, TZ=suite_clock.tz_for_local_hour(13))
        s.emulator("vedirect", "--pty", s.pty("noon"), "--kind", "mppt", "--start-hour", "12",
                   env=night)
        s.emulator("vedirect", "--pty", s.pty("small"), "--kind", "mppt", "--start-hour", "1",
                   env=day)
        s.write_conf([("noon", {"driver": "vedirect", "port": s.pty("noon")}),
                      ("small", {"driver": "vedirect", "port": s.pty("small")})])
        s.start_daemon()
        for name in ("noon", "small"):
            wait_for(name + " ok", lambda n=name: s.device(n)["state"] == "ok", 10)
        wait_for("noon charging", lambda: ok_value(s, "noon/State") not in (None, 0) and
                 (ok_value(s, "noon/Yield/Power") or 0) > 0, 10)
        wait_for("small-hours values", lambda: ok_value(s, "small/State") is not None and
                 ok_value(s, "small/Yield/Power") is not None, 10)
        check(ok_value(s, "small/State") == 0 and ok_value(s, "small/Yield/Power") == 0,
              "an MPPT at 01:00 charges: State %r, %r W" %
              (ok_value(s, "small/State"), ok_value(s, "small/Yield/Power")))
    finally:
        s.close()
