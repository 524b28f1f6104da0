"""Integration tests of the sunspec driver: the real daemon (ASan build) against sitewatch-emu
sunspec (a libmodbus server on loopback ports): discovery at each base address, int+SF and float,
a real SMA dump, three phases, several units behind one address, every fault mode with recovery,
one dead inverter beside live ones, and the scans (CLI and daemon)."""
import os
import signal
import subprocess
import time

from itlib import BUILD, TESTDATA, Site, check, free_port, wait_for

SMA_DUMP = os.path.join(TESTDATA, "sunspec/nielsbasjes_DeviceSMASunnyBoy36.txt")


def emu(site, *args):
    """Starts a sunspec emulator on a free port (at noon unless told); returns (proc, port)."""
    if "--start-hour" not in args and "--dump" not in args:
        args = ("--start-hour", "12") + args
    p, where = site.emulator("sunspec", "--listen", "127.0.0.1:0", *args)
    return p, int(where.rsplit(":", 1)[1])


def dev(port, **extra):
    d = {"driver": "sunspec", "host": "127.0.0.1", "port": str(port)}
    d.update(extra)
    return d


def ok_value(site, key):
    p = site.point(key)
    return p["value"] if p["state"] == "ok" else None


def wait_ok(site, name, timeout=20):
    return wait_for("%s ok" % name, lambda: site.device(name)["state"] == "ok", timeout)


def dump_regs():
    """The SMA dump as {address: value} (None = unreadable), read independently of the C code."""
    regs = {}
    for line in open(SMA_DUMP):
        f = line.split()
        if len(f) >= 2 and not line.startswith("#"):
            regs[int(f[0])] = None if f[1] == "----" else int(f[1], 16)
    return regs


def s16(v):
    return v - 0x10000 if v >= 0x8000 else v


def test_sunspec_discovery_and_decoding():
    """SunS at 40000 (a real SMA dump on unit 126 and a synthesised SMA found by unit = auto),
    50000 (Fronius int+SF) and 0 (Fronius float): every device identifies itself and publishes
    the values its registers hold."""
    s = Site("sunspec-disc")
    try:
        _, p_dump = emu(s, "--dump", SMA_DUMP)
        _, p_int = emu(s, "--model", "fronius-int", "--base", "50000")
        _, p_flt = emu(s, "--model", "fronius-float", "--base", "0")
        _, p_sma = emu(s, "--model", "sma")
        _, p_night = emu(s, "--model", "sma", "--start-hour", "23")
        s.write_conf([("real", dev(p_dump, unit="126")),
                      ("fint", dev(p_int, position="ac-output")),
                      ("fflt", dev(p_flt)),
                      ("sma", dev(p_sma)),
                      ("smanight", dev(p_night)),
                      ("smanofb", dev(p_night, sma_fallback="no"))])
        s.start_daemon()
        for name in ("real", "fint", "fflt", "sma", "smanight", "smanofb"):
            wait_ok(s, name)

        # the real dump, decoded here from its registers with the model 101/120/160 layouts
        r = dump_regs()
        m101, m120, m160 = 40185, 40237, 40621
        w = s16(r[m101 + 14]) * 10 ** s16(r[m101 + 15])
        v = r[m101 + 10] * 10 ** s16(r[m101 + 13])
        hz = r[m101 + 16] * 10 ** s16(r[m101 + 17])
        wh = (r[m101 + 24] << 16 | r[m101 + 25]) * 10 ** s16(r[m101 + 26])
        wrtg = r[m120 + 3] * 10 ** s16(r[m120 + 4])
        check(r[m101] == 101 and r[m120] == 120 and r[m160] == 160, "dump layout")
        expect = {"Ac/Power": w, "Ac/L1/Power": w, "Ac/L1/Voltage": v, "Ac/Frequency": hz,
                  "Ac/Energy/Forward": wh / 1000.0, "Ac/MaxPower": wrtg, "StatusCode": 11,
                  "Position": 0}
        for k in range(2):
            base = m160 + 10 + 20 * k  # module k: ID, IDStr (8), DCA, DCV, DCW ...
            expect["Pv/%d/I" % k] = r[base + 9] * 10 ** s16(r[m160 + 2])
            expect["Pv/%d/V" % k] = r[base + 10] * 10 ** s16(r[m160 + 3])
            expect["Pv/%d/P" % k] = r[base + 11] * 10 ** s16(r[m160 + 4])
        for path, want in expect.items():
            got = ok_value(s, "real/" + path)
            check(got is not None and abs(got - want) < 1e-6 * max(1, abs(want)),
                  "real/%s = %r, the registers say %r" % (path, got, want))
        check(abs(expect["Ac/Power"] - 1080) < 1e-9, "dump W")
        # not implemented in the dump: the modules 3..6 of model 160 and the DC of model 101
        for path in ("Pv/2/V", "Pv/5/P"):
            check(s.point("real/" + path)["state"] == "na", "real/%s must be na" % path)
        d = s.device("real")
        check(d["product_name"] == "SMA SB3.6-1AV-41" and d["serial"] == "3005067415" and
              d["firmware"] == "4.00.75.R" and d["service"] == "pvinverter", "identity %r" % d)

        # int+SF and float synthesised from the same sun curve (noon): the same readings
        for name in ("fint", "fflt"):
            pw = ok_value(s, name + "/Ac/Power")
            check(pw is not None and abs(pw - 4750) < 50, "%s power %r" % (name, pw))
            check(ok_value(s, name + "/Ac/MaxPower") == 5000, "%s max power" % name)
            l1 = ok_value(s, name + "/Ac/L1/Power")
            check(l1 == pw, "%s single phase: L1 power %r = total %r" % (name, l1, pw))
            check(s.point(name + "/Ac/L2/Power").get("state") is None, "no L2 on one phase")
            check(ok_value(s, name + "/Pv/1/V") is not None, "%s second string" % name)
            check(s.device(name)["product_name"] == "Fronius Primo 5.0-1", "fronius identity")
        check(ok_value(s, "fint/Position") == 1 and ok_value(s, "fflt/Position") == 0, "position")
        v_int, v_flt = ok_value(s, "fint/Ac/L1/Voltage"), ok_value(s, "fflt/Ac/L1/Voltage")
        check(abs(v_int - v_flt) < 0.2, "int+SF %r vs float %r volts" % (v_int, v_flt))
        check("unit 126" in s.device("sma")["connection"], "sma found on unit 126 by auto")
        check(ok_value(s, "sma/Ac/MaxPower") == 3680, "sma rated power")
        # SMA at night: SunSpec W = 0x8000; the fallback reads unit 3's register 30775
        check(ok_value(s, "smanight/Ac/Power") == 0, "SMA fallback power at night")
        check(s.point("smanofb/Ac/Power")["state"] == "na", "without fallback: na")
    finally:
        s.close()


