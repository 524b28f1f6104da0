"""Integration tests of the vebus driver: the real daemon (ASan build) against sitewatch-emu vebus
(an MK3 with a MultiPlus system behind it, MK2 protocol at 2400 baud pacing on a pty), checked
through the JSON API."""
import json
import signal
import time

from itlib import Site, check, wait_for


def ok_value(site, key):
    p = site.point(key)
    return p["value"] if p["state"] == "ok" else None


def post_command(site, device, command, value):
    body = json.dumps({"command": command, "value": value}).encode()
    return site.http("/api/v1/devices/%s/command" % device, "POST", body)


def test_vebus_values_grid_loss_three_phase_and_control():
    """One daemon, three VE.Bus systems: a single-phase Multi (control off by default), one with
    allow_control = yes, and a three-phase system of 2 units per phase."""
    s = Site("vebus")
    try:
        multi, _ = s.emulator("vebus", "--pty", s.pty("multi"), "--seed", "3")
        s.emulator("vebus", "--pty", s.pty("ctl"), "--seed", "4")
        s.emulator("vebus", "--pty", s.pty("tri"), "--phases", "3", "--units", "2")
        s.write_conf([("multi", {"driver": "vebus", "port": s.pty("multi")}),
                      ("ctl", {"driver": "vebus", "port": s.pty("ctl"), "allow_control": "yes"}),
                      ("tri", {"driver": "vebus", "port": s.pty("tri")})])
        s.start_daemon()
        for dev in ("multi", "ctl", "tri"):
            wait_for("%s/Soc ok" % dev, lambda d=dev: ok_value(s, d + "/Soc") is not None, 15)

        # values and states, grid present: charging from the AC input
        d = s.device("multi")
        check(d["service"] == "vebus" and d["state"] == "ok" and d["firmware"] == "1170216",
              "identity %r" % d)
        check("1 unit per phase, 1 phase" in d["product_name"], "product %r" % d)
        check(d["counters"]["checksum_errors"] == 0, "checksum errors on a clean line %r" % d)
        v = {k[len("multi/"):]: p for k, p in
             s.api("/api/v1/points?prefix=multi/")["points"].items()}
        val = {k: p["value"] for k, p in v.items()}
        check(20 < val["Dc/0/Voltage"] < 32, "battery voltage %r" % val["Dc/0/Voltage"])
        check(225 < val["Ac/ActiveIn/L1/V"] < 235 and 225 < val["Ac/Out/L1/V"] < 235,
              "AC voltages %r" % val)
        # the emulator sends the real capture's period bytes: 10/(195/977) and 10/((136+256)/1961)
        check(abs(val["Ac/ActiveIn/L1/F"] - 50.1026) < 0.001, "input frequency %r" % val)
        check(abs(val["Ac/Out/L1/F"] - 50.0255) < 0.001, "output frequency %r" % val)
        check(val["Dc/0/Current"] > 0, "charging current must be positive (Venus sign) %r" % val)
        check(abs(val["Dc/0/Power"] - val["Dc/0/Voltage"] * val["Dc/0/Current"]) < 0.5 +
              abs(val["Dc/0/Power"]) * 0.05, "DC power %r" % val)
        check(val["Ac/ActiveIn/L1/I"] > val["Ac/Out/L1/I"], "input carries load + charger %r" % val)
        check(val["State"] in (3, 4, 5), "state should be a charge state: %r" % val["State"])
        check(val["Mode"] == 3 and val["Ac/ActiveIn/ActiveInput"] == 0, "mode/input %r" % val)
        check(val["Leds/Mains"] == 1 and val["Leds/Inverter"] == 0, "LEDs %r" % val)
        check(val["Alarms/GridLost"] == 0 and val["Alarms/Overload"] == 0, "alarms %r" % val)
        check(0 <= val["Soc"] <= 100 and val["Ac/NumberOfPhases"] == 1, "soc/phases %r" % val)
        check(val["Ac/ActiveIn/CurrentLimit"] == 16.0, "current limit %r" % val)
        check(v["Dc/0/Temperature"]["state"] == "na", "no temperature in MK2 frames: n/a")
        check("multi/Ac/Out/L2/V" not in s.api("/api/v1/points?prefix=multi/")["points"],
              "a single-phase system has no L2")

        # every poll ≤ 1 s: the DC voltage point is rewritten at least once a second
        t0 = s.point("multi/Dc/0/Voltage")["ts"]
        wait_for("a new poll", lambda: s.point("multi/Dc/0/Voltage")["ts"] > t0, 2.5, 0.05)

        # grid lost → inverting, GridLost alarm, input disconnected, battery discharging
        multi.send_signal(signal.SIGUSR2)
        # (frames of one round are read one after the other: wait for a round after the change)
        wait_for("inverting with GridLost raised and the input disconnected",
                 lambda: ok_value(s, "multi/State") == 9 and
                 ok_value(s, "multi/Alarms/GridLost") == 2 and
                 ok_value(s, "multi/Ac/ActiveIn/ActiveInput") == 240, 6)

        def inverting_round():
            # one whole round after the change (the round that saw it may be half old)
            pts = s.api("/api/v1/points?prefix=multi/")["points"]
            val = {k[len("multi/"):]: p["value"] for k, p in pts.items()}
            return ((val["Dc/0/Current"] or 0) < 0 and val["Leds/Inverter"] == 1 and
                    val["Leds/Mains"] == 0 and (val["Ac/Out/L1/V"] or 0) > 225 and
                    pts["multi/Ac/ActiveIn/L1/F"]["state"] == "na" and
                    val["Ac/ActiveIn/L1/V"] == 0 and val["State"] == 9)
        wait_for("discharging, inverter LED, output up, no input", inverting_round, 4)
        multi.send_signal(signal.SIGUSR2)
        wait_for("charging again, GridLost cleared",
                 lambda: ok_value(s, "multi/State") in (3, 4, 5) and
                 ok_value(s, "multi/Alarms/GridLost") == 0, 6)

        # three phases, two units per phase
        t = s.device("tri")
        check("2 units per phase, 3 phases" in t["product_name"], "tri product %r" % t)
        check(ok_value(s, "tri/Ac/NumberOfPhases") == 3, "tri phases")
        for ph in ("L1", "L2", "L3"):
            for q in ("ActiveIn/%s/V", "Out/%s/V"):
                vv = ok_value(s, "tri/Ac/" + q % ph)
                check(vv is not None and 225 < vv < 235, "tri %s = %r" % (q % ph, vv))
            i_in = ok_value(s, "tri/Ac/ActiveIn/%s/I" % ph)
            check(i_in is not None and i_in > 0, "tri %s input current %r" % (ph, i_in))
            p = ok_value(s, "tri/Ac/Out/%s/P" % ph)
            check(p is not None and p > 0, "tri %s output power %r" % (ph, p))
        check("tri/Ac/Out/L4/V" not in s.api("/api/v1/points?prefix=tri/")["points"], "no L4")

        # control: refused unless allow_control = yes
        code, body = post_command(s, "multi", "mode", "charger_only")
        check(code == 403, "command accepted without allow_control: %d %s" % (code, body))
        check(ok_value(s, "multi/Mode") == 3, "mode changed by a refused command")
        code, body = post_command(s, "ctl", "mode", "charger_only")
        check(code == 200, "mode refused with allow_control = yes: %d %s" % (code, body))
        wait_for("mode charger only", lambda: ok_value(s, "ctl/Mode") == 1, 5)
        code, body = post_command(s, "ctl", "current_limit", 12.5)
        check(code == 200, "current limit refused: %d %s" % (code, body))
        wait_for("limit 12.5 A", lambda: ok_value(s, "ctl/Ac/ActiveIn/CurrentLimit") == 12.5, 5)
        for bad in (80.0, 2.0):  # the emulated Multi reports 6..50 A
            code, body = post_command(s, "ctl", "current_limit", bad)
            check(code == 400, "limit %r outside the device's range accepted: %d" % (bad, code))
        check(ok_value(s, "ctl/Ac/ActiveIn/CurrentLimit") == 12.5, "limit changed by a refusal")
        code, _ = post_command(s, "ctl", "mode", "sideways")
        check(code == 400, "unknown mode accepted: %d" % code)
        code, _ = post_command(s, "ctl", "mode", "on")
        check(code == 200, "mode on refused")
        wait_for("mode on", lambda: ok_value(s, "ctl/Mode") == 3, 5)
    finally:
        s.close()


