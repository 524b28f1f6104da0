"""Integration tests of the RRD history: the real daemon logs a replayed BMV into RRD files,
directly (batched) and through a real rrdcached started here on a unix socket; the series,
CSV, graph and energy endpoints; stale values become unknown; a corrupt file is an error."""
import os
import socket
import subprocess
import time
import urllib.request

from itlib import TESTDATA, Site, capture_values, check, wait_for
BMV = "vedirect/karioja_bvm702.dump"
# rrd_graph's font libraries keep caches for the life of the process, and librrd 1.7.2 leaks a
# few bytes per graph: see tests/unit/lsan-rrdgraph.supp (it matches only frames in those libraries).
LSAN = "suppressions=%s:fast_unwind_on_malloc=0:print_suppressions=0" % os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "unit", "lsan-rrdgraph.supp"))


def start_daemon(site):
    old = os.environ.get("LSAN_OPTIONS")
    os.environ["LSAN_OPTIONS"] = LSAN
    try:
        site.start_daemon()
    finally:
        if old is None:
            del os.environ["LSAN_OPTIONS"]
        else:
            os.environ["LSAN_OPTIONS"] = old



def known(site, key, since="-10m"):
    doc = site.api("/api/v1/series?keys=%s&from=%s" % (key, since))
    vals = doc["series"][0]["values"]
    return [(t, v) for t, v in zip(doc["timestamps"], vals) if v is not None], doc