def test_sunspec_three_phase_units_behind_one_address():
    """A three-phase inverter with 12 MPPTs and a vendor model, three units behind one address
    (one device each), and a unit nobody answers."""
    s = Site("sunspec-3ph")
    try:
        _, port = emu(s, "--model", "three-phase", "--units", "1,2,3")
        s.write_conf([("inv%d" % u, dev(port, unit=str(u))) for u in (1, 2, 3)] +
                     [("inv4", dev(port, unit="4", timeout="1s"))])
        s.start_daemon()
        for u in (1, 2, 3):
            wait_ok(s, "inv%d" % u)
        serials = set()
        for u in (1, 2, 3):
            n = "inv%d" % u
            total = ok_value(s, n + "/Ac/Power")
            phases = [ok_value(s, "%s/Ac/L%d/Power" % (n, k)) for k in (1, 2, 3)]
            volts = [ok_value(s, "%s/Ac/L%d/Voltage" % (n, k)) for k in (1, 2, 3)]
            check(None not in phases and abs(sum(phases) - total) < 1, "%s phases %r vs %r" %
                  (n, phases, total))
            check(None not in volts and all(225 < x < 240 for x in volts), "%s volts %r" %
                  (n, volts))
            check(ok_value(s, n + "/Pv/11/V") is not None, "%s: 12 MPPTs" % n)
            check(s.point(n + "/Pv/12/V").get("state") is None, "%s: not 13" % n)
            serials.add(s.device(n)["serial"])
        check(len(serials) == 3, "three inverters, three serials: %r" % serials)
        check(ok_value(s, "inv1/Ac/Power") > ok_value(s, "inv2/Ac/Power"), "units differ")
        d = wait_for("inv4 lost", lambda: s.device("inv4")["state"] == "lost" and
                     s.device("inv4"), 20)
        check("SunSpec" in d["status"], "inv4 status: %r" % d["status"])
    finally:
        s.close()


FAULT_WORDS = {"stop": "timeout", "delay": "timeout", "rst": "reset", "exception": "exception",
               "garbage": "garbage", "night": "null frame"}