def test_vebus_unplug_nobus_and_line_faults():
    """MK2 unplugged → stale with "MK2 not found" → back within 5 s; an MK2 with no VE.Bus device
    → "no response from VE.Bus"; wrong checksums and truncated frames are counted, and the values
    keep coming."""
    s = Site("vebus-faults")
    try:
        multi, _ = s.emulator("vebus", "--pty", s.pty("multi"))
        s.emulator("vebus", "--pty", s.pty("nobus"), "--fault", "nobus")
        s.emulator("vebus", "--pty", s.pty("sum"), "--fault", "checksum")
        s.emulator("vebus", "--pty", s.pty("cut"), "--fault", "truncate")
        s.write_conf([(n, {"driver": "vebus", "port": s.pty(n)})
                      for n in ("multi", "nobus", "sum", "cut")])
        s.start_daemon()
        # a whole polling round done: the SoC is the last value of a round
        wait_for("multi ok", lambda: ok_value(s, "multi/Soc") is not None, 15)

        # line faults: values still arrive, the errors are counted
        wait_for("sum ok", lambda: ok_value(s, "sum/Dc/0/Voltage") is not None, 15)
        wait_for("cut ok", lambda: ok_value(s, "cut/Dc/0/Voltage") is not None, 15)
        wait_for("checksum errors counted",
                 lambda: s.device("sum")["counters"]["checksum_errors"] >= 2, 10)
        c = s.device("cut")["counters"]
        check(c["checksum_errors"] + c["frame_errors"] + c["timeouts"] >= 1, "cut counters %r" % c)

        # MK2 alive, no device on the bus
        wait_for("nobus status", lambda: "no response from VE.Bus" in s.device("nobus")["status"],
                 10)
        check(s.device("nobus")["state"] == "lost", "nobus state")

        # silence (SIGUSR1: the MK2 stops sending): stale, "MK2 not found"
        multi.send_signal(signal.SIGUSR1)
        wait_for("stale after silence",
                 lambda: s.point("multi/Dc/0/Voltage")["state"] == "stale", 6, 0.05)
        check(s.point("multi/Dc/0/Voltage")["value"] is None, "stale point carries a value")
        wait_for("MK2 not found", lambda: "MK2 not found" in s.device("multi")["status"], 5)
        check(s.device("multi")["state"] == "lost", "device not lost")
        soc = s.point("multi/Soc")
        check(soc.get("state") == "stale", "a lost device's points are all stale: %r %r\n%s" %
              (soc, s.device("multi"), s.log()[-3000:]))
        multi.send_signal(signal.SIGUSR1)
        t0 = time.monotonic()
        wait_for("back after silence",
                 lambda: s.point("multi/Dc/0/Voltage")["state"] == "ok", 5.5, 0.05)
        check(time.monotonic() - t0 <= 5.0, "back after %.2f s" % (time.monotonic() - t0))

        # unplug: the emulator dies, its pty vanishes
        multi.kill()
        multi.wait()
        wait_for("stale after unplug",
                 lambda: s.point("multi/Dc/0/Voltage")["state"] == "stale", 4, 0.05)
        check(s.device("multi")["state"] == "lost", "device not lost")
        wait_for("MK2 not found", lambda: "MK2 not found" in s.device("multi")["status"], 5)
        s.emulator("vebus", "--pty", s.pty("multi"))
        t0 = time.monotonic()
        wait_for("back after replug",
                 lambda: s.point("multi/Dc/0/Voltage")["state"] == "ok", 5.5, 0.05)
        check(time.monotonic() - t0 <= 5.0, "back after %.2f s" % (time.monotonic() - t0))
        check(s.device("multi")["counters"]["reconnects"] >= 1, "no reconnect counted")
    finally:
        s.close()
