"""Access control and HTTP robustness of the console's server: logins with hashes written by
`sitewatch passwd`, HttpOnly SameSite=Strict session cookies, CSRF tokens on changes, roles,
login lockout, session expiry, cross-site refusal, junk requests, huge headers and bodies, path
traversal, bad cookies, and Server-Sent Events with 50 clients and a client that never reads."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time

from itlib import BUILD, Site, check, wait_for

ADMIN_PW = "correct horse battery"
VIEWER_PW = "viewer pass 1"


def passwd(user, role, pw):
    r = subprocess.run([os.path.join(BUILD, "sitewatch"), "passwd", user, role], input=pw + "\n",
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "sitewatch passwd failed: %s" % r.stderr)
    check(r.stdout.startswith("[user %s]\nrole = %s\npassword_hash = $y$" % (user, role)),
          "passwd output: %r" % r.stdout)
    return r.stdout


def users_conf(access="trust_loopback = no\n"):
    return (passwd("ann", "admin", ADMIN_PW) + passwd("vic", "viewer", VIEWER_PW) +
            "[access]\n" + access)


def request(s, method, path, body=None, headers=None):
    """One request on a fresh connection: (status, headers dict (lower-case, Set-Cookie as a
    list), body text)."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    c.request(method, path, body=data, headers=headers or {})
    r = c.getresponse()
    text = r.read().decode(errors="replace")
    hdrs = {}
    for k, v in r.getheaders():
        k = k.lower()
        if k == "set-cookie":
            hdrs.setdefault(k, []).append(v)
        else:
            hdrs[k] = v
    c.close()
    return r.status, hdrs, text


def login(s, user, pw):
    st, hd, text = request(s, "POST", "/api/v1/login", {"user": user, "password": pw},
                           {"Content-Type": "application/json"})
    check(st == 200, "login %s: %d %s" % (user, st, text))
    cookies = {}
    for c in hd.get("set-cookie", []):
        name, _, rest = c.partition("=")
        cookies[name] = (rest.split(";")[0], c)
    return cookies, json.loads(text)


def site_with_bmv(name, extra):
    s = Site(name)
    s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
    s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})], extra)
    return s


