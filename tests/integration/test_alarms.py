"""Integration tests of alarms and notifications: the real daemon (ASan build) against an
emulated BMV on a pty and a real SMTP server (aiosmtpd, tests/integration/smtp_sink.py) on loopback: mail
contents, acknowledgement, recovery, the exec route, SMTP down then back (order, restarts),
kill -9 while sending, STARTTLS and implicit TLS with a self-signed certificate, rule errors."""
import email
import email.policy
import os
import signal
import subprocess
import sys
import time

from itlib import BUILD, Site, check, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "smtp_sink.py")


def start_sink(site, port, *args):
    d = os.path.join(site.dir, "mail")
    os.makedirs(d, exist_ok=True)
    # Debian's python3, which has python3-aiosmtpd (a pyenv python on PATH may not)
    p = subprocess.Popen(["/usr/bin/python3", SINK, "--port", str(port), "--dir", d] + list(args),
                         stdout=subprocess.PIPE, stderr=open(os.path.join(site.dir, "sink.log"),
                                                             "a"), text=True)
    site.procs.append(p)
    line = p.stdout.readline().strip()
    check(line.startswith("ready"), "SMTP sink did not start: %r" % line)
    return p


def stop_sink(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)


def mails(site):
    d = os.path.join(site.dir, "mail")
    if not os.path.isdir(d):
        return []
    out = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".eml"):
            with open(os.path.join(d, f), "rb") as fh:
                out.append(email.message_from_bytes(fh.read(), policy=email.policy.default))
    return out


def body(m):
    return m.get_body(preferencelist=("plain",)).get_content()


def bmv_site(name, extra):
    s = Site(name)
    emu, _ = s.emulator("vedirect", "--pty", s.pty("bmv"), "--kind", "bmv712")
    s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})], extra)
    return s, emu


def route(port, name="ops", more=""):
    return ("[notify %s]\ntype = email\nhost = 127.0.0.1\nport = %d\nfrom = site@example.com\n"
            "to = noc@example.com, oncall@example.com\ngroup_wait = 1s\ngroup_interval = 1s\n%s"
            % (name, port, more))


def test_alarm_mail_ack_recovery_exec():
    """A rule fires on the emulator's real values: the mail names the site, what fired, the
    values and since when, the description, the console; ack is logged; the device going quiet
    keeps the value alarm (unknown never clears), raises no-data/offline, and a recovery mail
    follows when it talks again; the exec route runs with the alarm in its environment."""
    port = free_port()
    s = None
    try:
        s, emu = bmv_site("alarms", "")
        out = os.path.join(s.dir, "exec.out")
        extra = (
            "[alarms]\noffline_after = 2s\nnodata_after = 2s\n"
            "[alarm low_voltage]\nwhen = bmv/Dc/0/Voltage < 100 and bmv/Dc/0/Current < 1000\n"
            "for = 2s\nseverity = critical\nnotify = ops\n"
            "description = Battery voltage below 100 V: check the charger.\n"
            "[alarm quiet]\nwhen = age(bmv/Dc/0/Voltage) > 4\nnotify = ops\n"
            "[alarm hook]\nwhen = bmv/Dc/0/Voltage > 1\nnotify = hook\n"
            "[notify hook]\ntype = exec\ngroup_wait = 0s\ncommand = env | grep ^SITEWATCH_ > %s\n"
            % out + route(port))
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})], extra)
        start_sink(s, port)
        s.start_daemon()
        m = wait_for("the alarm mail", lambda: [x for x in mails(s) if "low_voltage" in
                                                  x["Subject"]], 30)[0]
        check(m["Subject"].startswith("[it-") and "ALARM (critical)" in m["Subject"],
              "subject %r" % m["Subject"])
        check("noc@example.com" in m["To"] and "oncall@example.com" in m["To"], m["To"])
        check(m["X-Rcpt"] == "noc@example.com,oncall@example.com", "envelope %r" % m["X-Rcpt"])
        check(m["Message-ID"] and m["Date"], "headers %r" % dict(m))
        b = body(m)
        v = s.point("bmv/Dc/0/Voltage")["value"]
        for want in ("Site: it-", "FIRED: low_voltage: bmv/Dc/0/Voltage < 100",
                     "values:   bmv/Dc/0/Voltage = ", " V, bmv/Dc/0/Current = ", "since:",
                     "Battery voltage below 100 V: check the charger.",
                     "Console: http://127.0.0.1:%d/" % s.port):
            check(want in b, "mail body lacks %r:\n%s" % (want, b))
        sent_v = float(b.split("bmv/Dc/0/Voltage = ")[1].split(" ")[0])
        check(abs(sent_v - v) < 2, "mail value %r far from the point %r" % (sent_v, v))
        al = {a["id"]: a for a in s.api("/api/v1/alarms")["alarms"]}
        check(al["rule:low_voltage"]["state"] == "firing", al)
        st, txt = s.http("/api/v1/alarms/rule:low_voltage/ack", "POST", b'{"who": "alice"}')
        check(st == 200, "ack: %d %s" % (st, txt))
        st, _ = s.http("/api/v1/alarms/rule:nope/ack", "POST", b"{}")
        check(st == 404, "ack of an unknown alarm: %d" % st)
        log = s.api("/api/v1/alarms/log")["log"]
        check(any(e["event"] == "acknowledged" and e.get("who") == "alice" for e in log), log)
        wait_for("the exec route's output", lambda: os.path.exists(out) and
                 "SITEWATCH_ALARM_ID=rule:hook" in open(out).read(), 20)
        env = open(out).read()
        check("SITEWATCH_EVENT=raised" in env and "SITEWATCH_SEVERITY=warning" in env, env)
        # the device goes quiet: unknown never clears, no-data and offline are raised
        emu.send_signal(signal.SIGUSR1)
        wait_for("offline and no-data alarms", lambda: {"offline:bmv", "nodata:bmv",
                                                         "rule:quiet"} <=
                 {a["id"] for a in s.api("/api/v1/alarms")["alarms"]
                  if a["state"] == "firing"}, 30)
        check("rule:low_voltage" in {a["id"] for a in s.api("/api/v1/alarms")["alarms"]},
              "the value alarm cleared on unknown input")
        emu.send_signal(signal.SIGUSR1)
        rec = wait_for("the recovery mail", lambda: [x for x in mails(s)
                                                      if "RESOLVED" in body(x) and
                                                      "quiet" in body(x)], 40)[0]
        check("cleared:" in body(rec), body(rec))
        wait_for("offline cleared", lambda: "offline:bmv" not in
                 {a["id"] for a in s.api("/api/v1/alarms")["alarms"]}, 30)
    finally:
        if s:
            s.close()


