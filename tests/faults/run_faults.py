#!/usr/bin/env python3
"""run_faults: the fault-injection suite (`make faults`, README "Reliability"). Each scenario runs
the real daemon against the emulators in a temporary directory and asserts what the issue asks:

  kill9    kill -9 at random points while state is written (battery SoC and counters, alarm
           state, outbox, RRDs), --kills times: every restart finds valid state (no file set aside
           or reported corrupt, SoC and cycle counter without a jump, every acknowledged silence
           and every queued mail still there), and at the end every queued mail is delivered.
  disk     disk full (ENOSPC) and a read-only state dir (EROFS) through build/faults/libfailfs.so:
           the storage alarm fires and clears, no crash, the API and the devices keep going, and
           state writes resume once space returns.
  clock    wall-clock steps of +1 day and -1 day (libfaketime, as an NTP step would): no SoC or
           cycle jump, no RRD error, no alarm storm.
  devices  every driver faulted at once (VE.Direct garbage and silence, a VE.Bus MK3 unplugged,
           a SunSpec inverter behind a half-open socket and one refusing connections): the
           healthy devices keep their 1 s update rate and the API answers.
  flood_modbus  300 Modbus clients held open against max_clients: the limit holds, the API
           answers, and a normal client gets in once idle clients time out.
  flood_http    300 HTTP clients hammering the API, then 200 idle connections on top: no crash,
           and a normal client still gets answers.

Usage: run_faults.py [--build build/san] [--kills 200] [--only NAME]. Prints one line per
scenario and "N passed, N failed"; exit status 1 when anything failed."""
import argparse
import glob
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import itlib  # noqa: E402
import suite_clock  # noqa: E402
from itlib import Site, check, free_port, wait_for  # noqa: E402

# Log lines that mean a state file was not valid on restart, or a sanitizer or RRD error.
BAD_LOG = re.compile(r"corrupt|unreadable|moved aside|set aside|not a valid|runtime error|"
                     r"Sanitizer|illegal attempt|rrd.*(error|failed)", re.I)
FAILFS = os.path.abspath("build/faults/libfailfs.so")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def ok_value(s, key):
    p = s.point(key)
    return p["value"] if p.get("state") == "ok" else None


def start_emu_site(s, mppt=1, extra_args=()):
    emu_dir = os.path.join(s.dir, "emu")
    os.makedirs(emu_dir, exist_ok=True)
    p, first = s.emulator("site", "--dir", emu_dir, "--mppt", str(mppt), "--bmv", "1",
                          "--start-hour", "22", *extra_args)
    line = first
    while line != "site":
        line = p.stdout.readline().strip()
        check(line.startswith("ready "), "site emulator: %r" % line)
        line = line[len("ready "):]
    return emu_dir


def site_devices(emu_dir, mppt=1):
    devs = [("bmv", {"driver": "vedirect", "port": os.path.join(emu_dir, "bmv")})]
    for i in range(1, mppt + 1):
        devs.append(("mppt%d" % i, {"driver": "vedirect",
                                    "port": os.path.join(emu_dir, "mppt%d" % i)}))
    return devs


BATTERY = ("[battery house]\ncurrent = bmv/Dc/0/Current\nvoltage = bmv/Dc/0/Voltage\n"
           "capacity = 20\nnominal_voltage = 24\nstart_soc = 60\nsave_interval = %s\n")


def start_daemon_env(s, env_extra, build=None):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    env.update(env_extra)
    s.daemon = subprocess.Popen(
        [os.path.join(build or itlib.BUILD, "sitewatchd"), "-c", s.conf_path, "-f"],
        stdout=open(s.daemon_log, "w"), stderr=subprocess.STDOUT, env=env)
    wait_for("the daemon's API", lambda: s.api("/api/v1/health"), 20)


def kill9(s):
    s.daemon.send_signal(signal.SIGKILL)
    s.daemon.wait()
    s.daemon = None


