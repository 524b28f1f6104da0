"""Integration tests of the VE.Direct foundation: the real daemon (ASan build) against emulated
devices on ptys and TCP, checked through the JSON API and the CLI."""
import decimal
import json
import os
import signal
import socket
import subprocess
import time

from itlib import BUILD, TESTDATA, Site, capture_values, check, free_port, wait_for



def ok_value(site, key):
    p = site.point(key)
    return p["value"] if p["state"] == "ok" else None


def test_replayed_capture_values():
    """A real BMV-700 and a real BlueSolar capture replayed at VE.Direct pacing: every published
    value is one the device actually sent, scaled to display units."""
    s = Site("replay")
    try:
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--replay",
                   os.path.join(TESTDATA, "vedirect/karioja_bvm702.dump"))
        s.emulator("vedirect", "--pty", s.pty("mppt"), "--replay",
                   os.path.join(TESTDATA, "vedirect/karioja_bluesolar_1.23.dump"))
        # hex = no: the replaying emulator would answer HEX Gets from its own model, which
        # need not agree with the capture; the capture's own async HEX frames are still read.
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"), "hex": "no"}),
                      ("mppt", {"driver": "vedirect", "port": s.pty("mppt"), "hex": "no"})])
        s.start_daemon()
        wait_for("bmv/Soc ok", lambda: ok_value(s, "bmv/Soc") is not None, 8)
        wait_for("mppt/Pv/V ok", lambda: ok_value(s, "mppt/Pv/V") is not None, 8)
        cases = [("bmv/Dc/0/Voltage", "karioja_bvm702.dump", "V", 0.001),
                 ("bmv/Dc/0/Current", "karioja_bvm702.dump", "I", 0.001),
                 ("bmv/Soc", "karioja_bvm702.dump", "SOC", 0.1),
                 ("bmv/ConsumedAmphours", "karioja_bvm702.dump", "CE", 0.001),
                 ("bmv/TimeToGo", "karioja_bvm702.dump", "TTG", 60),
                 ("bmv/History/DeepestDischarge", "karioja_bvm702.dump", "H1", 0.001),
                 ("bmv/History/ChargeCycles", "karioja_bvm702.dump", "H4", 1),
                 ("bmv/History/ChargedEnergy", "karioja_bvm702.dump", "H18", 0.01),
                 ("mppt/Pv/V", "karioja_bluesolar_1.23.dump", "VPV", 0.001),
                 ("mppt/Yield/Power", "karioja_bluesolar_1.23.dump", "PPV", 1),
                 ("mppt/Dc/0/Current", "karioja_bluesolar_1.23.dump", "I", 0.001),
                 ("mppt/State", "karioja_bluesolar_1.23.dump", "CS", 1),
                 ("mppt/History/Daily/1/Yield", "karioja_bluesolar_1.23.dump", "H22", 0.01)]
        for key, cap, label, scale in cases:
            sent = {round(int(v) * scale, 6) for v in capture_values("vedirect/" + cap, label)}
            check(sent, "no %s in %s" % (label, cap))
            v = ok_value(s, key)
            check(v is not None and round(v, 6) in sent,
                  "%s = %r is not one of the values the device sent (%s ...)" %
                  (key, v, sorted(sent)[:5]))
        d = s.device("bmv")
        check(d["product_id"] == "0x0203" and d["product_name"] == "BMV-700",
              "bmv identity %r" % d)
        check(d["service"] == "battery" and d["firmware"] == "3.08" and d["state"] == "ok",
              "bmv class/firmware/state %r" % d)
        check(d["counters"]["frames_ok"] > 0 and d["counters"]["bytes"] > 0, "counters %r" % d)
        m = s.device("mppt")
        check(m["service"] == "solarcharger" and m["serial"] == "HQ1411MYIKN" and
              m["firmware"] == "1.23", "mppt identity %r" % m)
        # the BMV-700 has no temperature sensor field: no point, never a 0
        check("bmv/Dc/0/Temperature" not in s.api("/api/v1/points?prefix=bmv/")["points"],
              "a temperature point appeared for a BMV-700")
        # the async HEX history records (0x1050) of the BlueSolar are decoded
        wait_for("mppt HEX history", lambda: ok_value(s, "mppt/History/Daily/0/MaxPower") is not None, 15)
        check(ok_value(s, "mppt/History/Daily/0/MaxPower") == 11.0, "daily MaxPower != 11 W")
    finally:
        s.close()


