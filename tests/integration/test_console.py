"""The web console in headless Chromium (Debian's chromium driven by playwright-core from npm)
against the real daemon and an emulated site: every page renders with no console errors, shown
values equal /api/v1/points, a value change reaches the overview within 2 s, login / logout /
role denial / acknowledge, a stale device is shown as stale, first load time and page weight.
Screenshots of every page go to build/screenshots/."""
import json
import os
import shutil
import subprocess

from itlib import Site, check, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHOTS = os.path.join(ROOT, "build", "screenshots")
CHROMIUM = "/usr/bin/chromium"
FIRST_LOAD_MAX_MS = 200


def passwd(user, role, pw):
    from itlib import BUILD
    r = subprocess.run([os.path.join(BUILD, "sitewatch"), "passwd", user, role], input=pw + "\n",
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "passwd: %s" % r.stderr)
    return r.stdout


def test_console_in_chromium():
    check(os.path.exists(CHROMIUM), "chromium is not installed (debian/control: chromium)")
    check(os.path.isdir(os.path.join(ROOT, "node_modules", "playwright-core")),
          "node_modules missing: run make (npm ci)")
    check(os.path.exists(os.path.join(ROOT, "web", "vendor", "uPlot.iife.min.js")),
          "web/vendor missing: run make console")
    s = Site("console")
    try:
        s.emulator("site", "--dir", s.dir, "--start-hour", "12")
        wait_for("site ptys", lambda: all(os.path.exists(s.pty(n)) for n in
                                          ("bmv", "mppt1", "mppt2")), 10)
        stale_emu, _ = s.emulator("vedirect", "--pty", s.pty("mppt9"), "--kind", "mppt",
                                  "--serial", "HQ2299ZZZZZ")
        extra = (passwd("ann", "admin", "admin pass 1") + passwd("vic", "viewer", "viewer pass 1") +
                 "[access]\ntrust_loopback = no\n"
                 "[alarm battery_seen]\nwhen = bmv/Dc/0/Voltage > 1\nseverity = warning\n"
                 "description = fires as soon as the monitor reports a voltage\n")
        s.write_conf([(n, {"driver": "vedirect", "port": s.pty(n)})
                      for n in ("bmv", "mppt1", "mppt2", "mppt9")], extra)
        s.start_daemon()
        wait_for("devices ok", lambda: s.api("/api/v1/health")["devices_ok"] >= 4, 15)
        # Written beside the site first (several suites may run at once), copied at the end.
        shots = os.path.join(s.dir, "screenshots")
        cfg = {"url": "http://127.0.0.1:%d" % s.port, "admin": ["ann", "admin pass 1"],
               "viewer": ["vic", "viewer pass 1"], "shots": shots, "stale_device": "mppt9",
               "stale_pid": stale_emu.pid}
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "console", "console.js"),
                            json.dumps(cfg)], capture_output=True, text=True, timeout=240)
        print(r.stdout.strip())
        if r.stderr.strip():
            print(r.stderr.strip()[-2000:])
        check(r.returncode == 0, "console checks failed (see above)")
        m = json.loads([l for l in r.stdout.splitlines() if l.startswith("metrics ")][0][8:])
        check(m["first_load_ms"] < FIRST_LOAD_MAX_MS,
              "first load took %d ms (limit %d)" % (m["first_load_ms"], FIRST_LOAD_MAX_MS))
        check(max(m["overview_change_ms"]) < 2000, "overview latency %r" % m["overview_change_ms"])
        for name in ("overview", "devices", "devices-bmv", "graphs", "battery", "alarms",
                     "diagnostics", "settings", "device-stale", "overview-phone",
                     "overview-dark"):
            check(os.path.getsize(os.path.join(shots, name + ".png")) > 5000,
                  "screenshot %s missing" % name)
        os.makedirs(SHOTS, exist_ok=True)
        for f in os.listdir(shots):
            shutil.copyfile(os.path.join(shots, f), os.path.join(SHOTS, f + ".tmp"))
            os.replace(os.path.join(SHOTS, f + ".tmp"), os.path.join(SHOTS, f))
        stale_emu.wait(5)
    finally:
        s.close()
