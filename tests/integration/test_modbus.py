"""Integration tests of the Modbus-TCP server: the real daemon (ASan build) serving the emulated
demo site (sitewatch-emu site), read with a libmodbus client (build/bench/mb_load) and Debian's
mbpoll, compared with /api/v1/points through an independent Python implementation of the GX
conversions (etc/modbus-map.csv rows: type, scale, sentinels)."""
import csv
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from itlib import BUILD, Site, check, free_port, wait_for

MB_LOAD = os.path.join(os.path.dirname(BUILD.rstrip("/")) or ".", "bench", "mb_load")
MAP = os.path.abspath("etc/modbus-map.csv")
REGRESSIONS = os.path.abspath("tests/fuzz/regressions/fuzz_mbserver")
TYPES = {"int16": (1, True), "uint16": (1, False), "int32": (2, True), "uint32": (2, False),
         "uint64": (4, False)}


def load_map():
    rows = []
    with open(MAP, newline="") as f:
        for r in csv.reader(line for line in f if not line.startswith("#")):
            t = r[5]
            m = re.match(r"(string|reserved|INTERNAL)\[(\d+)\]$", t)
            n = int(m.group(2)) if m else TYPES[t][0]
            rows.append({"service": r[0].split(".")[-1], "path": r[1].lstrip("/"), "reg": int(r[4]),
                         "type": m.group(1) if m else t, "n": n,
                         "scale": float(r[6]) if r[6] else 1.0, "rw": r[7]})
    return rows


def mb(port, *args):
    """Runs the libmodbus client: a list of registers, or 'exception 0xNN' / 'error ...'."""
    out = subprocess.run([MB_LOAD] + [str(a) for a in args[:1]] + ["127.0.0.1", str(port)] +
                         [str(a) for a in args[1:]], capture_output=True, text=True, timeout=30)
    line = out.stdout.strip()
    if line and line[0].isdigit():
        return [int(x) for x in line.split()]
    return line


def mbpoll(port, unit, reg, count, kind="4"):
    out = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1",
                          "-o", "3", "-B", "-t", kind, "-r", str(reg), "-c", str(count),
                          "127.0.0.1"], capture_output=True, text=True, timeout=30)
    vals = re.findall(r"^\[(\d+)\]:\s+(-?\d+)", out.stdout, re.M)
    return {int(a): int(b) for a, b in vals}, out.stdout + out.stderr