def decimal_text(raw, exp10):
    """The device's decimal in its shortest text, by decimal arithmetic: "-5526294" at -3 is
    "-5526.294", "12000" at -3 is "12"."""
    d = decimal.Decimal(int(raw)).scaleb(exp10).normalize()
    return format(d, "f")


def test_cli_prints_values_as_sent():
    """Issue 14: `sitewatch get` and `sitewatch points` print a value as the device sent it, in
    its shortest form (-1876.218 Ah, not %g's -1876.22 nor jansson's 17 digits), and so does
    the JSON API. A real BMV-712 capture (vedirect-rs: one main and one history block, replayed
    in a loop, so every value stays what the device sent)."""
    s = Site("cliexact")
    try:
        cap = "vedirect/vedirect-rs_bmv712smart_pidA381.raw"
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--replay", os.path.join(TESTDATA, cap))
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"), "hex": "no"})])
        s.start_daemon()
        cases = [("bmv/History/TotalAhDrawn", "H6", -3), ("bmv/History/TimeSinceLastFullCharge",
                  "H9", 0), ("bmv/History/MinimumVoltage", "H7", -3),
                 ("bmv/Dc/0/Voltage", "V", -3), ("bmv/Dc/0/Current", "I", -3),
                 ("bmv/ConsumedAmphours", "CE", -3), ("bmv/Soc", "SOC", -1)]
        sent = {key: {decimal_text(v, e) for v in capture_values(cap, label)}
                for key, label, e in cases}
        check(sent["bmv/History/TotalAhDrawn"] == {"-1876.218"}, "capture H6 %r" % sent)
        for key, _, _ in cases:
            wait_for(key + " ok", lambda k=key: ok_value(s, k) is not None, 8)
        cli = [os.path.join(BUILD, "sitewatch"), "-u", "http://127.0.0.1:%d" % s.port]
        for key, _, _ in cases:
            out = subprocess.run(cli + ["get", key], capture_output=True, text=True, timeout=10)
            check(out.returncode == 0, "get %s: %s" % (key, out.stderr))
            text = out.stdout.split()[0] if out.stdout.split() else ""
            check(text in sent[key], "sitewatch get %s printed %r; the device sent %s" %
                  (key, out.stdout, sorted(sent[key])))
        # the JSON text itself: numbers kept as the literal strings printed
        out = subprocess.run(cli + ["points", "bmv/"], capture_output=True, text=True, timeout=10)
        check(out.returncode == 0, "points: %s" % out.stderr)
        api = json.loads(s.http("/api/v1/points?prefix=bmv/")[1], parse_float=str)
        for name, doc in (("sitewatch points", json.loads(out.stdout, parse_float=str)),
                          ("/api/v1/points", api)):
            for key, _, _ in cases:
                lit = doc["points"][key]["value"]
                want = {t if "." in t else t + ".0" for t in sent[key]}  # a JSON real keeps .0
                check(lit in want, "%s printed %s = %s; the device sent %s" %
                      (name, key, lit, sorted(want)))
        lit = json.loads(s.http("/api/v1/points/bmv/History/TotalAhDrawn")[1],
                         parse_float=str)["value"]
        check(lit == "-1876.218", "/api/v1/points/<key> serves TotalAhDrawn = %s" % lit)
    finally:
        s.close()


