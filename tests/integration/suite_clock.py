"""suite_clock: the clock a test suite runs under (tests/integration/run_tests.py, tests/faults/run_faults.py).

Every test pins what it depends on (emulator hour, seed, speed: itlib.EMU_PINS). To make a new
dependency on the wall clock or the time zone show up at once, the suite runs under SITEWATCH_TEST=1
(an emulator started without --start-hour refuses to start) and under an unusual time zone: a
POSIX TZ with an offset in minutes chosen so that local time is about 01:00 when the suite starts,
the night-time hour at which issue 14's tests failed.

  SITEWATCH_TEST_HOUR=H   the local hour wanted instead (0..23), e.g. 13 for a daytime run
  SITEWATCH_TEST_TZ=TZ    this TZ verbatim instead (e.g. Europe/Amsterdam or XYZ-5:45)
"""
import os
import sys
import time

DEFAULT_HOUR = 1


def tz_for_local_hour(hour, now=None):
    """A POSIX TZ ("SWT-9:18") under which the local time at now (default: the present) is
    hour:00, to the minute. The offset is kept within -12 h .. +12 h of UTC."""
    now = time.time() if now is None else now
    utc_min = int(now // 60) % (24 * 60)
    east_min = (hour * 60 - utc_min) % (24 * 60)  # local = UTC + east
    if east_min > 12 * 60:
        east_min -= 24 * 60
    west = -east_min  # POSIX counts hours west of Greenwich as positive
    return "SWT%s%d:%02d" % ("-" if west < 0 else "+", abs(west) // 60, abs(west) % 60)


def setup():
    """Sets SITEWATCH_TEST=1 and TZ in our environment (inherited by every process the suite
    starts) and in this process's C library; prints the TZ. Exits 2 on a bad override."""
    os.environ["SITEWATCH_TEST"] = "1"
    tz = os.environ.get("SITEWATCH_TEST_TZ", "")
    if not tz:
        text = os.environ.get("SITEWATCH_TEST_HOUR", str(DEFAULT_HOUR))
        try:
            hour = int(text, 10)
        except ValueError:
            hour = -1
        if not 0 <= hour <= 23:
            sys.exit("SITEWATCH_TEST_HOUR=%s: expected a local hour 0..23" % text)
        tz = tz_for_local_hour(hour)
        # test_clock checks that the suite really runs at this hour
        os.environ["SITEWATCH_SUITE_HOUR"] = str(hour)
    os.environ["TZ"] = tz
    time.tzset()
    print("suite clock: TZ=%s (local time %s), SITEWATCH_TEST=1" %
          (tz, time.strftime("%Y-%m-%d %H:%M %Z")), flush=True)
    return tz