def test_sunspec_faults_and_recovery():
    """Each fault, switched on while the device is read, becomes a clear device state; switched
    off, the device comes back by itself. A port nobody listens on reads as refused."""
    s = Site("sunspec-faults")
    try:
        procs = {}
        devices = []
        for f in sorted(FAULT_WORDS):
            p, port = emu(s, "--model", "fronius-float", "--fault", f, "--fault-idle",
                          "--delay", "2500")
            procs[f] = p
            devices.append((f, dev(port, timeout="1s")))
        devices.append(("nobody", dev(free_port(), timeout="1s")))
        # slow, but within the timeout: read normally
        _, slow = emu(s, "--model", "fronius-float", "--fault", "delay", "--delay", "400")
        devices.append(("slow", dev(slow, timeout="2s")))
        s.write_conf(devices)
        s.start_daemon()
        for f in FAULT_WORDS:
            wait_ok(s, f)
        d = wait_for("nobody lost", lambda: s.device("nobody")["state"] == "lost" and
                     s.device("nobody"), 15)
        check("refused" in d["status"], "refused: %r" % d["status"])
        wait_ok(s, "slow")
        check(s.device("slow")["counters"]["timeouts"] == 0, "slow: no timeout")
        for p in procs.values():
            p.send_signal(signal.SIGUSR1)
        for f, word in sorted(FAULT_WORDS.items()):
            d = wait_for("%s lost" % f, lambda f=f: s.device(f)["state"] == "lost" and
                         s.device(f), 20)
            check(word in d["status"], "%s: status %r lacks %r" % (f, d["status"], word))
            check(s.point(f + "/Ac/Power")["state"] == "stale", "%s: values stale" % f)
        for p in procs.values():
            p.send_signal(signal.SIGUSR1)
        for f in FAULT_WORDS:
            wait_for("%s back" % f, lambda f=f: s.device(f)["state"] == "ok" and
                     ok_value(s, f + "/Ac/Power") is not None, 45)
        check(s.device("stop")["counters"]["timeouts"] > 0, "timeouts counted")
        check(s.device("rst")["counters"]["reconnects"] > 0, "reconnects counted")
    finally:
        s.close()


def test_sunspec_dead_inverter_never_delays_others():
    """A half-open inverter (accepts, never answers) beside two live ones behind one data manager:
    the live ones keep updating every second."""
    s = Site("sunspec-dead")
    try:
        _, good = emu(s, "--model", "fronius-int", "--units", "1,2")
        _, dead = emu(s, "--model", "fronius-int", "--fault", "stop")
        s.write_conf([("a", dev(good, unit="1")), ("b", dev(good, unit="2")),
                      ("dead", dev(dead, timeout="3s"))])
        s.start_daemon()
        wait_ok(s, "a")
        wait_ok(s, "b")
        last = {"a": None, "b": None}
        gaps = {"a": [], "b": []}
        changes = {"a": 0, "b": 0}
        end = time.monotonic() + 6
        while time.monotonic() < end:
            for n in last:
                p = s.point(n + "/Ac/Power")
                check(p["state"] == "ok", "%s stayed ok" % n)
                if last[n] is not None and p["ts"] != last[n]:
                    changes[n] += 1
                gaps[n].append(p["age_ms"])
                last[n] = p["ts"]
            time.sleep(0.2)
        for n in last:
            check(changes[n] >= 4, "%s updated %d times in 6 s" % (n, changes[n]))
            check(max(gaps[n]) < 2500, "%s: a value was %d ms old" % (n, max(gaps[n])))
        check(s.device("dead")["state"] != "ok", "the dead one is not ok")
    finally:
        s.close()