def site_model_site(s, hex_interval="2s"):
    s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712", "--serial", "HQ2201AAAAA")
    s.emulator("vedirect", "--pty", s.pty("mppt1"), "--kind", "mppt", "--pid", "0xA056",
               "--serial", "HQ2201BBBBB")
    s.emulator("vedirect", "--pty", s.pty("mppt2"), "--kind", "mppt", "--pid", "0xA058",
               "--serial", "HQ2201CCCCC")
    s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"),
                           "hex_interval": hex_interval}),
                  ("mppt1", {"driver": "vedirect", "port": s.pty("mppt1"),
                             "hex_interval": hex_interval}),
                  ("mppt2", {"driver": "vedirect", "port": s.pty("mppt2"),
                             "hex_interval": hex_interval})])
    s.start_daemon()
    for name in ("bmv", "mppt1", "mppt2"):
        wait_for(name + " ok", lambda n=name: s.device(n)["state"] == "ok", 8)


def test_two_mppts_side_by_side_and_hex():
    """Two devices of one driver keep their own identity and values; HEX fills in what the
    text protocol lacks (battery capacity, MPPT daily history)."""
    s = Site("two")
    try:
        site_model_site(s)
        a, b = s.device("mppt1"), s.device("mppt2")
        check(a["product_id"] == "0xA056" and a["serial"] == "HQ2201BBBBB", "mppt1 %r" % a)
        check(b["product_id"] == "0xA058" and b["serial"] == "HQ2201CCCCC", "mppt2 %r" % b)
        check(a["instance"] != b["instance"], "both MPPTs got instance %r" % a["instance"])
        check(s.device("bmv")["product_name"] == "BMV-712 Smart", "bmv product")
        for key in ("mppt1/Pv/V", "mppt2/Pv/V", "bmv/Dc/0/Voltage", "bmv/Soc"):
            wait_for(key, lambda k=key: ok_value(s, k) is not None, 5)
        # one battery: the chargers and the monitor see the same bank voltage
        vb, v1 = ok_value(s, "bmv/Dc/0/Voltage"), ok_value(s, "mppt1/Dc/0/Voltage")
        check(abs(vb - v1) < 1.0, "bmv %.2f V vs mppt1 %.2f V disagree" % (vb, v1))
        wait_for("bmv/Capacity via HEX", lambda: ok_value(s, "bmv/Capacity"), 10)
        check(ok_value(s, "bmv/Capacity") > 0, "capacity")
        # days 2.. and the system yield exist only in HEX registers (the text has today and
        # yesterday)
        wait_for("mppt1 daily history via HEX",
                 lambda: ok_value(s, "mppt1/History/Daily/3/Yield") is not None, 15)
        wait_for("mppt1 system yield via HEX", lambda: ok_value(s, "mppt1/Yield/System"), 15)
        check(s.device("mppt1")["counters"]["hex_frames"] > 0, "no HEX frames counted")
        # CLI: status lists every device; get prints one value
        out = subprocess.run([os.path.join(BUILD, "sitewatch"), "-u",
                              "http://127.0.0.1:%d" % s.port, "status"],
                             capture_output=True, text=True, timeout=10)
        check(out.returncode == 0, "sitewatch status failed: %s" % out.stderr)
        for word in ("bmv", "mppt1", "mppt2", "BMV-712 Smart", "Soc="):
            check(word in out.stdout, "status output lacks %r:\n%s" % (word, out.stdout))
        out = subprocess.run([os.path.join(BUILD, "sitewatch"), "-u",
                              "http://127.0.0.1:%d" % s.port, "get", "bmv/Soc"],
                             capture_output=True, text=True, timeout=10)
        check(out.returncode == 0 and out.stdout.strip().endswith("%"), "get: %r" % out.stdout)
        out = subprocess.run([os.path.join(BUILD, "sitewatch"), "-u",
                              "http://127.0.0.1:%d" % s.port, "get", "bmv/Nope"],
                             capture_output=True, text=True, timeout=10)
        check(out.returncode == 1 and "no point" in out.stderr, "get of a missing point")
    finally:
        s.close()


