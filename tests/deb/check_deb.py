#!/usr/bin/env python3
"""check_deb: the Debian package verified as a user would (`make check-deb`).

Installs build/deb/<arch>/sitewatch_*.deb with apt into a throwaway Debian 12 root (made once by
mmdebstrap from Debian's registry and cached as a tarball under build/deb/), starts sitewatchd
there with the unit's ExecStart, user, groups, capabilities and no-new-privileges, with the root
read-only but for the state directory (ProtectSystem=strict) and a private /tmp, against an
emulated VE.Direct battery monitor on a loopback TCP port; checks the console, the API, the
CLI and the sd_notify messages (READY, WATCHDOG, RELOADING, STOPPING); upgrades to a rebuilt
package with a bumped version and checks that configuration and state survived; purges and
checks what is left. Needs root (chroot, mount namespaces)."""
import argparse
import glob
import hashlib
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import itlib  # noqa: E402
from itlib import TestFailure, check, wait_for  # noqa: E402

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
UNIT = "lib/systemd/system/sitewatch.service"
# Keep-alive pace asked of the daemon here (the unit's WatchdogSec= is 30 s): short, so that the
# test sees several WATCHDOG=1 in a few seconds.
TEST_WATCHDOG_USEC = 2000000


def sh(cmd, **kw):
    """Runs cmd (a list), failing with its output when it fails; returns stdout."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        raise TestFailure("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:]))
    return p.stdout


def deb_depends(deb):
    """Package names of a .deb's Depends (first alternative, versions dropped)."""
    names = []
    for dep in sh(["dpkg-deb", "-f", deb, "Depends"]).split(","):
        name = dep.split("|")[0].split("(")[0].strip()
        if name:
            names.append(name)
    return sorted(set(names))


def cached_root(arch, deb):
    """A tarball of a Debian 12 minbase root with the package's dependencies and systemd, made by
    mmdebstrap once per dependency set and kept under build/deb/."""
    pkgs = sorted(set(deb_depends(deb)) | {"systemd", "init-system-helpers", "util-linux"})
    key = hashlib.sha256((" ".join([SUITE, arch] + pkgs)).encode()).hexdigest()[:12]
    tar = os.path.join(TOP, "build", "deb", "root-%s-%s-%s.tar" % (SUITE, arch, key))
    if not os.path.exists(tar):
        for old in glob.glob(os.path.join(TOP, "build", "deb", "root-%s-%s-*.tar" % (SUITE, arch))):
            os.unlink(old)
        print("check-deb: mmdebstrap %s %s (%s) -> %s" % (SUITE, arch, ",".join(pkgs), tar))
        t0 = time.monotonic()
        # The package registry is the one network dependency of this test: a transient mirror
        # error (a hash-sum mismatch during an index update) is retried, not reported as a
        # packaging failure.
        for attempt in range(3):
            try:
                sh(["mmdebstrap", "--quiet", "--format=tar", "--variant=minbase",
                    "--architectures=" + arch, "--include=" + ",".join(pkgs), SUITE,
                    tar + ".tmp", MIRROR])
                break
            except Exception:
                if attempt == 2:
                    raise
                print("check-deb: mmdebstrap failed, retrying in 20 s")
                time.sleep(20)
        os.rename(tar + ".tmp", tar)
        print("check-deb: root made in %.0f s" % (time.monotonic() - t0))
    return tar


