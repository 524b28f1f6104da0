"""smtp_sink: a real SMTP server (aiosmtpd) on loopback for the integration tests. Every accepted
message is written to DIR/NNNN.eml (fsync'd) before the 250 reply. Options: STARTTLS or implicit
TLS with a given certificate, and a delay before accepting DATA (to kill the sender mid-send).
Prints 'ready PORT' once listening; SIGTERM stops it."""
import argparse
import asyncio
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, delay):
        self.dir = directory
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            n = len([f for f in os.listdir(self.dir) if f.endswith(".eml")])
            path = os.path.join(self.dir, "%04d.eml" % n)
            with open(path + ".tmp", "wb") as f:
                f.write(b"X-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
                f.write(envelope.original_content or envelope.content)
                f.flush()
                os.fsync(f.fileno())
            os.rename(path + ".tmp", path)
        return "250 OK stored"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--delay", type=float, default=0)
    a = ap.parse_args()
    kw = {}
    if a.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.tls == "starttls":
            kw = {"tls_context": ctx, "require_starttls": True}
        else:
            kw = {"ssl_context": ctx}
    c = Controller(Sink(a.dir, a.delay), hostname="127.0.0.1", port=a.port, **kw)
    c.start()
    print("ready %d" % a.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