def test_http_login_roles_csrf_and_cookies():
    """Anonymous GETs are refused when logins are on; a login sets an HttpOnly SameSite=Strict
    session cookie and a readable CSRF cookie; a viewer reads but cannot change; an admin changes
    only with the CSRF token; logout ends the session."""
    s = site_with_bmv("auth", users_conf())
    try:
        s.start_daemon()
        st, _, _ = request(s, "GET", "/api/v1/points")
        check(st == 401, "anonymous GET with require_login: %d" % st)
        st, _, text = request(s, "GET", "/api/v1/session")
        check(st == 200 and json.loads(text)["role"] == "none", "session: %d %s" % (st, text))
        st, _, _ = request(s, "POST", "/api/v1/login", {"user": "ann", "password": "nope"})
        check(st == 401, "wrong password: %d" % st)
        st, _, _ = request(s, "POST", "/api/v1/login", {"user": "nobody", "password": "x"})
        check(st == 401, "unknown user: %d" % st)

        cookies, who = login(s, "ann", ADMIN_PW)
        check(who["role"] == "admin" and len(who["csrf"]) == 43, "login reply: %r" % who)
        sid, sc = cookies["sw_session"]
        check("HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc,
              "session cookie flags: %s" % sc)
        check(len(sid) == 43, "session id length: %r" % sid)
        csrf, cc = cookies["sw_csrf"]
        check("HttpOnly" not in cc and "SameSite=Strict" in cc, "csrf cookie flags: %s" % cc)
        check(csrf == who["csrf"], "csrf cookie equals the reply's token")
        auth = {"Cookie": "sw_session=%s; sw_csrf=%s" % (sid, csrf)}
        st, _, text = request(s, "GET", "/api/v1/points", headers=auth)
        check(st == 200 and "points" in json.loads(text), "admin GET: %d" % st)

        silence = {"target": "bmv", "duration": "1h", "comment": "test"}
        st, _, text = request(s, "POST", "/api/v1/silences", silence, auth)
        check(st == 403 and "CSRF" in text, "admin POST without CSRF header: %d %s" % (st, text))
        st, _, text = request(s, "POST", "/api/v1/silences", silence,
                              dict(auth, **{"X-CSRF-Token": "x" * 43}))
        check(st == 403 and "CSRF" in text, "admin POST with a wrong token: %d %s" % (st, text))
        st, _, text = request(s, "POST", "/api/v1/silences", silence,
                              dict(auth, **{"X-CSRF-Token": csrf}))
        check(st in (200, 201), "admin POST with CSRF: %d %s" % (st, text))
        st, _, text = request(s, "POST", "/api/v1/silences", silence,
                              dict(auth, **{"X-CSRF-Token": csrf,
                                            "Origin": "http://evil.example"}))
        check(st == 403 and "cross-site" in text, "cross-site POST: %d %s" % (st, text))

        vcookies, vwho = login(s, "vic", VIEWER_PW)
        vauth = {"Cookie": "sw_session=%s" % vcookies["sw_session"][0],
                 "X-CSRF-Token": vwho["csrf"]}
        st, _, _ = request(s, "GET", "/api/v1/devices", headers=vauth)
        check(st == 200, "viewer GET: %d" % st)
        st, _, text = request(s, "POST", "/api/v1/silences", silence, vauth)
        check(st == 403 and "admin" in text, "viewer POST: %d %s" % (st, text))
        st, _, text = request(s, "GET", "/api/v1/log", headers=vauth)
        check(st == 403, "viewer reading the log: %d %s" % (st, text))
        st, _, text = request(s, "POST", "/api/v1/devices/bmv/command",
                              {"command": "mode", "value": "on"}, vauth)
        check(st == 403, "viewer device command: %d %s" % (st, text))
        st, _, text = request(s, "POST", "/api/v1/silences", silence)
        check(st == 401, "anonymous POST from untrusted loopback: %d %s" % (st, text))

        st, hd, _ = request(s, "POST", "/api/v1/logout", b"", dict(auth, **{"X-CSRF-Token": csrf}))
        check(st == 200 and any("Max-Age=0" in c for c in hd.get("set-cookie", [])),
              "logout clears cookies: %d %r" % (st, hd))
        st, _, _ = request(s, "GET", "/api/v1/points", headers=auth)
        check(st == 401, "GET after logout: %d" % st)
        check("auth: ann logged in" in s.log(), "logins are logged")
    finally:
        s.close()


def test_http_login_lockout_and_session_expiry():
    """Five failed logins lock the user and the address out (429, even with the right password);
    a session ends after session_ttl; require_login = no lets viewers in anonymously."""
    s = site_with_bmv("lock", users_conf("trust_loopback = no\nsession_ttl = 2s\n"
                                         "login_max_failures = 5\nlogin_lockout = 1m\n"
                                         "require_login = no\n"))
    try:
        s.start_daemon()
        st, _, _ = request(s, "GET", "/api/v1/points")
        check(st == 200, "require_login = no: anonymous GET: %d" % st)
        st, _, _ = request(s, "POST", "/api/v1/silences", {"target": "bmv", "duration": "1h"})
        check(st == 401, "require_login = no still needs an admin to change: %d" % st)
        cookies, _ = login(s, "vic", VIEWER_PW)
        t0 = time.monotonic()
        hdr = {"Cookie": "sw_session=" + cookies["sw_session"][0]}
        st, _, text = request(s, "GET", "/api/v1/session", headers=hdr)
        check(json.loads(text)["role"] == "viewer", "session role: %s" % text)
        wait_for("the session to expire",
                 lambda: json.loads(request(s, "GET", "/api/v1/session", headers=hdr)[2])["role"]
                 == "none", 10)
        check(time.monotonic() - t0 >= 1.5, "session ended too early")
        for _ in range(5):
            st, _, _ = request(s, "POST", "/api/v1/login", {"user": "ann", "password": "bad"})
            check(st == 401, "failed login: %d" % st)
        st, _, text = request(s, "POST", "/api/v1/login", {"user": "ann", "password": ADMIN_PW})
        check(st == 429, "locked out even with the right password: %d %s" % (st, text))
        check("locked out" in s.log(), "the lockout is logged")
    finally:
        s.close()


