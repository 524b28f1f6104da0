"""test_battery: the battery engine and the system values in the real daemon against the emulated
VE.Direct site (`sitewatch-emu site`: a BMV-712 and an MPPT on ptys): a [battery house] fed from
the BMV's current and voltage publishes Venus battery paths, device `system` carries the GX
values, and after kill -9 of the daemon the SoC resumes from the last save without a jump."""
import json
import os
import signal
import time

from itlib import Site, check, wait_for


def ok_value(site, key):
    p = site.point(key)
    return p["value"] if p.get("state") == "ok" else None


def start_site(s):
    emu_dir = os.path.join(s.dir, "emu")
    os.mkdir(emu_dir)
    # night time in the model: the loads discharge the bank, so the SoC moves
    p, first = s.emulator("site", "--dir", emu_dir, "--mppt", "1", "--bmv", "1",
                          "--start-hour", "22")
    lines = [first]
    while lines[-1] != "site":
        line = p.stdout.readline().strip()
        check(line.startswith("ready "), "site emulator: %r" % line)
        lines.append(line[len("ready "):])
    # a small capacity makes a few seconds of discharge visible in the SoC
    s.write_conf([("bmv", {"driver": "vedirect", "port": os.path.join(emu_dir, "bmv")}),
                  ("mppt1", {"driver": "vedirect", "port": os.path.join(emu_dir, "mppt1")})],
                 extra="[battery house]\ncurrent = bmv/Dc/0/Current\n"
                       "voltage = bmv/Dc/0/Voltage\ncapacity = 10\nnominal_voltage = 24\n"
                       "start_soc = 50\nsave_interval = 2s\n"
                       "[system]\nbattery_service = auto\n")


def saved_soc(s):
    with open(os.path.join(s.dir, "state", "battery-house.json")) as f:
        return json.load(f)["soc"]["soc_pct"]


def test_battery_engine_system_values_and_kill9():
    s = Site("battery")
    try:
        start_site(s)
        s.start_daemon()
        wait_for("bmv ok", lambda: s.device("bmv")["state"] == "ok", 15)
        wait_for("house/Soc ok", lambda: ok_value(s, "house/Soc") is not None, 15)
        d = s.device("house")
        check(d["service"] == "battery" and d["state"] == "ok", "house device: %r" % d)
        # the engine follows the BMV's current and voltage
        v = ok_value(s, "house/Dc/0/Voltage")
        bv = ok_value(s, "bmv/Dc/0/Voltage")
        check(v is not None and bv is not None and abs(v - bv) < 0.5, "voltage %r vs %r" % (v, bv))
        for key in ("house/ConsumedAmphours", "house/Dc/0/Current", "house/Dc/0/Power",
                    "house/Capacity", "house/History/TotalAhDrawn",
                    "house/History/EquivalentCycles", "house/History/Rainflow/Bin0",
                    "house/History/AverageSoc/Day1", "house/SohConfidence"):
            wait_for(key + " ok", lambda k=key: ok_value(s, k) is not None, 10)
        check(ok_value(s, "house/Capacity") == 10, "capacity")
        # system values: auto picks the BMV (the first battery monitor); PV from the MPPT
        wait_for("system values", lambda: ok_value(s, "system/Dc/Battery/Soc") is not None, 10)
        check(abs(ok_value(s, "system/Dc/Battery/Soc") - ok_value(s, "bmv/Soc")) < 0.11,
              "system Soc copies the BMV")
        check(ok_value(s, "system/Dc/Battery/Voltage") is not None, "system voltage")
        check(ok_value(s, "system/Dc/Battery/State") in (0, 1, 2), "battery state")
        # the MPPT may be identified a little after the BMV: PV power follows once it is
        wait_for("system PV power", lambda: ok_value(s, "system/Dc/Pv/Power") is not None, 10)
        check(s.point("system/Ac/PvOnGrid/L1/Power")["state"] == "na", "no PV inverter: n/a")

        # the SoC moves (night: discharge), a save happens every 2 s
        wait_for("the SoC to move from 50 %",
                 lambda: abs(ok_value(s, "house/Soc") - 50) > 0.05, 30)
        wait_for("a state file", lambda: saved_soc(s) != 50, 10)
        time.sleep(1)
        before = ok_value(s, "house/Soc")
        s.daemon.send_signal(signal.SIGKILL)
        s.daemon.wait(timeout=10)
        s.daemon = None
        at_save = saved_soc(s)
        check(abs(at_save - 50) > 0.05, "the saved SoC %r moved from the start value" % at_save)
        check(abs(at_save - before) < 0.5, "saved %r vs last seen %r" % (at_save, before))

        s.start_daemon()
        wait_for("house/Soc ok again", lambda: ok_value(s, "house/Soc") is not None, 15)
        after = ok_value(s, "house/Soc")
        # resumes from the last save (no jump to 0, 100 or the start value)
        check(abs(after - at_save) < 0.2, "after restart %r, saved %r" % (after, at_save))
        check("state restored" in s.log(), "restore logged")

        # SIGHUP restarts the services: the state is saved at stop and restored at start
        restores = s.log().count("state restored")
        before_hup = ok_value(s, "house/Soc")
        s.daemon.send_signal(signal.SIGHUP)
        wait_for("restore after SIGHUP", lambda: s.log().count("state restored") > restores, 10)
        wait_for("house/Soc ok after SIGHUP", lambda: ok_value(s, "house/Soc") is not None, 10)
        check(abs(ok_value(s, "house/Soc") - before_hup) < 0.2, "SoC continuous over a reload")
        after = ok_value(s, "house/Soc")
        s.stop_daemon()
        # a clean stop wrote the state: it holds what was last published
        check(abs(saved_soc(s) - after) < 0.5, "state written at stop")
    finally:
        s.close()