def test_smtp_down_restart_then_back_in_order():
    """Three alarms fire while the SMTP server is down, the daemon is restarted meanwhile; once
    the server is up every mail arrives, once, in the order the alarms fired."""
    port = free_port()
    s = None
    try:
        extra = "".join("[alarm r%d]\nwhen = bmv/Dc/0/Voltage < 100\nfor = %ds\nnotify = ops\n"
                        % (i, 1 + 3 * i) for i in range(3)) + route(port)
        s, _ = bmv_site("down", extra)
        s.start_daemon()
        outbox = os.path.join(s.dir, "state", "outbox")
        wait_for("three mails queued", lambda: len([f for f in os.listdir(outbox)
                                                    if f.endswith(".msg")]) >= 3 and
                 all(a["state"] == "firing" for a in s.api("/api/v1/alarms")["alarms"]
                     if a["id"].startswith("rule:")) and
                 len(s.api("/api/v1/alarms")["alarms"]) >= 3, 40)
        s.stop_daemon()
        s.start_daemon()
        # the console's outbox listing shows them waiting, the first one failing
        ob = wait_for("the outbox listing to show the failure", lambda: (lambda o: o if
                      o["total"] >= 3 and o["routes"][0]["last_error"] else None)(
                      s.api("/api/v1/outbox")), 20)
        check([m["state"] for m in ob["messages"]][:2] == ["failed, retrying", "queued"],
              "outbox states %r" % ob["messages"])
        check(ob["routes"][0]["name"] == "ops" and ob["routes"][0]["queued"] >= 3,
              "outbox routes %r" % ob["routes"])
        time.sleep(2)
        start_sink(s, port)
        got = wait_for("three mails", lambda: len(mails(s)) >= 3 and mails(s), 60)
        time.sleep(3)
        ob = s.api("/api/v1/outbox")
        check(ob["total"] == 0 and ob["routes"][0]["delivered"] >= 3 and
              not ob["routes"][0]["last_error"], "outbox after delivery %r" % ob)
        got = mails(s)
        subjects = [m["Subject"] for m in got]
        check(len(got) == 3, "expected each mail once: %r" % subjects)
        order = [next(i for i in range(3) if ": r%d:" % i in sub) for sub in subjects]
        check(order == [0, 1, 2], "out of order: %r" % subjects)
        check(len({m["Message-ID"] for m in got}) == 3, "Message-IDs not unique")
    finally:
        if s:
            s.close()