def raw(s, data, read=True, timeout=3):
    """Sends raw bytes; returns what the server answered (b"" when it closed)."""
    sk = socket.create_connection(("127.0.0.1", s.port), timeout=timeout)
    try:
        sk.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = sk.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        sk.close()


def test_http_junk_huge_traversal_and_bad_cookies():
    """Junk request lines, a 200 kB header, a 1 MB body, path traversal in many spellings and
    malformed cookies are all refused without leaking files; the daemon stays healthy and
    sanitizer-clean."""
    s = site_with_bmv("junk", users_conf())
    try:
        s.start_daemon()
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"NOTAMETHOD /api/v1/points HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
            out = raw(s, junk)
            check(out == b"" or out.split(b" ")[1][:1] in (b"4", b"5"),
                  "junk %r answered %r" % (junk[:30], out[:80]))
        big = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 200000 + b"\r\n\r\n"
        out = raw(s, big)
        check(out == b"" or b" 431 " in out[:20] or b" 413 " in out[:20] or b" 400 " in out[:20],
              "huge header answered %r" % out[:80])
        body = b"{" + b" " * (1 << 20) + b"}"
        out = raw(s, b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        check(b" 413 " in out[:20] or out == b"", "1 MB body answered %r" % out[:80])
        secret = os.path.join(s.dir, "sitewatch.conf")
        for path in ("/../sitewatch.conf", "/..%2fsitewatch.conf", "/%2e%2e/%2e%2e/etc/passwd",
                     "/vendor/../../etc/passwd", "/./index.html/../../x", "//etc/passwd",
                     "/" + "../" * 20 + "etc/passwd",
                     "/..\\..\\etc\\passwd"):
            out = raw(s, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
                      .encode())
            check(b"root:" not in out and b"password_hash" not in out and
                  (out == b"" or out.split(b" ")[1][:1] == b"4"),
                  "traversal %s answered %r" % (path, out[:120]))
        # A NUL cuts the path where libmicrohttpd decodes it: what comes back is the console's
        # own index page, never anything outside the web root.
        out = raw(s, b"GET /index.html%00/../../sitewatch.conf HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        check(b"password_hash" not in out and (b" 200 " not in out[:20] or b"<title>" in out),
              "NUL in path answered %r" % out[:120])
        check(os.path.exists(secret), "config still there")
        for cookie in ("sw_session=", "sw_session=" + "A" * 43, "sw_session=" + "A" * 5000,
                       "sw_session", ";;;;=;=", "sw_session=\x7f\x01", "a=b; " * 500):
            st, _, _ = request(s, "GET", "/api/v1/points", headers={"Cookie": cookie})
            check(st in (400, 401, 431), "bad cookie %r: %d" % (cookie[:20], st))
        st, _, text = request(s, "GET", "/")
        check(st == 200 and "<title>sitewatch</title>" in text, "console still served: %d" % st)
        st, hd, _ = request(s, "GET", "/index.html")
        check("default-src 'self'" in hd.get("content-security-policy", ""),
              "CSP header: %r" % hd)
        check(s.api("/api/v1/health")["status"] in ("ok", "degraded"), "daemon healthy")
    finally:
        s.close()


class SseClient(threading.Thread):
    """Reads /api/v1/events and records when each point value first arrived."""

    def __init__(self, port, key):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.key = key
        self.seen = {}  # value -> monotonic arrival
        self.events = 0
        self.error = None
        self.stop = False

    def run(self):
        buf = b""
        try:
            while not self.stop:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    ev, buf = buf.split(b"\n\n", 1)
                    for line in ev.split(b"\n"):
                        if line.startswith(b"data: {"):
                            self.events += 1
                            doc = json.loads(line[6:])
                            p = doc.get(self.key)
                            if p and p["value"] is not None:
                                self.seen.setdefault(p["value"], time.monotonic())
        except OSError as e:
            if not self.stop:
                self.error = e

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_http_events_fifty_clients_and_a_stalled_one():
    """50 SSE clients plus one that never reads: every client gets each new value of a live
    point within 2 s of the API showing it, and GETs stay fast."""
    s = site_with_bmv("sse", "")
    clients = []
    try:
        s.start_daemon()
        key = "bmv/Dc/0/Voltage"
        wait_for("a voltage", lambda: s.point(key)["value"] is not None, 10)
        stalled = socket.create_connection(("127.0.0.1", s.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(50):
            c = SseClient(s.port, key)
            c.start()
            clients.append(c)
        wait_for("50 snapshots", lambda: all(c.events > 0 for c in clients), 20)
        # Watch the API for new values; each must reach every client within 2 s.
        lat = []
        last = s.point(key)["value"]
        deadline = time.monotonic() + 25
        changes = 0
        while changes < 3 and time.monotonic() < deadline:
            v = s.point(key)["value"]
            if v is not None and v != last:
                t0 = time.monotonic()
                last = v
                changes += 1
                wait_for("value %r at 50 clients" % v, lambda: all(v in c.seen for c in clients),
                         5, 0.02)
                lat.append(max(c.seen[v] for c in clients) - t0)
            time.sleep(0.05)
        check(changes >= 2, "the emulated voltage changed %d times" % changes)
        check(max(lat) < 2.0, "SSE latency with 50 clients: %r" % lat)
        t0 = time.monotonic()
        for _ in range(20):
            s.api("/api/v1/health")
        per = (time.monotonic() - t0) / 20
        check(per < 0.25, "GET /api/v1/health takes %.3f s with 51 streams" % per)
        check(all(c.error is None for c in clients), "client errors")
        stalled.close()
    finally:
        for c in clients:
            c.close()
        s.close()


def test_http_tls_with_cert_and_key():
    """tls_cert / tls_key in [http]: the console and API answer HTTPS (and not plain HTTP), and
    session cookies carry Secure; a missing key file refuses to start with a clear message."""
    import ssl
    s = Site("tls")
    try:
        cert, key = os.path.join(s.dir, "cert.pem"), os.path.join(s.dir, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                           capture_output=True, timeout=60)
        check(r.returncode == 0, "openssl: %s" % r.stderr)
        s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})],
                     "tls_cert = %s\ntls_key = %s\n" % (cert, key) + users_conf())
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        s.daemon = subprocess.Popen([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path, "-f"],
                                    stdout=open(s.daemon_log, "w"), stderr=subprocess.STDOUT,
                                    env=env)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False

        def https(method, path, body=None):
            c = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10, context=ctx)
            c.request(method, path, body=json.dumps(body) if body else None)
            r = c.getresponse()
            out = (r.status, r.getheader("Set-Cookie") or "", r.read().decode())
            c.close()
            return out
        wait_for("HTTPS health", lambda: https("GET", "/api/v1/health")[0] == 200, 15)
        st, _, text = https("GET", "/")
        check(st == 200 and "<title>sitewatch</title>" in text, "console over HTTPS: %d" % st)
        st, cookie, _ = https("POST", "/api/v1/login", {"user": "vic", "password": VIEWER_PW})
        check(st == 200 and "Secure" in cookie and "HttpOnly" in cookie,
              "login over HTTPS: %d %s" % (st, cookie))
        out = raw(s, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        check(b"200 OK" not in out, "plain HTTP on the TLS port answered %r" % out[:60])
        s.stop_daemon()
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})],
                     "tls_cert = %s\ntls_key = %s\n" % (cert, key + ".missing"))
        r = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path, "-f"],
                           capture_output=True, text=True, timeout=20, env=env)
        check(r.returncode != 0 and "tls_key" in r.stderr, "missing key: %d %s" %
              (r.returncode, r.stderr[-300:]))
    finally:
        s.close()
