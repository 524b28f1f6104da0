"""Integration tests of the daemon as a whole: one daemon per state directory, two demo sites
side by side, a [modbus_server] that cannot start, device instances in configuration order."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from itlib import BUILD, Site, check, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_daemon(conf, timeout=20):
    """Runs sitewatchd -f on conf expecting it to exit by itself; returns (exit code, output)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    p = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", conf, "-f"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    check("Sanitizer" not in p.stdout and "runtime error" not in p.stdout,
          "sanitizer report:\n" + p.stdout[-3000:])
    return p.returncode, p.stdout


def test_second_daemon_on_one_state_dir_refuses():
    """A second sitewatchd on the same state_dir exits non-zero naming the holder's pid and
    leaves the first one running; once the first is gone the directory is free again."""
    s = Site("lock")
    try:
        s.write_conf([])
        s.start_daemon()
        with open(os.path.join(s.dir, "state", "sitewatchd.lock")) as f:
            check(f.read().strip() == str(s.daemon.pid), "lock file does not hold the pid")
        # the same state_dir, another HTTP port: only the lock can stop it
        other = os.path.join(s.dir, "other.conf")
        with open(s.conf_path) as f:
            text = f.read().replace("127.0.0.1:%d" % s.port, "127.0.0.1:%d" % free_port())
        with open(other, "w") as f:
            f.write(text)
        rc, out = run_daemon(other)
        check(rc != 0, "the second daemon started (exit %d):\n%s" % (rc, out))
        check("in use by another sitewatchd (pid %d" % s.daemon.pid in out,
              "the refusal does not name pid %d:\n%s" % (s.daemon.pid, out))
        check(s.api("/api/v1/health"), "the first daemon is no longer healthy")
        s.stop_daemon()
        # free again: the lock went with the first process (the file stays)
        s.start_daemon()
    finally:
        s.close()