def test_unplug_stale_replug():
    """kill -9 the emulator (unplug): stale within 3 s; a new one on the same path (replug):
    ok again within 5 s, without restarting the daemon."""
    s = Site("unplug")
    try:
        p, _ = s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})])
        s.start_daemon()
        wait_for("bmv ok", lambda: ok_value(s, "bmv/Dc/0/Voltage") is not None, 8)
        p.kill()
        # kill -9 leaves the emulator's symlink dangling; a real unplug removes the device node.
        os.unlink(s.pty("bmv"))
        t0 = time.monotonic()
        wait_for("stale", lambda: s.point("bmv/Dc/0/Voltage")["state"] == "stale", 3.5, 0.05)
        check(time.monotonic() - t0 <= 3.0, "stale after %.2f s" % (time.monotonic() - t0))
        v = s.point("bmv/Dc/0/Voltage")
        check(v["value"] is None, "stale point still carries a value %r" % v)
        check(s.device("bmv")["state"] == "lost", "device not lost")
        time.sleep(2)
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
        t0 = time.monotonic()
        wait_for("ok again", lambda: s.point("bmv/Dc/0/Voltage")["state"] == "ok", 5.5, 0.05)
        check(time.monotonic() - t0 <= 5.0, "back after %.2f s" % (time.monotonic() - t0))
        d = s.device("bmv")
        check(d["state"] == "ok" and d["counters"]["reconnects"] >= 1, "after replug %r" % d)
        check("device is back" in s.log(), "recovery not logged")
    finally:
        s.close()


def test_tcp_bridge_and_garbage():
    """tcp:// reaches a serial-over-IP bridge; corrupt blocks are counted and never published."""
    s = Site("tcp")
    try:
        port = free_port()
        s.emulator("vedirect", "--tcp", "127.0.0.1:%d" % port, "--kind", "mppt",
                   "--fault", "corrupt")
        s.write_conf([("mppt", {"driver": "vedirect", "port": "tcp://127.0.0.1:%d" % port})])
        s.start_daemon()
        wait_for("mppt ok over TCP", lambda: ok_value(s, "mppt/Pv/V") is not None, 8)
        wait_for("checksum errors counted",
                 lambda: s.device("mppt")["counters"]["checksum_errors"] >= 1, 8)
        check(s.device("mppt")["connection"] == "127.0.0.1:%d" % port, "connection")
    finally:
        s.close()


def test_config_typo_is_refused_with_file_line():
    s = Site("typo")
    try:
        s.write_conf([("bmv", {"driver": "vedirect", "port": "/dev/null", "tiemout": "3s"})])
        r = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path,
                            "--check-config"], capture_output=True, text=True, timeout=10)
        check(r.returncode == 1, "check-config accepted a typo")
        line = open(s.conf_path).read().splitlines().index("tiemout = 3s") + 1
        want = "%s:%d: unknown key 'tiemout' for driver vedirect" % (s.conf_path, line)
        check(want in r.stderr, "expected %r in %r" % (want, r.stderr))
        # and the daemon refuses to start on it
        r = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path, "-f"],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 1 and want in r.stderr, "daemon started on a bad config")
    finally:
        s.close()


def test_sighup_reload():
    """SIGHUP applies a valid config (a new device appears) and refuses an invalid one."""
    s = Site("reload")
    try:
        s.emulator("vedirect", "--pty", s.pty("a"), "--kind", "mppt")
        s.emulator("vedirect", "--pty", s.pty("b"), "--kind", "bmv712")
        s.write_conf([("a", {"driver": "vedirect", "port": s.pty("a")})])
        s.start_daemon()
        wait_for("a ok", lambda: s.device("a")["state"] == "ok", 8)
        s.write_conf([("a", {"driver": "vedirect", "port": s.pty("a")}),
                      ("b", {"driver": "vedirect", "port": s.pty("b")})])
        s.daemon.send_signal(signal.SIGHUP)
        wait_for("b ok after reload", lambda: s.device("b")["state"] == "ok", 8)
        reconnects = s.device("a")["counters"]["reconnects"]
        with open(s.conf_path, "a") as f:
            f.write("bogus line\n")
        s.daemon.send_signal(signal.SIGHUP)
        wait_for("reload refusal logged", lambda: "reload refused" in s.log(), 5)
        check(s.device("a")["state"] == "ok" and s.device("b")["state"] == "ok",
              "devices disturbed by a refused reload")
        check(s.device("a")["counters"]["reconnects"] == reconnects, "a was restarted")
    finally:
        s.close()


