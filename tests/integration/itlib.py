"""itlib: helpers for the integration tests: free loopback ports, emulators on ptys or TCP, the
real daemon started from a generated config and stopped by PID, and the JSON API."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("SITEWATCH_BUILD", "build/san")
TESTDATA = os.environ.get("SITEWATCH_TESTDATA", "../shared/testdata")


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def capture_values(rel, label):
    """Every value of label in the checksum-valid blocks of a real capture under TESTDATA
    (independent of the C parser: split at 'Checksum\\t<byte>', keep blocks whose bytes sum to
    0 mod 256)."""
    with open(os.path.join(TESTDATA, rel), "rb") as f:
        data = f.read()
    values, start = set(), 0
    key = b"Checksum\t"
    while True:
        i = data.find(key, start)
        if i < 0 or i + len(key) >= len(data):
            return values
        end = i + len(key) + 1
        block = data[start:end]
        if sum(block) % 256 == 0:
            for line in block.split(b"\r\n"):
                if line.startswith(label.encode() + b"\t"):
                    values.add(line.split(b"\t", 1)[1].decode())
        start = end


def free_port():
    """A free TCP port on 127.0.0.1 (tests never use another address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout, interval=0.1):
    """Polls fn() until it returns a true value; returns it, or fails naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(interval)
    raise TestFailure("timed out after %.1f s waiting for %s (last: %r)" % (timeout, what, last))


# What an emulator's site model follows, pinned for every test so that nothing depends on the
# wall clock, the time zone or the machine: the simulated time of day at start (noon), the seed
# and the speed, per subcommand (the options it takes). A test that gives one keeps its own.
EMU_PINS = {"site": (("--start-hour", "12"), ("--seed", "1"), ("--speed", "1")),
            "vedirect": (("--start-hour", "12"), ("--seed", "1"), ("--speed", "1")),
            "vebus": (("--start-hour", "12"), ("--seed", "1"), ("--speed", "1")),
            "sunspec": (("--start-hour", "12"),)}


def pinned_emu_args(args):
    """args of sitewatch-emu with the EMU_PINS of its subcommand added where not given."""
    args = [str(a) for a in args]
    for opt, default in EMU_PINS.get(args[0] if args else "", ()):
        if not any(a == opt or a.startswith(opt + "=") for a in args):
            args += [opt, default]
    return args


class Site:
    """A temporary directory with emulators and one daemon; everything is stopped at exit."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="sitewatch-%s-" % name)
        self.procs = []
        self.daemon = None
        self.port = None
        self.conf_path = os.path.join(self.dir, "sitewatch.conf")
        self.daemon_log = os.path.join(self.dir, "daemon.log")

    # emulators -----------------------------------------------------------------------------
    def emulator(self, *args, env=None):
        """Starts sitewatch-emu with args (pinned: see pinned_emu_args); waits for its 'ready'
        line(s); returns (proc, ready). env: the emulator's environment (default: ours)."""
        log = open(os.path.join(self.dir, "emu-%d.log" % len(self.procs)), "w")
        p = subprocess.Popen([os.path.join(BUILD, "sitewatch-emu")] + pinned_emu_args(args),
                             stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        self.procs.append(p)
        line = p.stdout.readline().strip()
        check(line.startswith("ready "), "emulator %s did not start: %r" % (args, line))
        return p, line[len("ready "):]

    def pty(self, name):
        return os.path.join(self.dir, name)

    # daemon --------------------------------------------------------------------------------
    def write_conf(self, devices, extra=""):
        if self.port is None:
            self.port = free_port()
        text = ("[daemon]\nstate_dir = %s/state\nlog_level = debug\nsite_name = it-%s\n"
                "[http]\nlisten = 127.0.0.1:%d\nweb_root = web\n%s" %
                (self.dir, os.path.basename(self.dir), self.port, extra))
        for name, keys in devices:
            text += "[device %s]\n" % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start_daemon(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.daemon = subprocess.Popen(
            [os.path.join(BUILD, "sitewatchd"), "-c", self.conf_path, "-f"],
            stdout=open(self.daemon_log, "w"), stderr=subprocess.STDOUT, env=env)
        wait_for("the daemon's API", lambda: self.api("/api/v1/health"), 10)

    def stop_daemon(self):
        """SIGTERM by PID; the daemon must exit 0 with no sanitizer report."""
        if not self.daemon:
            return
        self.daemon.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            raise TestFailure("daemon did not stop within 15 s of SIGTERM")
        self.daemon = None
        log = self.log()
        check("Sanitizer" not in log and "runtime error" not in log,
              "sanitizer report in daemon log:\n" + log[-3000:])
        check(rc == 0, "daemon exited with %d" % rc)

    def log(self):
        with open(self.daemon_log, errors="replace") as f:
            return f.read()

    def api(self, path, method="GET", data=None):
        return json.loads(self.http(path, method, data)[1])

    def http(self, path, method="GET", data=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def point(self, key):
        return self.api("/api/v1/points/" + key)

    def device(self, name):
        for d in self.api("/api/v1/devices")["devices"]:
            if d["name"] == name:
                return d
        raise KeyError(name)

    def close(self):
        try:
            self.stop_daemon()
        finally:
            for p in self.procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            if os.environ.get("SITEWATCH_KEEP") != "1":
                shutil.rmtree(self.dir, ignore_errors=True)