def test_kill9_while_sending_loses_nothing():
    """kill -9 while the server has the mail but has not accepted it yet: after a restart the
    mail is delivered; any duplicate carries the same Message-ID."""
    port = free_port()
    s = None
    try:
        extra = "[alarm low]\nwhen = bmv/Dc/0/Voltage < 100\nnotify = ops\n" + route(port)
        s, _ = bmv_site("kill9", extra)
        sink = start_sink(s, port, "--delay", "6")
        s.start_daemon()
        outbox = os.path.join(s.dir, "state", "outbox")
        wait_for("the mail in the outbox", lambda: any(
            f.endswith(".msg") and open(os.path.join(outbox, f)).read().find("Subject") > 0
            for f in os.listdir(outbox)), 30)
        time.sleep(2)  # the sender is now waiting for the 250 after DATA
        s.daemon.kill()
        s.daemon.wait()
        s.daemon = None
        check(len(mails(s)) == 0, "accepted before the kill: the test proves nothing")
        stop_sink(sink)
        start_sink(s, port)
        s.start_daemon()
        got = wait_for("the mail after the restart", lambda: mails(s), 40)
        check(all("low" in m["Subject"] for m in got), [m["Subject"] for m in got])
        check(len({m["Message-ID"] for m in got}) == 1, "duplicates differ in Message-ID")
        wait_for("an empty outbox", lambda: not [f for f in os.listdir(outbox)
                                                 if f.endswith(".msg")], 20)
    finally:
        if s:
            s.close()