def test_junk_http():
    """Junk requests get clear errors; the daemon keeps serving."""
    s = Site("http")
    try:
        s.write_conf([])
        s.start_daemon()
        check(s.http("/api/v1/nope")[0] == 404, "unknown endpoint")
        check(s.http("/api/v1/points", method="POST", data=b"x=1")[0] == 405, "POST")
        check(s.http("/api/v1/points?prefix=%01bad")[0] == 400, "bad prefix")
        check(s.http("/%2e%2e/%2e%2e/etc/passwd")[0] in (400, 404), "traversal")
        check(s.http("/../../etc/passwd")[0] in (400, 404), "traversal 2")
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET /" + b"A" * 100000 + b" HTTP/1.1\r\n\r\n",
                     b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 200000 + b"\r\n\r\n",
                     b"POST /api/v1/points HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nabc"):
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
                try:
                    c.sendall(junk)
                    c.shutdown(socket.SHUT_WR)
                    c.recv(4096)
                except OSError:
                    pass
        h = s.api("/api/v1/health")
        check(h["status"] == "ok" and h["site"].startswith("it-"), "health after junk %r" % h)
        status, body = s.http("/")
        check(status == 200 and "<title>sitewatch</title>" in body, "console page")
    finally:
        s.close()


def test_device_command_route():
    """POST /api/v1/devices/<name>/command reaches the driver's thread and is sent as a HEX Set:
    refused unless allow_control = yes, refused for a class without that command, applied when
    allowed (the MPPT switches off and on again); unknown device and bad body get clear errors."""
    s = Site("command")
    try:
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
        s.emulator("vedirect", "--pty", s.pty("mppt"), "--kind", "mppt")
        s.emulator("vedirect", "--pty", s.pty("locked"), "--kind", "mppt")
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"), "allow_control": "yes"}),
                      ("mppt", {"driver": "vedirect", "port": s.pty("mppt"), "allow_control": "yes"}),
                      ("locked", {"driver": "vedirect", "port": s.pty("locked")})])
        s.start_daemon()
        for name in ("bmv", "mppt", "locked"):
            wait_for(name + " ok", lambda n=name: s.device(n)["state"] == "ok", 8)
        body = b'{"command": "mode", "value": "off"}'
        status, text = s.http("/api/v1/devices/locked/command", "POST", body)
        check(status == 403 and "not permitted" in text, "control not allowed: %d %s" % (status, text))
        status, text = s.http("/api/v1/devices/bmv/command", "POST", body)
        check(status == 403 and "not supported" in text, "monitor has no mode: %d %s" % (status, text))
        status, text = s.http("/api/v1/devices/mppt/command", "POST", b'{"command": "mode", "value": "sideways"}')
        check(status == 400, "bad value: %d %s" % (status, text))
        status, text = s.http("/api/v1/devices/mppt/command", "POST", body)
        check(status == 200, "mode off: %d %s" % (status, text))
        wait_for("mppt off", lambda: ok_value(s, "mppt/State") == 0, 5)
        status, text = s.http("/api/v1/devices/mppt/command", "POST", b'{"command": "mode", "value": "on"}')
        check(status == 200, "mode on: %d %s" % (status, text))
        wait_for("mppt charging again", lambda: ok_value(s, "mppt/State") not in (None, 0), 5)
        status, _ = s.http("/api/v1/devices/nope/command", "POST", body)
        check(status == 404, "unknown device: %d" % status)
        status, _ = s.http("/api/v1/devices/bmv/command", "POST", b"{not json")
        check(status == 400, "bad body: %d" % status)
        status, _ = s.http("/api/v1/devices/bmv/command", "GET")
        check(status == 405, "GET on a POST route: %d" % status)
    finally:
        s.close()
