#!/usr/bin/env python3
"""sse_latency: N clients on GET /api/v1/events for S seconds; prints the latency from a point's
write in the store (its "ts") to its arrival at each client (p50 / p95 / max), the events per
client, and GET /api/v1/health latency while the streams run.
usage: sse_latency.py HOST PORT CLIENTS SECONDS"""
import json
import socket
import sys
import threading
import time
import urllib.request


def client(host, port, until, lat, counts, i):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    buf, n, first = b"", 0, True
    try:
        while time.time() < until:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                ev, buf = buf.split(b"\n\n", 1)
                now = time.time() * 1000
                kind = b"event: points" in ev
                for line in ev.split(b"\n"):
                    if line.startswith(b"data: {") and kind:
                        n += 1
                        for p in json.loads(line[6:]).values():
                            if p.get("ts") and p["state"] == "ok" and not first:
                                lat.append(now - p["ts"])
                        first = False  # the first batch holds every point: not a change
    except OSError:
        pass
    counts[i] = n
    s.close()


def main():
    host, port, nclients, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    until = time.time() + secs
    lat, counts = [], [0] * nclients
    threads = [threading.Thread(target=client, args=(host, port, until, lat, counts, i))
               for i in range(nclients)]
    for t in threads:
        t.start()
    time.sleep(2)
    gets = []
    while time.time() < until - 1:
        t0 = time.monotonic()
        urllib.request.urlopen("http://%s:%d/api/v1/health" % (host, port), timeout=5).read()
        gets.append((time.monotonic() - t0) * 1000)
        time.sleep(0.1)
    for t in threads:
        t.join()
    lat.sort()
    gets.sort()
    q = lambda v, f: v[min(len(v) - 1, int(len(v) * f))] if v else float("nan")
    print("SSE, %d clients, %.0f s: %d point updates received; store-to-client latency "
          "p50 %.0f ms, p95 %.0f ms, max %.0f ms (includes the %d ms event period)" %
          (nclients, secs, len(lat), q(lat, .5), q(lat, .95), lat[-1] if lat else float("nan"),
           200))
    print("SSE: batches per client min %d / max %d; GET /api/v1/health meanwhile p50 %.1f ms, "
          "p99 %.1f ms" % (min(counts), max(counts), q(gets, .5), q(gets, .99)))


if __name__ == "__main__":
    main()