class Root:
    """A throwaway root extracted from the cached tarball; chroot helpers; unmounts on close."""

    def __init__(self, tar, path):
        self.path = path
        self.close()
        os.makedirs(path)
        sh(["tar", "-C", path, "-xf", tar])
        sh(["mount", "-t", "proc", "proc", self.p("proc")])

    def p(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def run(self, *cmd, ok=True):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
               "LC_ALL": "C"}
        p = subprocess.run(["chroot", self.path] + list(cmd), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
        if ok and p.returncode != 0:
            raise TestFailure("in root: %s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                                            p.stdout[-3000:]))
        return p

    def read(self, rel):
        with open(self.p(rel), "rb") as f:
            return f.read()

    def ids(self, user):
        """uid, gid and the supplementary gids of user, from the root's passwd and group."""
        uid = gid = None
        with open(self.p("etc/passwd")) as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == user:
                    uid, gid = int(fields[2]), int(fields[3])
        groups = {}
        with open(self.p("etc/group")) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                groups[fields[0]] = (int(fields[2]), fields[3].split(",") if fields[3] else [])
        return uid, gid, groups

    def close(self):
        if not os.path.isdir(self.path):
            return
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for m in reversed(mounts):
            if m == self.path or m.startswith(self.path + "/"):
                subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.path)


class Sockets:
    """The NOTIFY_SOCKET and /dev/log of the root: what sitewatchd tells systemd and syslog."""

    def __init__(self, root):
        self.notify_path = root.p("run/check-deb-notify.sock")
        self.log_path = root.p("dev/log")
        for path in (self.notify_path, self.log_path):
            if os.path.lexists(path):
                os.unlink(path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.log.bind(self.log_path)
        os.chmod(self.notify_path, 0o666)
        os.chmod(self.log_path, 0o666)
        self.messages = []  # (monotonic time, notify message)
        self.lines = []  # syslog lines

    def pump(self, timeout=0.1):
        r, _, _ = select.select([self.notify, self.log], [], [], timeout)
        for s in r:
            data = s.recv(65536).decode(errors="replace")
            if s is self.notify:
                self.messages.append((time.monotonic(), data))
            else:
                self.lines.append(data)

    def wait(self, what, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.2)
            hit = pred()
            if hit:
                return hit
        raise TestFailure("timed out after %.0f s waiting for %s; notify: %r; log: %r" %
                          (timeout, what, [m for _, m in self.messages][-8:], self.lines[-8:]))

    def count(self, word, since=0.0):
        return sum(1 for t, m in self.messages if t >= since and word in m.split("\n"))

    def close(self):
        self.notify.close()
        self.log.close()


def unit_settings(root):
    """The [Service] settings of the installed unit, as {key: [values]}."""
    out = {}
    for line in root.read(UNIT).decode().splitlines():
        line = line.strip()
        if "=" in line and not line.startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def start_daemon(root, settings, socks, env_extra=None):
    """Starts sitewatchd in the root as the unit would: ExecStart=, User=, SupplementaryGroups=,
    AmbientCapabilities=/CapabilityBoundingSet=, NoNewPrivileges=, with the root read-only but
    for the StateDirectory= (ProtectSystem=strict) and a private /tmp (PrivateTmp=). The pid is
    the daemon's: unshare, sh, chroot and setpriv exec into each other."""
    argv = shlex.split(settings["ExecStart"][0].lstrip("-@+!:"))
    user = settings["User"][0]
    caps = settings["AmbientCapabilities"][0].lower().replace("cap_", "")
    bounding = settings["CapabilityBoundingSet"][0].lower().replace("cap_", "")
    state = "var/lib/" + settings["StateDirectory"][0]
    r = root.path
    script = " && ".join([
        "mount --make-rprivate /",
        "mount --bind %s %s" % (r, r),
        "mount --bind %s/%s %s/%s" % (r, state, r, state),
        "mount -t proc proc %s/proc" % r,
        "mount -t tmpfs -o mode=1777 tmpfs %s/tmp" % r,
        "mount -o remount,bind,ro %s" % r,
        "exec chroot %s setpriv --reuid=%s --regid=%s --init-groups --no-new-privs "
        "--inh-caps=-all,+%s --ambient-caps=-all,+%s --bounding-set=-all,+%s -- %s" %
        (r, user, user, caps, caps, bounding, " ".join(shlex.quote(a) for a in argv)),
    ])
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
           "NOTIFY_SOCKET": "/run/" + os.path.basename(socks.notify_path),
           "WATCHDOG_USEC": str(TEST_WATCHDOG_USEC)}
    env.update(env_extra or {})
    return subprocess.Popen(["unshare", "--mount", "sh", "-c", script], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_daemon(proc, socks, timeout=20):
    since = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    socks.wait("STOPPING=1", lambda: socks.count("STOPPING=1", since), timeout)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise TestFailure("sitewatchd did not exit within %d s of SIGTERM" % timeout)
    check(rc == 0, "sitewatchd exited %d; output: %s" % (rc, proc.stdout.read()[-2000:]))


def http(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.read()


def api(port, path):
    return json.loads(http(port, path)[1])


def tree_hashes(root, rels):
    """{path: (sha256, uid, gid, mode)} of every file under the given root-relative dirs."""
    out = {}
    for rel in rels:
        for d, _, files in os.walk(root.p(rel)):
            for f in files:
                path = os.path.join(d, f)
                st = os.lstat(path)
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[os.path.relpath(path, root.path)] = (digest, st.st_uid, st.st_gid, st.st_mode)
    return out


class Check:
    def __init__(self, args):
        self.args = args
        self.arch = args.arch
        self.deb = self.one(os.path.join(TOP, "build", "deb", self.arch,
                                         "sitewatch_*_%s.deb" % self.arch))
        self.version = sh(["dpkg-deb", "-f", self.deb, "Version"]).strip()
        self.emu = os.path.join(TOP, "build", "sitewatch-emu")
        self.root = None
        self.socks = None
        self.procs = []
        self.passed = 0

    @staticmethod
    def one(pattern):
        hits = sorted(glob.glob(pattern))
        check(len(hits) == 1, "expected one %s, found %r" % (pattern, hits))
        return hits[0]

    def step(self, name, fn):
        t0 = time.monotonic()
        fn()
        self.passed += 1
        print("ok   %-28s (%.1f s)" % (name, time.monotonic() - t0), flush=True)

    # --- the steps -------------------------------------------------------------------------

    def build_upgrade(self):
        """The same tree rebuilt with a bumped version (a changelog entry), as an upgrade."""
        self.version2 = self.version + "+check1"
        out = os.path.join(TOP, "build", "deb", self.arch + "-upgrade")
        env = dict(os.environ, DEB_VERSION=self.version2, DEB_OUT=out, DEB_LINTIAN="0",
                   DEB_BUILD_OPTIONS="nocheck")
        sh([os.path.join(TOP, ".ci", "deb-build"), self.arch], env=env)
        self.deb2 = self.one(os.path.join(out, "sitewatch_%s_%s.deb" % (self.version2, self.arch)))

    def make_root(self):
        tar = cached_root(self.arch, self.deb)
        self.root = Root(tar, os.path.join(TOP, "build", "deb", "root-run-" + self.arch))

    def install(self):
        root = self.root
        shutil.copy(self.deb, root.p("tmp"))
        root.run("apt-get", "install", "-y", "--no-install-recommends",
                 "/tmp/" + os.path.basename(self.deb))
        st = root.run("dpkg-query", "-W", "-f=${Status} ${Version}", "sitewatch").stdout
        check(st == "install ok installed " + self.version, "dpkg status: %r" % st)
        for rel in ("usr/sbin/sitewatchd", "usr/bin/sitewatch", "usr/share/sitewatch/web/index.html",
                    "etc/sitewatch/sitewatch.conf", "usr/share/man/man8/sitewatchd.8.gz",
                    "usr/share/man/man1/sitewatch.1.gz", "usr/share/man/man5/sitewatch.conf.5.gz",
                    UNIT, "lib/udev/rules.d/60-sitewatch.rules"):
            check(os.path.exists(root.p(rel)), "not installed: /" + rel)
        check(os.access(root.p("usr/sbin/sitewatchd"), os.X_OK), "sitewatchd not executable")
        conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "sitewatch").stdout
        check("/etc/sitewatch/sitewatch.conf" in conffiles, "not a conffile: %r" % conffiles)
        uid, gid, groups = root.ids("sitewatch")
        check(uid is not None and uid < 1000, "no system user sitewatch (uid %r)" % uid)
        check("sitewatch" in groups["dialout"][1], "sitewatch not in dialout: %r" % (groups["dialout"],))
        st = os.stat(root.p("var/lib/sitewatch"))
        check((st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, 0o750),
              "/var/lib/sitewatch: owner %d:%d mode %o" % (st.st_uid, st.st_gid, st.st_mode & 0o7777))
        check(os.path.islink(root.p("etc/systemd/system/multi-user.target.wants/sitewatch.service")),
              "the unit was not enabled")
        out = root.run("setpriv", "--reuid=sitewatch", "--regid=sitewatch", "--init-groups",
                       "sitewatchd", "-c", "/etc/sitewatch/sitewatch.conf", "--check-config").stdout
        check("configuration is valid" in out, "shipped config: %r" % out)

    def unit(self):
        root = self.root
        s = unit_settings(root)
        want = {"Type": "notify", "User": "sitewatch", "SupplementaryGroups": "dialout",
                "StateDirectory": "sitewatch", "ProtectSystem": "strict", "ProtectHome": "yes",
                "PrivateTmp": "yes", "NoNewPrivileges": "yes", "Restart": "on-failure",
                "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
                "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
                "ExecReload": "/bin/kill -HUP $MAINPID"}
        for k, v in want.items():
            check(s.get(k) == [v], "unit: %s=%r, want %r" % (k, s.get(k), v))
        check("WatchdogSec" in s, "unit has no WatchdogSec=")
        # systemd's own checker, in the root where ExecStart's binary exists.
        # (Documentation=man:... is checked by running man, which a minimal root lacks.)
        out = root.run("systemd-analyze", "verify", "/" + UNIT, ok=False)
        problems = [ln for ln in out.stdout.splitlines() if "Command 'man " not in ln]
        check(not problems, "systemd-analyze verify: %s" % "\n".join(problems))
        sec = root.run("systemd-analyze", "security", "--offline=true", "/" + UNIT, ok=False)
        score = [ln for ln in sec.stdout.splitlines() if "Overall exposure" in ln]
        check(score, "systemd-analyze security: %s" % sec.stdout[-1000:])
        print("     %s" % score[0].strip().replace("→ ", ""))
        self.settings = s

    def configure(self):
        """Edits the installed conffile as an admin would: site name, port, one device."""
        root = self.root
        self.port = itlib.free_port()
        emu_port = itlib.free_port()
        text = root.read("etc/sitewatch/sitewatch.conf").decode()
        for old, new in (("site_name = sitewatch\n", "site_name = check-deb\n"),
                         ("listen = 127.0.0.1:8080\n", "listen = 127.0.0.1:%d\n" % self.port)):
            check(text.count(old) == 1, "shipped sitewatch.conf has no line %r" % old)
            text = text.replace(old, new)
        text += "\n[device bmv]\ndriver = vedirect\nport = tcp://127.0.0.1:%d\n" % emu_port
        with open(root.p("etc/sitewatch/sitewatch.conf"), "w") as f:
            f.write(text)
        emu = subprocess.Popen([self.emu, "vedirect", "--tcp", "127.0.0.1:%d" % emu_port,
                                "--kind", "bmv712", "--start-hour", "12", "--seed", "1"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        self.procs.append(emu)

    def run_daemon(self):
        root, socks = self.root, self.socks
        t0 = time.monotonic()
        d = start_daemon(root, self.settings, socks)
        self.procs.append(d)
        socks.wait("READY=1", lambda: socks.count("READY=1"), 30)
        health = api(self.port, "/api/v1/health")
        check(health.get("site") == "check-deb", "health: %r" % health)
        status, body = http(self.port, "/")
        check(status == 200 and body == root.read("usr/share/sitewatch/web/index.html"),
              "console: %d, %d bytes" % (status, len(body)))
        wait_for("bmv/Dc/0/Voltage ok", lambda: api(self.port, "/api/v1/points/bmv/Dc/0/Voltage")
                 .get("state") == "ok", 30)
        cli = root.run("sitewatch", "-u", "http://127.0.0.1:%d" % self.port, "get",
                       "bmv/Dc/0/Voltage", ok=False)
        check(cli.returncode == 0 and " V" in cli.stdout, "sitewatch get: %d %r" %
              (cli.returncode, cli.stdout))
        # The process is what the unit asks for: user, groups, one capability, no new privs.
        uid, gid, groups = root.ids("sitewatch")
        status = {}
        with open("/proc/%d/status" % d.pid) as f:
            for line in f:
                k, v = line.split(":", 1)
                status[k] = v.split()
        check(status["Uid"] == [str(uid)] * 4, "Uid %r" % status["Uid"])
        check(str(groups["dialout"][0]) in status["Groups"], "Groups %r" % status["Groups"])
        for k in ("CapBnd", "CapEff", "CapAmb"):
            check(int(status[k][0], 16) == 1 << 10, "%s %r (want CAP_NET_BIND_SERVICE only)" %
                  (k, status[k]))
        check(status["NoNewPrivs"] == ["1"], "NoNewPrivs %r" % status["NoNewPrivs"])
        # Watchdog keep-alives at half the asked interval.
        since = time.monotonic()
        socks.wait("2 x WATCHDOG=1", lambda: socks.count("WATCHDOG=1", since) >= 2, 10)
        # systemctl reload = SIGHUP: RELOADING=1 then READY=1.
        since = time.monotonic()
        d.send_signal(signal.SIGHUP)
        socks.wait("RELOADING=1", lambda: socks.count("RELOADING=1", since), 20)
        socks.wait("READY=1 after the reload", lambda: [1 for t, m in socks.messages if t >= since
                                                        and m.startswith("READY=1")], 20)
        check(any("MONOTONIC_USEC=" in m for t, m in socks.messages if "RELOADING=1" in m),
              "RELOADING=1 without MONOTONIC_USEC=")
        check(not [ln for ln in socks.lines if "Read-only file system" in ln],
              "the daemon tried to write outside its StateDirectory: %r" % socks.lines)
        check([ln for ln in socks.lines if "sitewatchd started" in ln],
              "no start line in syslog: %r" % socks.lines[-5:])
        stop_daemon(d, socks)
        self.procs.remove(d)
        ready = min(t for t, m in socks.messages if m.startswith("READY=1"))
        print("     READY=1 %.2f s after exec; %d syslog lines" % (ready - t0, len(socks.lines)))

    def upgrade(self):
        root = self.root
        uid, gid, _ = root.ids("sitewatch")
        # What a site accumulates: RRD files and queued mails beside the daemon's own state.
        for rel, data in (("var/lib/sitewatch/rrd/bmv.rrd", os.urandom(4096)),
                          ("var/lib/sitewatch/outbox/0001.eml", b"Subject: check-deb\r\n\r\nx\r\n")):
            os.makedirs(os.path.dirname(root.p(rel)), exist_ok=True)
            with open(root.p(rel), "wb") as f:
                f.write(data)
            os.chown(os.path.dirname(root.p(rel)), uid, gid)
            os.chown(root.p(rel), uid, gid)
        before = tree_hashes(root, ["etc/sitewatch", "var/lib/sitewatch"])
        postinst = root.read("var/lib/dpkg/info/sitewatch.postinst").decode()
        check("_dh_action=restart" in postinst, "postinst does not restart on upgrade")
        shutil.copy(self.deb2, root.p("tmp"))
        # Unattended, as README says: if the shipped sitewatch.conf changed too, keep the admin's.
        root.run("apt-get", "install", "-y", "--no-install-recommends",
                 "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
                 "/tmp/" + os.path.basename(self.deb2))
        st = root.run("dpkg-query", "-W", "-f=${Status} ${Version}", "sitewatch").stdout
        check(st == "install ok installed " + self.version2, "dpkg status after upgrade: %r" % st)
        after = tree_hashes(root, ["etc/sitewatch", "var/lib/sitewatch"])
        lost = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
        check(not lost, "changed by the upgrade: %r" % lost)
        # The upgraded daemon runs with the kept configuration.
        d = start_daemon(root, unit_settings(root), self.socks)
        self.procs.append(d)
        since = time.monotonic()
        self.socks.wait("READY=1 after the upgrade",
                        lambda: [1 for t, m in self.socks.messages if t >= since and
                                 m.startswith("READY=1")], 30)
        check(api(self.port, "/api/v1/health").get("site") == "check-deb", "config not kept")
        stop_daemon(d, self.socks)
        self.procs.remove(d)
        print("     %d files kept: %s" % (len(before), ", ".join(sorted(before))[:300]))

    def purge(self):
        root = self.root
        admin = root.p("etc/sitewatch/alarms.d/local.conf")
        with open(admin, "w") as f:
            f.write("# an admin's own file\n")
        root.run("apt-get", "purge", "-y", "sitewatch")
        st = root.run("dpkg-query", "-W", "-f=${Status}", "sitewatch", ok=False).stdout
        check("no packages found" in st or "not-installed" in st, "dpkg status after purge: %r" % st)
        for rel in ("usr/sbin/sitewatchd", "usr/bin/sitewatch", "usr/share/sitewatch", UNIT,
                    "lib/udev/rules.d/60-sitewatch.rules", "etc/sitewatch/sitewatch.conf",
                    "etc/sitewatch/modbus-map.csv", "var/lib/sitewatch",
                    "etc/systemd/system/multi-user.target.wants/sitewatch.service"):
            check(not os.path.lexists(root.p(rel)), "left after purge: /" + rel)
        check(os.path.exists(admin), "purge removed a file the package never shipped")
        left = sorted(os.path.relpath(os.path.join(d, f), root.path)
                      for d, _, fs in os.walk(root.p("etc/sitewatch")) for f in fs)
        check(left == ["etc/sitewatch/alarms.d/local.conf"], "left in /etc/sitewatch: %r" % left)
        check(root.ids("sitewatch")[0] is not None, "the sitewatch user is kept (Debian practice)")
        print("     left: /etc/sitewatch/alarms.d/local.conf (the admin's), user sitewatch")

    def main(self):
        failed = 0
        try:
            self.step("build the upgrade package", self.build_upgrade)
            self.step("Debian 12 root", self.make_root)
            self.socks = Sockets(self.root)
            self.step("install with apt", self.install)
            self.step("systemd unit", self.unit)
            self.step("configure like an admin", self.configure)
            self.step("run as the unit would", self.run_daemon)
            self.step("upgrade keeps config+state", self.upgrade)
            self.step("purge", self.purge)
        except TestFailure as e:
            failed = 1
            print("FAIL %s" % e, flush=True)
        finally:
            for p in self.procs:
                p.kill()
                p.wait()
            if self.socks:
                self.socks.close()
            if self.root and not self.args.keep:
                self.root.close()
        print("%d passed, %d failed" % (self.passed, failed))
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default=sh(["dpkg", "--print-architecture"]).strip())
    ap.add_argument("--keep", action="store_true", help="keep the root for a post-mortem")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("check-deb: needs root (chroot, mounts)", file=sys.stderr)
        return 2
    native = sh(["dpkg", "--print-architecture"]).strip()
    if args.arch != native:
        print("check-deb: runs the %s package only (this machine is %s)" % (args.arch, native),
              file=sys.stderr)
        return 2
    return Check(args).main()


if __name__ == "__main__":
    sys.exit(main())