def expect_regs(row, point, dev):
    """The registers a GX-compatible server must answer for row, from the API's view."""
    n, t, scale = row["n"], row["type"], row["scale"]
    if t in ("reserved", "INTERNAL"):
        return [0xFFFF] * n
    if t == "string":
        text = {"Serial": dev.get("serial", ""), "CustomName": dev["name"],
                "ProductName": dev.get("product_name", "")}.get(row["path"], "") or ""
        b = text.encode()[:2 * n].ljust(2 * n, b"\0")
        return [b[2 * i] << 8 | b[2 * i + 1] for i in range(n)]
    signed = TYPES[t][1]
    bits = 16 * n
    value = None
    if point is not None:
        value = point["value"] if point["state"] == "ok" else None
    elif row["path"] == "ProductId" and dev.get("product_id"):
        value = dev["product_id"]
    elif row["path"] == "DeviceInstance" and dev.get("instance", -1) >= 0:
        value = dev["instance"]
    if value is None:
        raw = (1 << (bits - 1)) if signed else (1 << bits) - 1
    else:
        x = value * scale
        raw = int(x + 0.5) if x >= 0 else -int(-x + 0.5)  # half away from zero, like the GX
        lo, hi = (-(1 << (bits - 1)) + 1, (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 2)
        raw = max(lo, min(hi, raw)) & ((1 << bits) - 1)
    return [(raw >> (16 * (n - 1 - i))) & 0xFFFF for i in range(n)]


def blocks(rows):
    """Contiguous runs of rows, cut to at most 125 registers per read."""
    out, cur = [], []
    for r in sorted(rows, key=lambda r: r["reg"]):
        if cur and (r["reg"] != cur[-1]["reg"] + cur[-1]["n"] or
                    r["reg"] + r["n"] - cur[0]["reg"] > 125):
            out.append(cur)
            cur = []
        cur.append(r)
    if cur:
        out.append(cur)
    return out


def read_unit(port, unit, rows):
    regs = {}
    for b in blocks(rows):
        qty = b[-1]["reg"] + b[-1]["n"] - b[0]["reg"]
        vals = mb(port, "read", unit, b[0]["reg"], qty)
        check(isinstance(vals, list), "read unit %d @%d x%d: %s" % (unit, b[0]["reg"], qty, vals))
        for i, v in enumerate(vals):
            regs[b[0]["reg"] + i] = v
    return regs


def demo_site(s, extra_modbus="", devices_extra=None):
    s.emulator("site", "--dir", s.dir)
    mport = free_port()
    devs = []
    for name in ("bmv", "mppt1", "mppt2"):
        keys = {"driver": "vedirect", "port": os.path.join(s.dir, name)}
        keys.update((devices_extra or {}).get(name, {}))
        devs.append((name, keys))
    extra = ("[modbus_server]\nlisten = 127.0.0.1:%d\nmap = %s\nidle_timeout = 3s\n%s" %
             (mport, MAP, extra_modbus))
    s.write_conf(devs, extra)
    s.start_daemon()
    wait_for("three units", lambda: len(s.api("/api/v1/modbus/units")["units"]) == 4, 20)
    return mport, devs, extra


def test_modbus_every_register_matches_points():
    """Every mapped register of every unit of the demo site (system, BMV, two MPPTs), read with
    libmodbus, equals the API's point after the GX conversion (16/32-bit, negative and fractional
    scales, strings, stale/unset → sentinel); mbpoll reads the same; the discovery block on unit
    100 lists the units of GET /api/v1/modbus/units."""
    s = Site("modbus-map")
    try:
        mport, _, _ = demo_site(s)
        units = s.api("/api/v1/modbus/units")["units"]
        byname = {u["device"]: u for u in units}
        check(byname["system"]["unit"] == 100, "system on 100: %r" % units)
        check((byname["bmv"]["unit"], byname["mppt1"]["unit"], byname["mppt2"]["unit"]) ==
              (239, 238, 237), "GX USB VE.Direct unit ids: %r" % units)
        check(byname["bmv"]["service"] == "battery" and byname["mppt1"]["service"] ==
              "solarcharger", "classes: %r" % units)
        disc = mb(mport, "read", 100, 1400, 2 + 10 * len(units))
        check(disc[0] == len(units) and disc[1] == 10, "discovery header %r" % disc[:2])
        for i, u in enumerate(units):
            e = disc[2 + 10 * i: 12 + 10 * i]
            name = b"".join(bytes([w >> 8, w & 255]) for w in e[4:10]).rstrip(b"\0").decode()
            check(e[0] == u["unit"] and e[1] == u["code"] and e[2] == u["product_id"] and
                  name == u["service"], "discovery entry %d %r vs %r" % (i, e, u))
        rows = load_map()
        devices = {d["name"]: d for d in s.api("/api/v1/devices")["devices"]}
        devices["system"] = {"name": "system", "instance": 0}
        checked = set()
        for u in units:
            urows = [r for r in rows if r["service"] == u["service"]]
            dev = devices[u["device"]]
            mismatches = None
            for _attempt in range(4):
                before = read_unit(mport, u["unit"], urows)
                points = s.api("/api/v1/points?prefix=%s/" % u["device"])["points"]
                after = read_unit(mport, u["unit"], urows)
                mismatches = []
                for r in urows:
                    exp = expect_regs(r, points.get("%s/%s" % (u["device"], r["path"])), dev)
                    got_b = [before[r["reg"] + i] for i in range(r["n"])]
                    got_a = [after[r["reg"] + i] for i in range(r["n"])]
                    if exp != got_b and exp != got_a:
                        mismatches.append((r["reg"], r["path"], exp, got_b, got_a))
                    elif ("%s/%s" % (u["device"], r["path"]) in points or
                          r["path"] in ("ProductId", "Serial", "CustomName")):
                        checked.add((u["service"], r["type"], r["scale"] < 0, 0 < abs(r["scale"]) < 1))
                if not mismatches:
                    break
                time.sleep(0.3)  # a value changed twice between the reads: look again
            check(not mismatches, "unit %d (%s): %r" % (u["unit"], u["device"], mismatches[:5]))
        kinds = {(t, neg, frac) for (_, t, neg, frac) in checked}
        for want in (("uint16", False, False), ("int16", False, False), ("uint32", False, False),
                     ("uint16", True, False), ("uint16", False, True), ("string", False, False)):
            check(want in kinds, "no mapped point of kind %r was compared: %r" % (want, kinds))
        # stale/unset → sentinel: the site has no SoC source for the system yet
        soc = s.api("/api/v1/points").get("points", {}).get("system/Dc/Battery/Soc")
        if soc is None or soc["state"] != "ok":
            check(mb(mport, "read", 100, 843, 1) == [0xFFFF], "system SoC without a value")
        # mbpoll (Debian) agrees with libmodbus: 16-bit block and a 32-bit big-endian value
        for unit, reg, cnt in ((239, 259, 8), (238, 771, 10), (100, 840, 7)):
            for _attempt in range(4):
                a = mb(mport, "read", unit, reg, cnt)
                got, text = mbpoll(mport, unit, reg, cnt)
                b = mb(mport, "read", unit, reg, cnt)
                vals = [got.get(reg + i) for i in range(cnt)]
                if [v & 0xFFFF if v is not None else None for v in vals] in (a, b):
                    break
                time.sleep(0.3)
            else:
                check(False, "mbpoll unit %d @%d: %r vs %r / %r\n%s" % (unit, reg, vals, a, b, text))
        for _attempt in range(4):
            a = mb(mport, "read", 238, 792, 2)
            got, text = mbpoll(mport, 238, 792, 1, "4:int")
            b = mb(mport, "read", 238, 792, 2)
            if got.get(792) in ((a[0] << 16 | a[1]), (b[0] << 16 | b[1])):
                break
            time.sleep(0.3)
        else:
            check(False, "mbpoll uint32 @792: %r vs %r\n%s" % (got, a, text))
    finally:
        s.close()


def raw_request(port, frame, timeout=3):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(frame)
        return c.recv(300)


def test_modbus_exceptions_like_a_gx():
    """0x02 unknown address and a gap, 0x03 bad quantity, 0x0A unit without that service (or
    without any), 0x01 unsupported function; FC4 reads the same map as FC3."""
    s = Site("modbus-exc")
    try:
        mport, _, _ = demo_site(s)
        check(mb(mport, "read", 100, 1344, 1) == "exception 0x02", "unused address")
        check(mb(mport, "read", 100, 60000, 1) == "exception 0x02", "address past the map")
        check(mb(mport, "read", 100, 916, 6) == "exception 0x02", "gap after 919")
        check(mb(mport, "read", 100, 1720, 5) == "exception 0x02", "past the discovery block")
        check(mb(mport, "read", 100, 840, 126) == "exception 0x03", "126 registers")
        check(mb(mport, "read", 100, 840, 0) == "exception 0x03", "0 registers")
        check(isinstance(mb(mport, "read", 227, 771, 125, 3), str), "125 from 771 runs into a gap")
        check(isinstance(mb(mport, "read", 100, 800, 120, 3), list), "120 system registers")
        check(mb(mport, "read", 7, 840, 1) == "exception 0x0A", "unit with no service")
        check(mb(mport, "read", 227, 840, 1) == "exception 0x0A", "system register on an MPPT")
        check(mb(mport, "read", 100, 771, 1) == "exception 0x0A", "MPPT register on unit 100")
        fc4 = mb(mport, "read", 100, 1400, 2, 4)
        check(fc4 == mb(mport, "read", 100, 1400, 2, 3), "FC4 = FC3: %r" % fc4)
        # FC1 (read coils): illegal function, with mbpoll and on the wire
        _, text = mbpoll(mport, 100, 840, 1, "0")
        check("Illegal function" in text, "mbpoll coils: %s" % text)
        rsp = raw_request(mport, bytes([0, 7, 0, 0, 0, 6, 100, 1, 0, 0, 0, 1]))
        check(rsp == bytes([0, 7, 0, 0, 0, 3, 100, 0x81, 0x01]), "raw FC1 reply %r" % rsp)
    finally:
        s.close()


def test_modbus_stale_sentinel_then_zero_mode():
    """A stopped site goes stale: registers read the SunSpec sentinels (0xFFFF unsigned, 0x8000
    signed, 0xFFFFFFFF for uint32); with invalid = zero (after SIGHUP) they read 0 like a GX."""
    s = Site("modbus-stale")
    try:
        mport, devs, extra = demo_site(s)
        wait_for("MPPT values", lambda: mb(mport, "read", 238, 771, 1)[0] not in (0, 0xFFFF), 10)
        emu = s.procs[0]
        emu.send_signal(signal.SIGSTOP)
        try:
            wait_for("stale MPPT", lambda: s.point("mppt1/Dc/0/Voltage")["state"] == "stale", 15)
            check(mb(mport, "read", 238, 771, 2) == [0xFFFF, 0x8000], "uint16/int16 sentinels")
            check(mb(mport, "read", 238, 792, 2) == [0xFFFF, 0xFFFF], "uint32 sentinel")
            check(mb(mport, "read", 239, 259, 1) == [0xFFFF], "battery voltage sentinel")
            s.write_conf(devs, extra + "invalid = zero\n")
            s.daemon.send_signal(signal.SIGHUP)
            wait_for("zero mode", lambda: mb(mport, "read", 238, 771, 2) == [0, 0], 15)
            check(mb(mport, "read", 238, 792, 2) == [0, 0], "uint32 zero")
            check(mb(mport, "read", 238, 782, 2) == [0xFFFF, 0xFFFF], "reserved stays 0xFFFF")
        finally:
            emu.send_signal(signal.SIGCONT)
        wait_for("values again", lambda: mb(mport, "read", 238, 771, 1)[0] not in (0, 0xFFFF), 15)
    finally:
        s.close()


def test_modbus_writes_allow_list():
    """Writes are refused by default (0x02); allow_write = 774:1:4 enables the solarcharger Mode
    only on a device with allow_control = yes, only with values within limits and meaning
    something (0x03 otherwise); a permitted write switches the MPPT off and on again."""
    s = Site("modbus-write")
    try:
        ctl = {"mppt1": {"allow_control": "yes"}}
        mport, devs, extra = demo_site(s, devices_extra=ctl)
        check(mb(mport, "write", 238, 774, 4) == "exception 0x02", "write refused by default")
        s.write_conf(devs, extra + "allow_write = 774:1:4\n")
        s.daemon.send_signal(signal.SIGHUP)
        wait_for("reloaded", lambda: "reload" in s.log() and
                 isinstance(mb(mport, "read", 238, 771, 1), list), 15)
        check(mb(mport, "write", 237, 774, 4) == "exception 0x02", "mppt2 has no allow_control")
        check(mb(mport, "write", 238, 771, 4) == "exception 0x02", "read-only register")
        check(mb(mport, "write", 238, 774, 5) == "exception 0x03", "above the limit")
        check(mb(mport, "write", 238, 774, 2) == "exception 0x03", "2 is no mode of an MPPT")
        check(mb(mport, "write", 7, 774, 4) == "exception 0x0A", "no such unit")
        check(mb(mport, "write", 238, 774, 4) == "ok", "mode off")
        wait_for("MPPT off", lambda: mb(mport, "read", 238, 775, 1) == [0], 10)
        check(mb(mport, "write", 238, 774, 1) == "ok", "mode on")
        wait_for("MPPT charging", lambda: mb(mport, "read", 238, 775, 1)[0] not in (0, 0xFFFF), 10)
    finally:
        s.close()


def write_frame(tid, unit, fc, reg, values):
    """An FC6 (one value) or FC16 write request, built here independently of the C code."""
    if fc == 6:
        pdu = bytes([6, reg >> 8, reg & 255, values[0] >> 8, values[0] & 255])
    else:
        pdu = bytes([16, reg >> 8, reg & 255, 0, len(values), 2 * len(values)])
        pdu += b"".join(bytes([v >> 8, v & 255]) for v in values)
    return bytes([tid >> 8, tid & 255, 0, 0, 0, len(pdu) + 1, unit]) + pdu


def read_replies(c, n, timeout=15):
    """n MBAP replies from socket c as (tid, pdu) pairs."""
    c.settimeout(timeout)
    data, out = b"", []
    while len(out) < n:
        while len(data) < 6 or len(data) < 6 + (data[4] << 8 | data[5]):
            chunk = c.recv(300)
            check(chunk, "the server closed after %d of %d replies" % (len(out), n))
            data += chunk
        ln = 6 + (data[4] << 8 | data[5])
        out.append((data[0] << 8 | data[1], data[7:ln]))
        data = data[ln:]
    return out


def raw_writes(port, frames):
    """Sends the frames in one segment (pipelined, like the fuzzer's input) and returns the
    PDUs of their replies, in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"".join(frames))
        replies = read_replies(c, len(frames))
    tids = [f[0] << 8 | f[1] for f in frames]
    check([t for t, _ in replies] == tids, "replies out of order: %r vs %r" % (replies, tids))
    return [pdu for _, pdu in replies]


def test_modbus_vebus_writes_fc6_fc16_end_to_end():
    """Writes to the VE.Bus unit 227 reach the Multi (issue 14: the write path was untested end
    to end): the AC input current limit (register 22, x10) by FC6 and by FC16, Mode (33), both
    pipelined in one segment, each acknowledged with the request's echo only once the Multi took
    it; refused writes get the GX's exceptions; writes through Modbus and the HTTP command route
    at the same time each get their own result; the fuzzer's night-time input leaves the server
    serving."""
    s = Site("modbus-vebus-write")
    try:
        multi, _ = s.emulator("vebus", "--pty", s.pty("multi"))
        mport = free_port()
        s.write_conf([("multi", {"driver": "vebus", "port": s.pty("multi"), "allow_control": "yes"})],
                     "[modbus_server]\nlisten = 127.0.0.1:%d\nmap = %s\n"
                     "allow_write = 33:1:4, 22:0:50\n" % (mport, MAP))
        s.start_daemon()
        wait_for("multi on unit 227", lambda: any(
            u["unit"] == 227 and u["device"] == "multi"
            for u in s.api("/api/v1/modbus/units")["units"]), 20)
        wait_for("the Multi's limit", lambda: s.point("multi/Ac/ActiveIn/CurrentLimit")["state"]
                 == "ok", 20)
        check(mb(mport, "read", 227, 22, 1) == [160], "limit 16.0 A at start")

        def limit():
            return mb(mport, "read", 227, 22, 1)

        # FC6: 10.0 A
        (pdu,) = raw_writes(mport, [write_frame(1, 227, 6, 22, [100])])
        check(pdu == bytes([6, 0, 22, 0, 100]), "FC6 echo %r" % pdu)
        wait_for("limit 10.0 A", lambda: limit() == [100], 15)
        check(s.point("multi/Ac/ActiveIn/CurrentLimit")["value"] == 10.0, "API limit")
        # FC16, one register: 12.5 A
        (pdu,) = raw_writes(mport, [write_frame(2, 227, 16, 22, [125])])
        check(pdu == bytes([16, 0, 22, 0, 1]), "FC16 echo %r" % pdu)
        wait_for("limit 12.5 A", lambda: limit() == [125], 15)
        # FC6 then FC16 in one segment: mode off, then the limit; both done, in order
        pdus = raw_writes(mport, [write_frame(3, 227, 6, 33, [4]),
                                  write_frame(4, 227, 16, 22, [200])])
        check(pdus == [bytes([6, 0, 33, 0, 4]), bytes([16, 0, 22, 0, 1])], "pipelined %r" % pdus)
        wait_for("mode off, limit 20 A", lambda: s.point("multi/Mode")["value"] == 4 and
                 limit() == [200], 15)
        pdus = raw_writes(mport, [write_frame(5, 227, 6, 33, [3])])
        check(pdus == [bytes([6, 0, 33, 0, 3])], "mode on %r" % pdus)
        wait_for("mode on", lambda: s.point("multi/Mode")["value"] == 3, 15)
        # refused: register 23 is read-only (FC16 over 22..23), above the allow-list, below
        # what the Multi accepts (6 A: the driver refuses, a server failure like the GX's),
        # and a unit with nothing behind it
        for frame, want in ((write_frame(6, 227, 16, 22, [100, 1]), 0x02),
                            (write_frame(7, 227, 6, 22, [510]), 0x03),
                            (write_frame(8, 227, 6, 22, [50]), 0x04),
                            (write_frame(9, 9, 6, 22, [100]), 0x0A)):
            (pdu,) = raw_writes(mport, [frame])
            check(pdu == bytes([frame[7] | 0x80, want]), "exception %r for %r" % (pdu, frame))
        check(limit() == [200], "a refused write changed the limit: %r" % limit())
        # the Modbus writer and the HTTP command route at once: each its own result
        errors = []

        def modbus_side():
            for i in range(6):
                v = 100 + 10 * (i % 3)
                try:
                    (p,) = raw_writes(mport, [write_frame(20 + i, 227, 16, 22, [v])])
                    if p != bytes([16, 0, 22, 0, 1]):
                        errors.append(("modbus", i, p))
                except Exception as e:  # reported below, not lost in the thread
                    errors.append(("modbus", i, repr(e)))

        t = threading.Thread(target=modbus_side)
        t.start()
        for i in range(6):
            body = json.dumps({"command": "mode", "value": "on"}).encode()
            code, text = s.http("/api/v1/devices/multi/command", "POST", body)
            if code != 200:
                errors.append(("http", i, code, text))
        t.join(120)
        check(not t.is_alive() and not errors, "concurrent writes: %r" % errors)
        wait_for("the last limit", lambda: limit() == [120], 15)
        # the input the fuzzer saved at night (tests/fuzz/regressions/fuzz_mbserver/), then a read
        with open(os.path.join(REGRESSIONS, "issue14-night-29-bytes"), "rb") as f:
            night = f.read()
        with socket.create_connection(("127.0.0.1", mport), timeout=5) as c:
            c.sendall(night)
            c.shutdown(socket.SHUT_WR)
            c.settimeout(10)
            while c.recv(300):
                pass
        check(limit() == [120], "after the night-time input")
        check("Sanitizer" not in s.log() and "runtime error" not in s.log(), "sanitizer report")
    finally:
        s.close()


def test_modbus_64_clients_and_misbehaving_ones():
    """64 libmodbus clients read a 50-register block at once with no failed read, while a client
    holds half a frame and another sends requests without reading replies; the half-open one is
    closed after idle_timeout; max_clients and allow_from refuse connections."""
    s = Site("modbus-load")
    try:
        mport, devs, extra = demo_site(s)
        half = socket.create_connection(("127.0.0.1", mport))
        half.sendall(bytes([0, 1, 0, 0, 0, 6, 100]))  # header without its PDU
        deaf = socket.create_connection(("127.0.0.1", mport))
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        frame = bytes([0, 2, 0, 0, 0, 6, 100, 3, 3, 0x20, 0, 120])  # 120 registers from 800
        deaf.setblocking(False)
        sent = 0
        try:
            for _ in range(3000):
                sent += deaf.send(frame)
        except BlockingIOError:
            pass
        # the console's diagnostics list the connected SCADA clients
        cl = wait_for("two clients listed", lambda: (lambda d: d if len(d["clients"]) >= 2
                                                         else None)(
            s.api("/api/v1/modbus/clients")), 10)
        check(all(c["peer"] == "127.0.0.1" and c["since"] > 0 for c in cl["clients"]) and
              max(c["requests"] for c in cl["clients"]) >= 1, "clients %r" % cl)
        t0 = time.monotonic()
        out = subprocess.run([MB_LOAD, "load", "127.0.0.1", str(mport), "100", "800", "50", "64",
                              "4"], capture_output=True, text=True, timeout=60).stdout
        m = re.search(r"clients=(\d+) reads=(\d+) failed=(\d+) connect_failed=(\d+)", out)
        check(m and m.group(1) == "64", "64 clients: %r" % out)
        check(int(m.group(3)) == 0 and int(m.group(4)) == 0, "failed reads: %r" % out)
        check(int(m.group(2)) >= 64 * 4, "too few reads: %r" % out)
        check(time.monotonic() - t0 < 30, "load took %.1f s" % (time.monotonic() - t0))
        # the half-open client is dropped after idle_timeout (3 s)
        half.settimeout(10)
        check(half.recv(10) == b"", "half-open client closed")
        half.close()
        deaf.close()
        # connection limit and client allow-list (after a reload)
        s.write_conf(devs, extra + "max_clients = 2\n")
        s.daemon.send_signal(signal.SIGHUP)
        time.sleep(1)
        wait_for("reloaded", lambda: isinstance(mb(mport, "read", 100, 1400, 1), list), 15)
        a = socket.create_connection(("127.0.0.1", mport))
        b = socket.create_connection(("127.0.0.1", mport))
        time.sleep(0.3)
        c = socket.create_connection(("127.0.0.1", mport))
        c.settimeout(5)
        check(c.recv(10) == b"", "third connection refused at max_clients = 2")
        for x in (a, b, c):
            x.close()
        s.write_conf(devs, extra + "allow_from = 10.0.0.0/8\n")
        s.daemon.send_signal(signal.SIGHUP)
        wait_for("allow_from applied",
                 lambda: str(mb(mport, "read", 100, 1400, 1)).startswith("error"), 15)
    finally:
        s.close()


def test_modbus_config_errors_name_file_line():
    """A wrong [modbus_server] value is refused with file:line and what was expected."""
    s = Site("modbus-conf")
    try:
        for line, want in (("units = bmv=100", "units = bmv=100: expected device=unit"),
                           ("allow_write = 33:4:1", "allow_write = 33:4:1: expected register:min:max"),
                           ("allow_from = 10.0.0.300", "allow_from = 10.0.0.300: expected any"),
                           ("invalid = nan", "invalid = nan: expected sentinel or zero"),
                           ("listen = nowhere", "listen = nowhere: expected host:port")):
            s.write_conf([], "[modbus_server]\n%s\n" % line)
            out = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path,
                                  "--check-config"], capture_output=True, text=True, timeout=30)
            text = out.stdout + out.stderr
            check(out.returncode != 0 and "sitewatch.conf:9: " + want in text,
                  "%s: rc %d, %r" % (line, out.returncode, text))
    finally:
        s.close()