def test_sunspec_scan_cli_and_daemon():
    """`sitewatch scan 127.0.0.1/30 --port N` lists what answers SunSpec; the daemon's [pvscan]
    lists it in /api/v1/devices/discovered until a [device] section reads it."""
    s = Site("sunspec-scan")
    try:
        _, port = emu(s, "--model", "sma")
        out = subprocess.run([os.path.join(BUILD, "sitewatch"), "scan", "127.0.0.1/30",
                              "--port", str(port)], capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, "scan exit %d: %s" % (out.returncode, out.stderr))
        rows = [l.split() for l in out.stdout.splitlines()[1:]]
        check(len(rows) == 1, "one device found: %r" % out.stdout)
        check(rows[0][:5] == ["127.0.0.1", str(port), "126", "SMA", "SB3.6-1AV-41"],
              "scan row %r" % rows[0])
        empty = subprocess.run([os.path.join(BUILD, "sitewatch"), "scan", "127.0.0.1/32",
                                "--port", str(free_port())], capture_output=True, text=True,
                               timeout=30)
        check(empty.returncode == 1 and len(empty.stdout.splitlines()) == 1, "nothing found")

        s.write_conf([], extra="[pvscan]\nscan = 127.0.0.1/30\nport = %d\ninterval = 10s\n"
                     "pause = 100ms\ntimeout = 500ms\n" % port)
        s.start_daemon()
        found = wait_for("discovered", lambda: s.api("/api/v1/devices/discovered")["discovered"],
                         20)
        check(len(found) == 1 and found[0]["address"] == "127.0.0.1" and found[0]["unit"] == 126
              and found[0]["state"] == "discovered, not configured" and
              found[0]["serial"] == rows[0][5], "discovered %r" % found)
        s.stop_daemon()
        s.write_conf([("sma", dev(port, unit="126"))],
                     extra="[pvscan]\nscan = 127.0.0.1/32\nport = %d\ninterval = 10s\n" % port)
        s.start_daemon()
        wait_ok(s, "sma")
        time.sleep(3)
        check(s.api("/api/v1/devices/discovered")["discovered"] == [], "configured: not listed")
    finally:
        s.close()


def test_sunspec_config_errors():
    """A bad [pvscan] range or interval is refused with file:line; a bad unit or position list
    (checked when the device opens) is the device's status."""
    s = Site("sunspec-conf")
    try:
        for extra, word in (("[pvscan]\nscan = 10.0.0.0/8\n", "scan"),
                            ("[pvscan]\nscan = 127.0.0.1/30\ninterval = 5s\n", "interval")):
            s.write_conf([], extra=extra)
            line = [l.split(" =")[0] for l in open(s.conf_path)].index(word) + 1
            out = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path,
                                  "--check-config"], capture_output=True, text=True, timeout=10)
            msg = out.stdout + out.stderr
            check(out.returncode != 0 and ("sitewatch.conf:%d: %s" % (line, word)) in msg,
                  "refused with file:line: %r" % msg)
        _, port = emu(s, "--model", "fronius-int")
        s.write_conf([("badunit", dev(port, unit="1,300")),
                      ("badpos", dev(port, position="roof"))])
        s.start_daemon()
        for name, word in (("badunit", "unit must be"), ("badpos", "position must be")):
            d = wait_for(name, lambda n=name: s.device(n)["state"] == "lost" and s.device(n), 15)
            check(word in d["status"], "%s status %r" % (name, d["status"]))
    finally:
        s.close()


def tried(site, name):
    """The units the device's last discovery tried, as [(unit, answer)], from the device status
    (the API's "discovery" field: "1: connection reset, 2: timeout, 126: SunSpec found")."""
    text = site.device(name).get("discovery") or ""
    out = []
    for entry in text.split(", "):
        unit, _, how = entry.partition(": ")
        if unit.isdigit():
            out.append((int(unit), how))
    return out


def start_and_find(site, names, deadline_s=10):
    """Starts the daemon and waits until every device in names identified itself, at most
    deadline_s from the daemon's start (the issue's bound: found within 10 s)."""
    t0 = time.monotonic()
    site.start_daemon()
    for name in names:
        left = deadline_s - (time.monotonic() - t0)
        wait_for("%s identified within %d s of the daemon's start" % (name, deadline_s),
                 lambda n=name: site.device(n)["state"] == "ok" and
                 site.device(n)["product_name"], max(left, 0.1))