def raw(site, path):
    """(status, bytes) of a GET; graphs are binary."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (site.port, path), timeout=30) as r:
        return r.status, r.read()


def test_rrd_batched_logging_stale_and_api():
    """Every bmv point is logged (History excluded by pattern); values are the device's;
    CSV/PNG/SVG come back; a corrupt file gets a clear error; a lost device turns unknown."""
    s = Site("rrd")
    try:
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--replay", os.path.join(TESTDATA, BMV))
        rrd_dir = os.path.join(s.dir, "state", "rrd")
        os.makedirs(rrd_dir)
        with open(os.path.join(rrd_dir, "bmv.Soc.rrd"), "wb") as f:
            f.write(b"RRD\0garbage that is not a round robin database" * 10)
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"), "hex": "no"})],
                     "[rrd]\ninclude = bmv/*\nexclude = bmv/History/*\ncache = 10s\n")
        start_daemon(s)
        volts = {float(v) / 1000 for v in capture_values(BMV, "V")}
        rows = wait_for("a logged voltage", lambda: known(s, "bmv/Dc/0/Voltage")[0], 60, 1)
        for t, v in rows:
            check(any(abs(v - x) < 1e-6 for x in volts), "logged %r is not a sent voltage" % v)
        _, doc = known(s, "bmv/Dc/0/Voltage")
        check(doc["rra_step"] == 10 and doc["step"] == 10, "10-minute range at 10 s: %r" % doc)
        check(doc["series"][0]["unit"] == "V", "unit: %r" % doc["series"][0])
        check(os.path.exists(os.path.join(rrd_dir, "bmv.Dc.0.Voltage.rrd")), "voltage file")
        check(not any(n.startswith("bmv.History.") for n in os.listdir(rrd_dir)),
              "excluded History points were logged: %r" % os.listdir(rrd_dir))
        # unknown key: nulls, not an error
        doc = s.api("/api/v1/series?keys=bmv/Dc/0/Voltage,nosuch/Point&from=-10m")
        check(all(v is None for v in doc["series"][1]["values"]), "unknown key gives nulls")
        # the corrupt file: a clear error naming it, the daemon carries on
        code, body = s.http("/api/v1/series?keys=bmv/Soc&from=-1h")
        check(code == 500 and "bmv.Soc.rrd" in body and "not a readable RRD" in body,
              "corrupt file: %d %s" % (code, body))
        check("bmv.Soc.rrd is not a readable RRD" in s.log(), "corrupt file logged")
        code, _ = s.http("/api/v1/series?keys=bmv/Dc/0/Voltage&from=tomorrow")
        check(code == 400, "bad from gives 400")
        # CSV and graphs
        code, body = s.http("/api/v1/series?keys=bmv/Dc/0/Voltage&from=-10m&format=csv")
        lines = body.strip().split("\n")
        check(code == 200 and lines[0] == "time,iso_time,bmv/Dc/0/Voltage", "csv: %r" % body[:200])
        check(any(len(l.split(",")[2]) > 0 for l in lines[1:]), "csv has values")
        for ext, magic in (("png", b"\x89PNG"), ("svg", b"<svg")):
            code, data = raw(s, "/api/v1/graph.%s?keys=bmv/Dc/0/Voltage,bmv/Dc/0/Current"
                             "&from=-1h&title=Battery" % ext)
            check(magic in data[:200], "graph.%s: %r" % (ext, data[:40]))
        doc = s.api("/api/v1/energy?period=day")
        check(doc["unit"] == "kWh" and isinstance(doc["rows"], list), "energy: %r" % doc)
        # the device goes away: its points turn stale and are logged as unknown, not 0
        s.procs[0].kill()
        s.procs[0].wait()
        # unplugged for good, like a vanished /dev/serial/by-id link: the dangling pty link could
        # otherwise be reopened once another process gets the same /dev/pts number
        if os.path.lexists(s.pty("bmv")):
            os.unlink(s.pty("bmv"))
        wait_for("the voltage stale", lambda: s.point("bmv/Dc/0/Voltage")["state"] != "ok", 20)
        lost = time.time()

        vfile = os.path.join(rrd_dir, "bmv.Dc.0.Voltage.rrd")

        def last_update():
            # rrdtool's own view of the file: "<ts>: <value>" of the last update
            out = subprocess.run(["rrdtool", "lastupdate", vfile], capture_output=True,
                                 text=True, check=True).stdout.split()
            return int(out[-2].rstrip(":")), out[-1]

        # a sample with a grid time after `lost` was taken after the point was seen stale
        lu = wait_for("a sample logged after the loss",
                      lambda: s.api("/api/v1/series?keys=bmv/Dc/0/Voltage&from=-1m") and
                      last_update()[0] > lost and last_update(), 40, 1)
        check(lu[1] == "U", "last logged value of a lost device is %r, expected U" % lu[1])
        doc = s.api("/api/v1/series?keys=bmv/Dc/0/Voltage&from=-10m")
        pairs = list(zip(doc["timestamps"], doc["series"][0]["values"]))
        after = [v for t, v in pairs if lost < t <= lu[0]]
        check(after and all(v is None for v in after), "after the loss: %r" % after)
        before = [v for t, v in pairs if t < lost and v is not None]
        check(len(before) >= 1, "history before the loss kept")
    finally:
        s.close()


def rrdcached_stats(sock):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(sock)
    c.sendall(b"STATS\n")
    data = b""
    while data.count(b"\n") < 1 or data.count(b"\n") <= int(data.split(b" ")[0]):
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    c.close()
    return dict(l.split(b": ") for l in data.split(b"\n")[1:] if b": " in l)


def test_rrd_through_rrdcached():
    """With rrdcached = unix:..., updates go to a real rrdcached (files untouched on disk until
    it writes); the API still sees the newest values (it flushes the file it reads)."""
    s = Site("rrdc")
    cached = None
    try:
        sock = os.path.join(s.dir, "rrdcached.sock")
        jdir = os.path.join(s.dir, "journal")
        os.makedirs(jdir)
        cached = subprocess.Popen(["rrdcached", "-g", "-l", "unix:" + sock, "-p",
                                   os.path.join(s.dir, "rrdcached.pid"), "-j", jdir, "-w", "3600",
                                   "-b", s.dir],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("rrdcached socket", lambda: os.path.exists(sock), 10)
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--replay", os.path.join(TESTDATA, BMV))
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv"), "hex": "no"})],
                     "[rrd]\ninclude = bmv/Dc/0/*\nrrdcached = unix:%s\n" % sock)
        start_daemon(s)
        wait_for("updates received by rrdcached",
                 lambda: int(rrdcached_stats(sock).get(b"UpdatesReceived", b"0")) >= 2, 45, 1)
        rows = wait_for("logged voltages", lambda: len(known(s, "bmv/Dc/0/Voltage")[0]) >= 1 and
                        known(s, "bmv/Dc/0/Voltage")[0], 45, 1)
        check(len(rows) >= 1, "values through rrdcached")
        st = rrdcached_stats(sock)
        check(int(st.get(b"FlushesReceived", b"0")) >= 1, "the API flushed: %r" % st)
        code, data = raw(s, "/api/v1/graph.png?keys=bmv/Dc/0/Voltage&from=-1h")
        check(code == 200 and data[:4] == b"\x89PNG", "graph through rrdcached: %d" % code)
        check(not os.path.exists(os.path.join(s.dir, "state", "rrd", "bmv.Soc.rrd")),
              "include pattern respected")
    finally:
        s.close()
        if cached:
            cached.terminate()
            cached.wait(10)