def start_demo(root, port, log):
    env = dict(os.environ, LISTEN="127.0.0.1:%d" % port, DEMO_ROOT=root, DEMO_BUILD=BUILD,
               DEMO_HOUR="12", DEMO_SPEED="1")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    return subprocess.Popen(["sh", os.path.join(ROOT, "tests", "tools", "demo.sh")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def demo_api(port, path):
    import json
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return json.loads(r.read().decode())


def demo_device_ok(port, name):
    for d in demo_api(port, "/api/v1/devices")["devices"]:
        if d["name"] == name:
            return d["state"] == "ok"
    return False


def stop_demo(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise


def test_two_demos_side_by_side():
    """Two `make run` at once: each has its own build/demo/<port>/ (links, config, state_dir);
    stopping the second leaves the first one's links and data alone; a third demo on the first
    one's port refuses before touching its directory."""
    root = tempfile.mkdtemp(prefix="sitewatch-demos-")
    pa, pb = free_port(), free_port()
    logs = [open(os.path.join(root, n), "w+") for n in ("a.log", "b.log", "c.log")]
    a = b = None
    try:
        a = start_demo(root, pa, logs[0])
        b = start_demo(root, pb, logs[1])
        for port in (pa, pb):
            for name in ("bmv", "mppt1", "multi"):
                wait_for("demo %d: %s ok" % (port, name),
                         lambda p=port, n=name: demo_device_ok(p, n), 30)
        da, db = os.path.join(root, str(pa)), os.path.join(root, str(pb))
        links = ("bmv", "mppt1", "mppt2", "multi")
        for d in (da, db):
            for n in links:
                check(os.path.islink(os.path.join(d, "dev", n)), "%s/dev/%s missing" % (d, n))
        pids = set()
        for d in (da, db):
            with open(os.path.join(d, "state", "sitewatchd.lock")) as f:
                pids.add(f.read().strip())
        check(len(pids) == 2, "the two demos share a daemon lock: %r" % pids)

        c = start_demo(root, pa, logs[2])
        rc = c.wait(timeout=20)
        logs[2].seek(0)
        out = logs[2].read()
        check(rc != 0 and "already running in %s" % da in out,
              "a third demo on port %d: exit %d\n%s" % (pa, rc, out))

        stop_demo(b)
        for n in links:
            check(os.path.islink(os.path.join(da, "dev", n)),
                  "stopping demo %d removed %s of demo %d" % (pb, n, pa))
            check(not os.path.exists(os.path.join(db, "dev", n)),
                  "demo %d left its link %s behind" % (pb, n))
        # the first demo still reads its devices (fresh data, not just a cached state)
        seq = demo_api(pa, "/api/v1/devices")
        before = [d["counters"]["frames_ok"] for d in seq["devices"] if d["name"] == "bmv"][0]
        wait_for("demo %d bmv still receiving" % pa,
                 lambda: [d["counters"]["frames_ok"] for d in
                          demo_api(pa, "/api/v1/devices")["devices"] if d["name"] == "bmv"][0]
                 > before, 10)
        stop_demo(a)
        check(a.returncode is not None, "demo a did not stop")
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in logs:
            f.close()
        if os.environ.get("SITEWATCH_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)


def modbus_conf(s, body):
    s.write_conf([], "[modbus_server]\n%s" % body)
    lines = open(s.conf_path).read().splitlines()
    return lines.index("[modbus_server]") + 1


def test_modbus_server_map_fallback_and_startup_errors():
    """[modbus_server] without map = finds a map (here: etc/ of the source tree the binary was
    built from) and serves; one that cannot start (its port taken, its map missing) stops the
    daemon at start-up with the file:line of the problem."""
    s = Site("mbstart")
    try:
        mport = free_port()
        modbus_conf(s, "listen = 127.0.0.1:%d\n" % mport)
        s.start_daemon()
        units = s.api("/api/v1/modbus/units")
        check(units.get("units"), "no Modbus units served: %r" % units)
        check("no register map found" not in s.log(), "map not found:\n" + s.log()[-2000:])
        s.stop_daemon()

        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            line = modbus_conf(s, "listen = 127.0.0.1:%d\n" % busy.getsockname()[1])
            rc, out = run_daemon(s.conf_path)
            check(rc != 0, "daemon ran on without its Modbus server:\n" + out)
            check("sitewatch.conf:%d: [modbus_server]: cannot listen" % (line + 1) in out,
                  "no file:line for the busy port:\n" + out)
        finally:
            busy.close()

        line = modbus_conf(s, "listen = 127.0.0.1:%d\nmap = %s/none.csv\n" % (mport, s.dir))
        rc, out = run_daemon(s.conf_path)
        check(rc != 0, "daemon ran on without its register map:\n" + out)
        check("sitewatch.conf:%d: [modbus_server]: cannot load the register map" % (line + 2)
              in out, "no file:line for the missing map:\n" + out)
    finally:
        s.close()


def has_instance(s, name):
    inst = s.device(name).get("instance")
    return inst is not None and inst >= 0


def test_instances_follow_configuration_order():
    """mppt2 answers first (mppt1's emulator starts later): instances still follow the
    configuration, mppt1 before mppt2, so Modbus unit ids do not swap between restarts."""
    s = Site("inst")
    try:
        s.write_conf([("mppt1", {"driver": "vedirect", "port": s.pty("mppt1")}),
                      ("mppt2", {"driver": "vedirect", "port": s.pty("mppt2")})])
        s.emulator("vedirect", "--pty", s.pty("mppt2"), "--kind", "mppt", "--serial",
                   "HQ2201CCCCC", "--start-hour", "12")
        s.start_daemon()
        wait_for("mppt2 identified", lambda: has_instance(s, "mppt2"), 10)
        s.emulator("vedirect", "--pty", s.pty("mppt1"), "--kind", "mppt", "--serial",
                   "HQ2201BBBBB", "--start-hour", "12")
        wait_for("mppt1 identified", lambda: has_instance(s, "mppt1"), 15)
        a, b = s.device("mppt1"), s.device("mppt2")
        check(a["service"] == b["service"] == "solarcharger", "classes %r %r" % (a, b))
        check((a["instance"], b["instance"]) == (0, 1),
              "instances mppt1 %d, mppt2 %d: expected 0 and 1 (configuration order)" %
              (a["instance"], b["instance"]))
    finally:
        s.close()