def test_tls_starttls_and_implicit_self_signed():
    """`sitewatch test-mail ROUTE` over STARTTLS and over implicit TLS to servers with a
    self-signed certificate trusted through ca_file."""
    p1, p2 = free_port(), free_port()
    s = None
    try:
        s = Site("tls")
        cert, key = os.path.join(s.dir, "cert.pem"), os.path.join(s.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        start_sink(s, p1, "--tls", "starttls", "--cert", cert, "--key", key)
        start_sink(s, p2, "--tls", "implicit", "--cert", cert, "--key", key)
        s.write_conf([], route(p1, "starttls", "tls = starttls\nca_file = %s\n" % cert) +
                     route(p2, "implicit", "tls = implicit\nca_file = %s\n" % cert))
        s.start_daemon()
        cli = os.path.join(BUILD, "sitewatch")
        base = "http://127.0.0.1:%d" % s.port
        for name in ("starttls", "implicit"):
            r = subprocess.run([cli, "-u", base, "test-mail", name], capture_output=True,
                               text=True, timeout=60)
            check(r.returncode == 0, "test-mail %s: %s %s" % (name, r.stdout, r.stderr))
        subj = sorted(m["Subject"] for m in mails(s))
        check(len(subj) == 2 and all("test mail" in x for x in subj), subj)
        r = subprocess.run([cli, "-u", base, "test-mail", "nope"], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode != 0 and "no such" in r.stderr, "unknown route: %r" % r.stderr)
    finally:
        if s:
            s.close()


def test_rule_error_names_file_line_column():
    """A syntax error in alarms.d/NAME.conf names the file, line and column, with a caret."""
    s = Site("ruleerr")
    try:
        s.write_conf([])
        os.makedirs(os.path.join(s.dir, "alarms.d"))
        bad = os.path.join(s.dir, "alarms.d", "10-site.conf")
        with open(bad, "w") as f:
            f.write("[alarm a]\nwhen = bmv/Dc/0/Voltage < 24 and * 3\n")
        r = subprocess.run([os.path.join(BUILD, "sitewatchd"), "-c", s.conf_path,
                            "--check-config"], capture_output=True, text=True, timeout=20)
        out = r.stdout + r.stderr
        check(r.returncode != 0, "accepted a bad rule")
        check("%s:2: when: column 27: " % bad in out, out)
        check("\n    bmv/Dc/0/Voltage < 24 and * 3\n" + " " * 30 + "^" in out, out)
    finally:
        s.close()


def test_sms_through_emulated_modem():
    """A rule fires and its SMS goes out through `sitewatch-emu modem` with AT commands; the
    modem refuses the first text (+CMS ERROR: 38) and the outbox retries until it takes it."""
    s = None
    try:
        s, _ = bmv_site("sms", "")
        log = os.path.join(s.dir, "sms.log")
        s.emulator("modem", "--pty", s.pty("modem"), "--log", log, "--fail", "1")
        extra = ("[alarm low]\nwhen = bmv/Dc/0/Voltage < 100\nseverity = critical\nnotify = gsm\n"
                 "[notify gsm]\ntype = sms\nmodem = %s\nto = +15550001, +15550002\n"
                 "group_wait = 0s\ngroup_interval = 0s\n" % s.pty("modem"))
        s.write_conf([("bmv", {"driver": "vedirect", "port": s.pty("bmv")})], extra)
        s.start_daemon()
        lines = wait_for("two SMS", lambda: os.path.exists(log) and
                         len(open(log).read().splitlines()) >= 2 and
                         open(log).read().splitlines(), 40)
        nums = [l.split("\t")[0] for l in lines]
        check(nums[:2] == ["+15550001", "+15550002"], lines)
        text = lines[0].split("\t", 1)[1]
        check(text.startswith("[it-") and "ALARM critical: low: bmv/Dc/0/Voltage < 100" in text
              and len(text) <= 160, text)
        check("cannot deliver" in s.log(), "the refused first text was not retried")
    finally:
        if s:
            s.close()


def test_one_event_one_mail():
    """Five alarms of one event within group_wait arrive as one mail listing all of them; a site
    name in another script reaches the reader intact (RFC 2047 in Subject and From)."""
    port = free_port()
    s = None
    try:
        extra = "".join("[alarm g%d]\nwhen = bmv/Dc/0/Voltage < 100\nnotify = ops\n" % i
                        for i in range(5)) + route(port).replace("group_wait = 1s",
                                                                 "group_wait = 3s")
        s, _ = bmv_site("group", extra)
        with open(s.conf_path) as f:
            text = f.read()
        site = "Tür 17, Überlandstraße — Nord (Ост)"
        text = "\n".join("site_name = " + site if l.startswith("site_name =") else l
                         for l in text.split("\n"))
        with open(s.conf_path, "w") as f:
            f.write(text)
        start_sink(s, port)
        s.start_daemon()
        got = wait_for("the grouped mail", lambda: mails(s), 30)
        time.sleep(3)
        got = mails(s)
        check(len(got) == 1, "expected one mail, got %r" % [m["Subject"] for m in got])
        b = body(got[0])
        check(all("FIRED: g%d:" % i in b for i in range(5)), b)
        check(got[0]["Subject"].startswith("[%s] 5 alarm(s) fired, 0 resolved" % site),
              got[0]["Subject"])
        check(got[0]["From"].addresses[0].display_name == "sitewatch " + site and
              got[0]["From"].addresses[0].addr_spec == "site@example.com", got[0]["From"])
        check("Site: %s" % site in b, b)
    finally:
        if s:
            s.close()


def test_daily_heartbeat_mail():
    """heartbeat = HH:MM (00:00, which has passed at any hour): the daily summary mail goes out
    at once (the time of day has passed and none went out today), naming the site and the alarm
    state, so a site that stops sending it is noticed. Only one per day."""
    port = free_port()
    s = None
    try:
        # not the wall clock's "now": a start just after local midnight would wait a day for it
        extra = ("[alarm low]\nwhen = bmv/Dc/0/Voltage < 100\n" +
                 route(port, more="heartbeat = 00:00\n").replace("group_wait = 1s",
                                                                     "group_wait = 30s"))
        s, _ = bmv_site("heartbeat", extra)
        start_sink(s, port)
        s.start_daemon()
        got = wait_for("the heartbeat mail", lambda: [m for m in mails(s)
                                                      if "daily heartbeat" in m["Subject"]], 20)
        b = body(got[0])
        check("Site: it-" in b and "sitewatch is running" in b and
              ("All active alarms:" in b or "No alarm is active." in b), b)
        time.sleep(3)
        check(len([m for m in mails(s) if "daily heartbeat" in m["Subject"]]) == 1,
              "more than one heartbeat")
    finally:
        if s:
            s.close()


def test_outbox_full_is_loud():
    """SMTP down and an outbox bounded at 3 messages: notices beyond it are refused, the error is
    logged and the critical outbox:full alarm raised; grouping frees room, and once the server is
    back what was kept is delivered."""
    port = free_port()
    s = None
    try:
        extra = ("[alarms]\noutbox_max_messages = 3\n" +
                 "".join("[alarm f%d]\nwhen = bmv/Dc/0/Voltage < 100\nnotify = ops\n" % i
                         for i in range(5)) +
                 route(port).replace("group_wait = 1s", "group_wait = 3s"))
        s, _ = bmv_site("full", extra)
        s.start_daemon()
        wait_for("the outbox:full alarm", lambda: any(
            e["id"] == "outbox:full" and e["event"] == "raised"
            for e in s.api("/api/v1/alarms/log")["log"]), 30)
        check("the outbox is full" in s.log(), "no error logged")
        start_sink(s, port)
        got = wait_for("the kept notices as mail", lambda: mails(s), 40)
        b = body(got[0])
        check(b.count("FIRED: f") == 3, "expected the 3 kept notices:\n" + b)
        wait_for("outbox:full cleared", lambda: "outbox:full" not in
                 {a["id"] for a in s.api("/api/v1/alarms")["alarms"]}, 30)
    finally:
        if s:
            s.close()