def test_sunspec_auto_past_units_that_reset():
    """An SMA (the real dump) on unit 126 behind servers that reset, or close, the connection on a
    unit id they do not serve is found by unit = auto within 10 s: a reset on units 1 and 2 means
    "not this unit", not "link down". The status lists each unit tried and its answer; the unit
    found is remembered in the state directory. With nothing on any unit, the device is lost
    with every answer in its status."""
    s = Site("sunspec-reset")
    try:
        _, p_rst = emu(s, "--dump", SMA_DUMP, "--units", "126", "--unknown-unit", "reset")
        _, p_fin = emu(s, "--dump", SMA_DUMP, "--units", "126", "--unknown-unit", "close")
        _, p_none = emu(s, "--dump", SMA_DUMP, "--units", "5", "--unknown-unit", "reset")
        s.write_conf([("rst", dev(p_rst)), ("fin", dev(p_fin)), ("none", dev(p_none))])
        start_and_find(s, ("rst", "fin"))
        for name, port in (("rst", p_rst), ("fin", p_fin)):
            d = s.device(name)
            check(d["product_name"] == "SMA SB3.6-1AV-41" and d["serial"] == "3005067415",
                  "%s identity %r" % (name, d))
            check("unit 126" in d["connection"], "%s found on 126: %r" % (name, d["connection"]))
            check(tried(s, name) == [(1, "connection reset"), (2, "connection reset"),
                                     (126, "SunSpec found")],
                  "%s discovery %r" % (name, d["discovery"]))
            check(abs(ok_value(s, name + "/Ac/Power") - 1080) < 1e-9, "%s reads" % name)
            memo = open(os.path.join(s.dir, "state", "sunspec-%s.unit" % name)).read()
            check("unit = 126\n" in memo and "address = 127.0.0.1:%d\n" % port in memo,
                  "%s remembered: %r" % (name, memo))
        d = wait_for("none lost", lambda: s.device("none")["state"] == "lost" and
                     s.device("none"), 15)
        check(tried(s, "none") == [(1, "connection reset"), (2, "connection reset"),
                                   (126, "connection reset")], "none discovery %r" % d)
        check("1: connection reset, 2: connection reset, 126: connection reset" in d["status"],
              "none status %r" % d["status"])
        check(not os.path.exists(os.path.join(s.dir, "state", "sunspec-none.unit")),
              "nothing found, nothing remembered")
        # `sitewatch scan` goes on past the resets too
        out = subprocess.run([os.path.join(BUILD, "sitewatch"), "scan", "127.0.0.1/32",
                              "--port", str(p_rst), "--timeout", "500"], capture_output=True,
                             text=True, timeout=30)
        rows = [l.split() for l in out.stdout.splitlines()[1:]]
        check(out.returncode == 0 and len(rows) == 1 and rows[0][2:4] == ["126", "SMA"],
              "scan past resets: %r %r" % (out.stdout, out.stderr))
    finally:
        s.close()


def test_sunspec_auto_past_silent_units():
    """The same SMA behind a server that never answers a unit id it does not serve: each unknown
    unit costs one timeout (timeout = 500ms here), then the search goes on; found within 10 s."""
    s = Site("sunspec-silent")
    try:
        _, port = emu(s, "--dump", SMA_DUMP, "--units", "126", "--unknown-unit", "silent")
        s.write_conf([("sma", dev(port, timeout="500ms"))])
        start_and_find(s, ("sma",))
        d = s.device("sma")
        check(d["product_name"] == "SMA SB3.6-1AV-41" and "unit 126" in d["connection"],
              "identity %r" % d)
        check(tried(s, "sma") == [(1, "timeout"), (2, "timeout"), (126, "SunSpec found")],
              "discovery %r" % d["discovery"])
        check(d["counters"]["timeouts"] >= 2, "timeouts counted: %r" % d["counters"])
    finally:
        s.close()


def test_sunspec_remembered_unit_tried_first():
    """After a restart the unit found last time is asked first (and alone, when it answers);
    a corrupt state file is a warning and the configured order; a memo of another address is
    forgotten."""
    s = Site("sunspec-memo")
    try:
        _, port = emu(s, "--dump", SMA_DUMP, "--units", "126", "--unknown-unit", "reset")
        s.write_conf([("sma", dev(port))])
        start_and_find(s, ("sma",))
        check(tried(s, "sma")[0] == (1, "connection reset"), "first run from unit 1")
        s.stop_daemon()

        start_and_find(s, ("sma",))
        check(tried(s, "sma") == [(126, "SunSpec found")],
              "restart: 126 tried first and alone: %r" % s.device("sma")["discovery"])
        check("units tried (the remembered one first): 126: SunSpec found" in s.log(),
              "the log says so")
        s.stop_daemon()

        memo = os.path.join(s.dir, "state", "sunspec-sma.unit")
        with open(memo, "w") as f:
            f.write("unit = three\n")
        start_and_find(s, ("sma",))
        check(tried(s, "sma")[0] == (1, "connection reset"), "corrupt memo: configured order")
        check("unreadable; ignored" in s.log(), "corrupt memo: a warning")
        check("unit = 126\n" in open(memo).read(), "memo written again")
        s.stop_daemon()

        with open(memo, "w") as f:
            f.write("unit = 126\naddress = 192.0.2.1:502\n")
        start_and_find(s, ("sma",))
        check(tried(s, "sma")[0] == (1, "connection reset"), "another address: forgotten")
    finally:
        s.close()