def test_battery_config_errors_are_refused():
    s = Site("battery-typo")
    try:
        s.write_conf([], extra="[battery house]\ncurrent = bmv/Dc/0/Current\n"
                               "voltage = bmv/Dc/0/Voltage\ncapacity = 100\npeukert = 3\n")
        import subprocess
        from itlib import BUILD
        r = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path,
                            "--check-config"], capture_output=True, text=True, timeout=20)
        check(r.returncode != 0, "bad peukert accepted")
        check("sitewatch.conf:" in r.stderr + r.stdout and "peukert = 3" in r.stderr + r.stdout,
              "file:line message: %r" % (r.stderr + r.stdout))
    finally:
        s.close()


def test_system_values_from_vebus_pvinverter_and_mppt():
    """System values from real drivers: a VE.Bus Multi, a SunSpec PV inverter on AC-out and a
    VE.Direct MPPT, no battery monitor (auto: the Multi is not taken as the monitor since a solar
    charger exists, as on a GX). A lost PV inverter turns the sums built on it stale."""
    s = Site("system")
    try:
        s.emulator("vebus", "--pty", s.pty("multi"), "--seed", "3")
        s.emulator("vedirect", "--pty", s.pty("mppt1"), "--kind", "mppt", "--start-hour", "12")
        pv, where = s.emulator("sunspec", "--listen", "127.0.0.1:0", "--start-hour", "12",
                               "--model", "fronius-int", "--base", "50000")
        s.write_conf([("multi", {"driver": "vebus", "port": s.pty("multi")}),
                      ("mppt1", {"driver": "vedirect", "port": s.pty("mppt1")}),
                      ("pvinv", {"driver": "sunspec", "host": "127.0.0.1",
                                 "port": where.rsplit(":", 1)[1],
                                 "position": "ac-output"})])
        s.start_daemon()
        for dev in ("multi", "mppt1", "pvinv"):
            wait_for(dev + " ok", lambda d=dev: s.device(d)["state"] == "ok", 20)
        keys = ("system/Ac/PvOnOutput/L1/Power", "system/Ac/ConsumptionOnOutput/L1/Power",
                "system/Dc/Vebus/Power", "system/Dc/Battery/Voltage", "system/Dc/Pv/Power",
                "system/Dc/Battery/Power", "system/Ac/ActiveIn/Source")
        for key in keys:
            wait_for(key + " ok", lambda k=key: ok_value(s, k) is not None, 15)
        pts = {k: p["value"] for k, p in s.api("/api/v1/points")["points"].items()}
        near = lambda a, b, tol: abs(a - b) <= tol + 0.1 * abs(b)
        pv_out = pts["system/Ac/PvOnOutput/L1/Power"]
        check(near(pv_out, pts["pvinv/Ac/L1/Power"], 20), "PV on output %r vs %r" %
              (pv_out, pts["pvinv/Ac/L1/Power"]))
        check(pts["system/Ac/PvOnGrid/L1/Power"] is None, "no PV on the grid side")
        cons = pts["system/Ac/ConsumptionOnOutput/L1/Power"]
        check(near(cons, max(0, pv_out + pts["multi/Ac/Out/L1/P"]), 30),
              "consumption on output %r" % cons)
        check(near(pts["system/Dc/Vebus/Power"], pts["multi/Dc/0/Power"], 20), "VE.Bus power")
        check(near(pts["system/Dc/Battery/Voltage"], pts["multi/Dc/0/Voltage"], 0.2), "voltage")
        check(near(pts["system/Dc/Battery/Power"],
                   pts["system/Dc/Pv/Power"] + pts["system/Dc/Vebus/Power"], 30),
              "P_batt = P_pv + P_vebus without a monitor")
        check(pts["system/Dc/Battery/Soc"] is None, "no monitor: no SoC")
        check(pts["system/Ac/ActiveIn/Source"] in (1, 240), "active input source")

        pv.kill()  # the PV inverter goes silent: what is built on it goes stale, not smaller
        pv.wait()
        wait_for("PvOnOutput stale",
                 lambda: s.point("system/Ac/PvOnOutput/L1/Power")["state"] == "stale", 30)
        check(s.point("system/Ac/ConsumptionOnOutput/L1/Power")["state"] == "stale",
              "consumption on output stale with its PV input")
        check(ok_value(s, "system/Dc/Battery/Voltage") is not None, "battery voltage unaffected")
    finally:
        s.close()