def outbox_ids(state, prefix=""):
    """message_id of every queued message file whose route starts with prefix (notify.c queues
    alarm notices under "n:ROUTE", composed into mails under "m:ROUTE" later)."""
    ids = set()
    for f in glob.glob(os.path.join(state, "**", "*.msg"), recursive=True):
        try:
            with open(f) as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            continue  # delivered meanwhile
        if doc["route"].startswith(prefix):
            ids.add(doc["message_id"])
    return ids


def bad_lines(text):
    return [l for l in text.splitlines() if BAD_LOG.search(l)]


def post_quietly(s, path):
    """A POST whose reply does not matter (the daemon may be killed meanwhile)."""
    try:
        s.http(path, "POST", b"")
    except OSError:
        pass


# ---- kill -9 ---------------------------------------------------------------------------------
def scenario_kill9(args):
    s = Site("faults-kill9")
    try:
        emu_dir = start_emu_site(s)
        smtp_port = free_port()  # nothing listens: mail stays queued during the loop
        notify = ("[notify ops]\ntype = email\nhost = 127.0.0.1\nport = %d\n"
                  "from = site@example.org\nto = ops@example.org\ntimeout = 2s\n")
        extra = (BATTERY % "200ms" + "[rrd]\ncache = 10s\n" +
                 "[alarm low]\nwhen = bmv/Dc/0/Voltage < 100\nseverity = warning\n")
        s.write_conf(site_devices(emu_dir), extra=extra + notify % smtp_port)
        state = os.path.join(s.dir, "state")
        rng = random.Random(args.seed)
        last_soc = last_cycles = last_ah = None
        ah_jumps = []
        silences = set()
        queued = set()  # mails (test mails, and notices composed into mails)
        notices = {}  # alarm notices not composed yet -> the mails queued when first seen
        jumps = []
        restarts = 0
        t0 = time.monotonic()
        for i in range(args.kills):
            start_daemon_env(s, {})
            restarts += 1
            log = s.log()
            bad = bad_lines(log)
            check(not bad, "restart %d found invalid state: %s" % (i, bad[:3]))
            # queued mail survives: every message seen before is still on disk
            # queued mail survives: every mail seen before is still on disk, and every notice
            # is still there or was composed into a mail (which is then on disk)
            # (notices first: a mail is written before the notices it replaces are deleted)
            kept = outbox_ids(state, "n:")
            now_ids = outbox_ids(state, "m:")
            check(queued <= now_ids, "restart %d lost queued mail: %s" % (i, queued - now_ids))
            for n in set(notices) - kept:
                # a notice goes only once composed into a mail: a mail that was not there yet
                # when the notice was first seen
                check(now_ids - notices[n], "restart %d lost alarm notice %s" % (i, n))
                del notices[n]
            if silences:
                got = {x["id"] for x in s.api("/api/v1/silences").get("silences", [])}
                check(silences <= got, "restart %d lost acknowledged silences %s (have %s)" %
                      (i, silences - got, got))
            soc = wait_for("house/Soc ok", lambda: ok_value(s, "house/Soc"), 20)
            cyc = ok_value(s, "house/History/ChargeCycles")
            ah = ok_value(s, "house/ConsumedAmphours")
            if last_ah is not None and ah is not None:
                ah_jumps.append(abs(ah - last_ah))
                check(abs(ah - last_ah) <= 0.1, "restart %d: consumed Ah jumped %.3f -> %.3f" %
                      (i, last_ah, ah))
            if last_soc is not None:
                jumps.append(abs(soc - last_soc))
                check(abs(soc - last_soc) <= 1.0, "restart %d: SoC jumped %.2f -> %.2f %%" %
                      (i, last_soc, soc))
            if last_cycles is not None and cyc is not None:
                check(last_cycles <= cyc <= last_cycles + 1,
                      "restart %d: charge cycles %r -> %r" % (i, last_cycles, cyc))
            # state-changing work in flight at random moments: a silence (alarm state written
            # before the reply), a test mail every 5th round (outbox), the battery's saves
            # (every 200 ms) and the RRD files created for new points
            if i % 2 == 0:
                st, body = s.http("/api/v1/silences", "POST", json.dumps(
                    {"target": "rule:low", "duration": "1d", "comment": "k%d" % i}).encode())
                if st == 201:
                    silences.add(json.loads(body)["id"])
            if i % 5 == 0:
                threading.Thread(target=post_quietly, args=(s, "/api/v1/notify/ops/test"),
                                 daemon=True).start()
            # mostly within the first second; every 20th round past the first RRD step (10 s),
            # when the RRD files are created and flushed
            time.sleep(rng.uniform(9.0, 12.0) if i % 20 == 19 else rng.uniform(0.0, 1.2))
            last_soc = ok_value(s, "house/Soc") or last_soc
            last_ah = ok_value(s, "house/ConsumedAmphours")
            last_cycles = ok_value(s, "house/History/ChargeCycles")
            seen_n = outbox_ids(state, "n:")
            seen_m = outbox_ids(state, "m:")
            for n in seen_n - set(notices):
                notices[n] = set(seen_m)
            queued |= seen_m
            kill9(s)
        loop_s = time.monotonic() - t0
        # RRD files are all readable
        rrds = glob.glob(os.path.join(state, "rrd", "**", "*.rrd"), recursive=True)
        broken = [f for f in rrds
                  if subprocess.run(["rrdtool", "info", f], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode != 0]
        check(not broken, "unreadable RRD files after the kills: %s" % broken[:5])
        # now let the mail go: a real SMTP sink on that port, and every queued mail arrives
        maildir = os.path.join(s.dir, "mail")
        os.mkdir(maildir)
        # Debian's python3, which has python3-aiosmtpd (a pyenv python on PATH may not)
        sink = subprocess.Popen(["/usr/bin/python3", "tests/integration/smtp_sink.py", "--port",
                                 str(smtp_port), "--dir", maildir],
                                stdout=subprocess.PIPE, text=True)
        s.procs.append(sink)
        check(sink.stdout.readline().startswith("ready"), "smtp sink did not start")
        start_daemon_env(s, {})
        check(not bad_lines(s.log()), "final restart: %s" % bad_lines(s.log())[:3])
        wait_for("the outbox to drain", lambda: not outbox_ids(state), 120, 0.5)
        mails = ""
        for f in glob.glob(os.path.join(maildir, "*.eml")):
            with open(f, errors="replace") as fh:
                mails += fh.read()
        missing = [m for m in queued if m not in mails]
        check(not missing, "queued mail never delivered: %s" % missing[:5])
        check("low" in mails, "the alarm notice never reached a mail")
        s.stop_daemon()
        return ("%d kill -9 in %.0f s; %d silences and %d queued mails kept, all %d mails "
                "delivered; %d RRD files valid; largest change across a restart: SoC %.3f %%, "
                "consumed %.4f Ah" %
                (restarts, loop_s, len(silences), len(queued), len(queued), len(rrds),
                 max(jumps) if jumps else 0, max(ah_jumps) if ah_jumps else 0))
    finally:
        s.close()


# ---- disk full / read-only ------------------------------------------------------------------
def storage_alarm(s):
    for a in s.api("/api/v1/alarms").get("alarms", []):
        text = json.dumps(a).lower()
        if "storage" in text or "disk" in text:
            return a
    return None


def scenario_disk(args):
    check(os.path.exists(FAILFS), "build/faults/libfailfs.so is missing (make faults builds it)")
    s = Site("faults-disk")
    try:
        emu_dir = start_emu_site(s)
        s.write_conf(site_devices(emu_dir), extra=BATTERY % "1s" + "[rrd]\ncache = 10s\n")
        state = os.path.abspath(os.path.join(s.dir, "state"))
        os.makedirs(state, exist_ok=True)
        ctl = os.path.join(s.dir, "failfs.ctl")
        with open(ctl, "w") as f:
            f.write("none\n")
        start_daemon_env(s, {"LD_PRELOAD": FAILFS, "FAILFS_DIR": state, "FAILFS_CTL": ctl})
        wait_for("house/Soc ok", lambda: ok_value(s, "house/Soc"), 20)
        bat = os.path.join(state, "battery-house.json")
        wait_for("the battery state file", lambda: os.path.exists(bat), 10)
        report = []
        for mode in ("ENOSPC", "EROFS"):
            with open(ctl, "w") as f:
                f.write(mode + "\n")
            t = time.monotonic()
            if mode == "ENOSPC":
                a = wait_for("the storage alarm", lambda: storage_alarm(s), 60, 0.5)
                report.append("disk full: alarm %r after %.1f s" %
                              (a.get("id"), time.monotonic() - t))
            time.sleep(4)  # writes fail for a while: battery saves, RRD flush, alarm state
            check(s.daemon.poll() is None, "the daemon died with %s" % mode)
            check(s.api("/api/v1/health"), "no API with %s" % mode)
            check(ok_value(s, "bmv/Dc/0/Voltage") is not None, "bmv data stopped with %s" % mode)
            st, _ = s.http("/api/v1/silences", "POST",
                           json.dumps({"target": "site", "duration": "1m"}).encode())
            check(st < 600, "silence request with %s" % mode)
            m0 = os.stat(bat).st_mtime
            with open(ctl, "w") as f:
                f.write("none\n")
            t = time.monotonic()
            wait_for("battery state written again after %s" % mode,
                     lambda: os.stat(bat).st_mtime > m0, 30, 0.2)
            report.append("%s: state writes resumed %.1f s after the fault ended" %
                          (mode, time.monotonic() - t))
            if mode == "ENOSPC":
                wait_for("the storage alarm to clear", lambda: not storage_alarm(s), 90, 0.5)
                report.append("storage alarm cleared %.1f s after" % (time.monotonic() - t))
            with open(bat) as f:
                json.load(f)  # valid
        errors = [l for l in s.log().splitlines() if "No space" in l or "Read-only" in l]
        check(errors, "the daemon never logged the write failures")
        s.stop_daemon()
        return "; ".join(report) + "; %d write failures logged (throttled)" % len(errors)
    finally:
        s.close()


def daemon_clock_offset(s):
    """The daemon's wall clock minus ours in seconds, from the Date header of a reply."""
    import email.utils
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/health" % s.port, timeout=5) as r:
        date = r.headers.get("Date")
    check(date, "no Date header")
    return email.utils.parsedate_to_datetime(date).timestamp() - time.time()


# ---- clock steps ----------------------------------------------------------------------------
def scenario_clock(args):
    check(os.path.exists(FAKETIME_LIB), "libfaketime is missing (Debian package faketime)")
    s = Site("faults-clock")
    try:
        emu_dir = start_emu_site(s)
        s.write_conf(site_devices(emu_dir),
                     extra=BATTERY % "1s" + "[rrd]\ncache = 10s\n" +
                     "[alarm low]\nwhen = bmv/Dc/0/Voltage < 100\nfor = 2s\n")
        tsfile = os.path.join(s.dir, "faketime.rc")
        with open(tsfile, "w") as f:
            f.write("+0\n")
        # Only the wall clock steps (NTP); CLOCK_MONOTONIC keeps running.
        start_daemon_env(s, {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": tsfile,
                             "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                             "FAKETIME_CACHE_DURATION": "1"})
        wait_for("house/Soc ok", lambda: ok_value(s, "house/Soc"), 20)
        time.sleep(12)  # one RRD flush before the steps
        socs = []
        for _ in range(4):
            socs.append(ok_value(s, "house/Soc"))
            time.sleep(1.5)
        cyc0 = ok_value(s, "house/History/ChargeCycles")
        log0 = len(s.api("/api/v1/alarms/log").get("log", []))
        for step in ("+1d", "-1d", "+0"):
            with open(tsfile, "w") as f:
                f.write(step + "\n")
            want = {"+1d": 86400, "-1d": -86400, "+0": 0}[step]
            wait_for("the daemon's clock at %s" % step,
                     lambda: abs(daemon_clock_offset(s) - want) < 60, 10, 0.5)
            for _ in range(8):
                time.sleep(1.5)
                socs.append(wait_for("house/Soc", lambda: ok_value(s, "house/Soc"), 10))
        time.sleep(12)  # an RRD flush after the steps
        # The bank discharges steadily (night in the model): a step would show as one change
        # much larger than the others.
        deltas = sorted(abs(a - b) for a, b in zip(socs, socs[1:]))
        jump, median = deltas[-1], deltas[len(deltas) // 2]
        check(jump <= max(0.1, 3 * median), "SoC jumped by %.3f %% (usual change %.3f %%) with "
              "a clock step: %s" % (jump, median, " ".join("%.3f" % x for x in socs)))
        cyc1 = ok_value(s, "house/History/ChargeCycles")
        check(cyc0 == cyc1, "charge cycles changed with a clock step: %r -> %r" % (cyc0, cyc1))
        log1 = len(s.api("/api/v1/alarms/log").get("log", []))
        check(log1 - log0 <= 2, "alarm storm: %d alarm log entries during the steps" %
              (log1 - log0))
        bad = bad_lines(s.log())
        check(not bad, "errors after clock steps: %s" % bad[:5])
        check(s.device("bmv")["state"] == "ok", "bmv not ok after the steps")
        s.stop_daemon()
        return ("steps +1 d, -1 d, back: largest SoC change between samples (1.5 s) %.3f %% "
                "(median %.3f %%), charge cycles unchanged, %d alarm log entries, no RRD error" %
                (jump, median, log1 - log0))
    finally:
        s.close()


# ---- device faults --------------------------------------------------------------------------
def half_open_listener():
    """A TCP port that accepts connections and never answers (a half-open peer)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    held = []

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            held.append(c)
    threading.Thread(target=loop, daemon=True).start()
    return ls, ls.getsockname()[1]


def update_rate(s, key, seconds):
    """Samples a point every 100 ms: (number of distinct timestamps, largest age seen in ms)."""
    seen = set()
    worst = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        p = s.point(key)
        check(p.get("state") == "ok", "%s went %s" % (key, p.get("state")))
        seen.add(p["ts"])
        worst = max(worst, p.get("age_ms", 0))
        time.sleep(0.1)
    return len(seen), worst


def scenario_devices(args):
    s = Site("faults-devices")
    try:
        emu_dir = start_emu_site(s, mppt=1)
        devs = site_devices(emu_dir, 1)
        # healthy: bmv, mppt1 (site), fronius (SunSpec), multi (VE.Bus)
        _, fr = s.emulator("sunspec", "--listen", "127.0.0.1:0", "--model", "fronius-float")
        devs.append(("fronius", {"driver": "sunspec", "host": "127.0.0.1",
                                 "port": fr.rsplit(":", 1)[1]}))
        s.emulator("vebus", "--pty", s.pty("multi"))
        devs.append(("multi", {"driver": "vebus", "port": s.pty("multi")}))
        # faulted: VE.Direct garbage, VE.Direct silence, a VE.Bus unplugged later, a SunSpec
        # half-open socket, a SunSpec refusing connections, a SunSpec sending garbage
        s.emulator("vedirect", "--pty", s.pty("garbage"), "--kind", "mppt", "--fault", "garbage")
        devs.append(("garbage", {"driver": "vedirect", "port": s.pty("garbage")}))
        s.emulator("vedirect", "--pty", s.pty("silent"), "--kind", "mppt", "--fault", "silence")
        devs.append(("silent", {"driver": "vedirect", "port": s.pty("silent")}))
        unplug, _ = s.emulator("vebus", "--pty", s.pty("multi2"))
        devs.append(("multi2", {"driver": "vebus", "port": s.pty("multi2")}))
        ls, hport = half_open_listener()
        devs.append(("halfopen", {"driver": "sunspec", "host": "127.0.0.1", "port": str(hport)}))
        devs.append(("refused", {"driver": "sunspec", "host": "127.0.0.1",
                                 "port": str(free_port())}))
        _, gb = s.emulator("sunspec", "--listen", "127.0.0.1:0", "--model", "sma", "--fault",
                           "garbage")
        devs.append(("sgarbage", {"driver": "sunspec", "host": "127.0.0.1",
                                  "port": gb.rsplit(":", 1)[1], "unit": "126"}))
        s.write_conf(devs)
        start_daemon_env(s, {})
        for d in ("bmv", "mppt1", "fronius", "multi", "multi2"):
            wait_for("%s ok" % d, lambda d=d: s.device(d)["state"] == "ok", 60, 0.5)
        unplug.kill()  # the MK3 is pulled out
        unplug.wait()
        time.sleep(3)
        out = []
        for key in ("bmv/Dc/0/Voltage", "mppt1/Pv/V", "multi/Dc/0/Voltage"):
            n, worst = update_rate(s, key, 10)
            out.append("%s %d updates in 10 s, oldest %d ms" % (key, n, worst))
            check(n >= 8, "%s: only %d updates in 10 s with every driver faulted" % (key, n))
            check(worst <= 2200, "%s: a value %d ms old with every driver faulted" % (key, worst))
        # garbage between valid blocks may leave a device ok (its checksummed blocks still
        # count); the dead ones must not show ok
        states = {d: s.device(d)["state"] for d in ("garbage", "silent", "multi2", "halfopen",
                                                      "refused", "sgarbage")}
        for d in ("silent", "multi2", "halfopen", "refused"):
            check(states[d] != "ok", "faulted device %s shows ok" % d)
        out.append("faulted devices: %s" % states)
        t = time.monotonic()
        s.api("/api/v1/points")
        api_ms = (time.monotonic() - t) * 1000
        ls.close()
        s.stop_daemon()
        return "; ".join(out) + "; /api/v1/points in %.0f ms" % api_ms
    finally:
        s.close()


# ---- client floods --------------------------------------------------------------------------
def mb_read(port, unit=100, reg=843, timeout=3.0):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(struct.pack(">HHHBBHH", 1, 0, 6, unit, 3, reg, 1))
        data = c.recv(256)
        return len(data) >= 9
    finally:
        c.close()


def modbus_flood_site(name):
    s = Site(name)
    emu_dir = start_emu_site(s)
    mport = free_port()
    s.write_conf(site_devices(emu_dir),
                 extra="[modbus_server]\nlisten = 127.0.0.1:%d\nmap = etc/modbus-map.csv\n"
                       "max_clients = 32\nidle_timeout = 5s\n" % mport)
    start_daemon_env(s, {})
    wait_for("bmv ok", lambda: s.device("bmv")["state"] == "ok", 30)
    return s, mport


def daemon_rss_kb(s):
    with open("/proc/%d/status" % s.daemon.pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def scenario_flood_modbus(args):
    """300 Modbus clients held open against max_clients = 32 (idle_timeout 5 s)."""
    s, mport = modbus_flood_site("faults-mbflood")
    held = []
    try:
        for _ in range(300):
            try:
                held.append(socket.create_connection(("127.0.0.1", mport), timeout=2))
            except OSError:
                pass
        time.sleep(0.5)
        accepted = 0
        for c in held:
            c.setblocking(False)
            try:
                if c.recv(1) == b"":
                    continue  # refused: closed at once
            except BlockingIOError:
                accepted += 1
            except OSError:
                pass
        check(accepted <= 32, "%d Modbus connections served with max_clients = 32" % accepted)
        # the flood is still held: a normal client gets in once the idle ones time out (5 s)
        t = time.monotonic()
        wait_for("a normal Modbus read during the flood", lambda: mb_read(mport), 30, 0.5)
        mb_s = time.monotonic() - t
        check(mb_s <= 5 + 5, "a normal Modbus client waited %.1f s (idle_timeout 5 s)" % mb_s)
        check(s.api("/api/v1/health"), "no API during the Modbus flood")
        check(s.daemon.poll() is None, "the daemon died in the flood")
        rss = daemon_rss_kb(s)
        s.stop_daemon()
        return ("%d of 300 connections served (max_clients 32), a normal read after %.1f s, "
                "API answering, daemon RSS %d kB" % (accepted, mb_s, rss))
    finally:
        for c in held:
            c.close()
        s.close()


def http_normal_client(s, n=10):
    worst, answered = 0.0, 0
    for _ in range(n):
        t = time.monotonic()
        try:
            if s.api("/api/v1/health"):
                answered += 1
        except OSError:
            pass
        worst = max(worst, time.monotonic() - t)
        time.sleep(0.3)
    return answered, worst


def scenario_flood_http(args):
    """300 clients on one host hammering the API, then 200 more holding idle connections from
    another (the daemon serves 256 connections, at most 64 per address, src/http/http.c): no crash,
    bounded memory, and a normal client on a third address must still get answers."""
    s = Site("faults-httpflood")
    stop = threading.Event()
    idle = []
    try:
        emu_dir = start_emu_site(s)
        s.write_conf(site_devices(emu_dir))
        start_daemon_env(s, {})
        wait_for("bmv ok", lambda: s.device("bmv")["state"] == "ok", 30)
        codes = {}
        lock = threading.Lock()

        def hammer():
            while not stop.is_set():
                try:
                    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5,
                                                   source_address=("127.0.0.3", 0))
                    c.request("GET", "/api/v1/points")
                    st = c.getresponse().status
                    c.close()
                except (OSError, http.client.HTTPException):
                    st = "refused"
                with lock:
                    codes[st] = codes.get(st, 0) + 1
        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(300)]
        for t in threads:
            t.start()
        time.sleep(3)
        busy = http_normal_client(s)
        for _ in range(200):
            try:
                idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=2,
                                                     source_address=("127.0.0.2", 0)))
            except OSError:
                pass
        time.sleep(2)
        held = http_normal_client(s)
        stop.set()
        for t in threads:
            t.join(10)
        rss = daemon_rss_kb(s)
        check(s.daemon.poll() is None, "the daemon died in the flood")
        summary = ("replies to 300 hammering clients %s; normal client %d/10 answered (worst "
                   "%.2f s) among them, %d/10 (worst %.2f s) with 200 idle connections held; "
                   "daemon RSS %d kB" % (dict(sorted(codes.items(), key=str)), busy[0], busy[1],
                                         held[0], held[1], rss))
        print("   " + summary)
        check(busy[0] >= 8, "a normal HTTP client got %d of 10 answers among 300 busy clients" %
              busy[0])
        check(held[0] >= 8, "a normal HTTP client got %d of 10 answers while 200 idle "
              "connections are held" % held[0])
        for c in idle:
            c.close()
        idle = []
        s.stop_daemon()
        return summary
    finally:
        stop.set()
        for c in idle:
            c.close()
        s.close()


SCENARIOS = [("kill9", scenario_kill9), ("disk", scenario_disk), ("clock", scenario_clock),
             ("devices", scenario_devices), ("flood_modbus", scenario_flood_modbus),
             ("flood_http", scenario_flood_http)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/san")
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--only")
    args = ap.parse_args()
    itlib.BUILD = args.build
    suite_clock.setup()  # SITEWATCH_TEST=1 and an unusual TZ, as for tests/integration/run_tests.py
    passed = failed = 0
    for name, fn in SCENARIOS:
        if args.only and args.only != name:
            continue
        t = time.monotonic()
        print("== faults: %s" % name, flush=True)
        try:
            summary = fn(args)
            print("ok   %s (%.0f s): %s" % (name, time.monotonic() - t, summary), flush=True)
            passed += 1
        except Exception:
            print("FAIL %s (%.0f s)" % (name, time.monotonic() - t))
            traceback.print_exc()
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
