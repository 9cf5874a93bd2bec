#!/usr/bin/env python3
"""Load generator of bench/availability.sh (standard library only).

    availability.py BASE TOKEN [--requests 2000] [--concurrency 50] [--idle 3] [--interval 0.01]

1. Samples GET /healthz every INTERVAL seconds for IDLE seconds with nothing else running
   (unloaded).
2. Fires REQUESTS Chan requests (GET /api/v1/chan/{symbol}?resolution=R, cycling through the
   symbols and resolutions below) over CONCURRENCY keep-alive connections, each connection sending
   its next request when the previous answer has arrived, while /healthz is sampled every
   INTERVAL seconds (during the burst). With --retry a request answered 429 or 503 is sent again
   after its Retry-After, so the burst lasts until every analysis has been computed. With --gzip
   the requests ask for gzip-compressed answers, as browsers do.
3. Prints the /healthz latency p50/p99/max of both phases and how the Chan requests were answered.

The /healthz sampler runs in its own process on its own keep-alive connection, so the load
generator's event loop never delays a sample; a sample is the time from sending the request to
having read the whole answer.
"""

import argparse
import asyncio
import multiprocessing
import socket
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

SYMBOLS = ["000998.SH", "600900.SH", "601988.SH", "000858.SZ", "300059.SZ", "688111.SH", "600005.SH"]
RESOLUTIONS = ["1", "5", "30", "1D"]


def head_and_length(head: bytes):
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


# ---- the /healthz sampler (blocking sockets, its own process) ----


def read_answer(sock, buf: bytearray):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    status, headers = head_and_length(bytes(buf[:end]))
    need = end + int(headers.get("content-length", "0"))
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    del buf[:need]
    return status


def sampler(host, port, interval, ready, stop, out):
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ready.set()
    req = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    buf = bytearray()
    lat, bad = [], 0
    while not stop.is_set():
        t0 = time.perf_counter()
        sock.sendall(req)
        status = read_answer(sock, buf)
        lat.append(time.perf_counter() - t0)
        bad += status != 200
        time.sleep(interval)
    sock.close()
    out.put((lat, bad))


def start_sampler(host, port, interval):
    ready, stop, out = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
    p = multiprocessing.Process(target=sampler, args=(host, port, interval, ready, stop, out), daemon=True)
    p.start()
    if not ready.wait(timeout=30):
        sys.exit("the /healthz sampler could not connect")
    return p, stop, out


def finish_sampler(sampling):
    p, stop, out = sampling
    stop.set()
    lat, bad = out.get(timeout=60)
    p.join(timeout=10)
    return lat, bad


# ---- the Chan burst (asyncio) ----


class Client(asyncio.Protocol):
    """One keep-alive connection sending requests one after another. Bodies are counted, not
    kept, so that reading megabytes costs the load generator little CPU."""

    def __init__(self, paths, results, request, retry):
        self.paths, self.results, self.request, self.retry = paths, results, request, retry
        self.done = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.next()

    def next(self):
        self.head, self.left, self.status, self.chunked = bytearray(), None, None, False
        if not self.paths:
            self.transport.close()
            return
        self.t0 = time.perf_counter()
        self.path = self.paths.pop()
        self.transport.write(self.request(self.path))

    def data_received(self, data):
        while data:
            if self.left is None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                data = bytes(self.head[end + 4 :])
                self.status, headers = head_and_length(bytes(self.head[: end + 4]))
                self.retry_after = float(headers.get("retry-after", "1"))
                self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
                self.left = 0 if self.chunked else int(headers.get("content-length", "0"))
                self.head = bytearray()
            if self.chunked:
                # Only small answers come chunked (those the compression layer compresses).
                self.head += data
                data = b""
                if not self.head.endswith(b"0\r\n\r\n"):
                    return
            else:
                take = min(self.left, len(data))
                self.left -= take
                data = data[take:]
                if self.left:
                    return
            self.results.append((self.status, time.perf_counter() - self.t0))
            if self.retry and self.status in (429, 503):
                # Honour Retry-After: send the same request again after the pause.
                self.paths.insert(0, self.path)
                asyncio.get_running_loop().call_later(self.retry_after, self.next)
                return
            self.next()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


async def connection(host, port, token, jobs, results, extra, retry):
    def request(path):
        return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n{extra}\r\n".encode()

    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(jobs, results, request, retry), host, port)
    exc = await client.done
    if exc is not None:
        raise exc


async def burst(host, port, token, n, concurrency, extra, retry):
    paths = [
        f"/api/v1/chan/{SYMBOLS[i % len(SYMBOLS)]}?resolution={RESOLUTIONS[(i // len(SYMBOLS)) % len(RESOLUTIONS)]}"
        for i in range(n)
    ]
    jobs = list(reversed(paths))
    results = []
    t0 = time.perf_counter()
    await asyncio.gather(*(connection(host, port, token, jobs, results, extra, retry) for _ in range(concurrency)))
    return results, time.perf_counter() - t0


def pct(values, q):
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def ms(x):
    return f"{x * 1000:8.2f} ms"


def report(label, lat, bad):
    print(
        f"{label:<34} samples {len(lat):5d}   p50 {ms(pct(lat, 50))}   p99 {ms(pct(lat, 99))}"
        f"   max {ms(max(lat) if lat else float('nan'))}   non-200 {bad}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("token")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--gzip", action="store_true", help="ask for gzip-compressed answers, as browsers do")
    ap.add_argument(
        "--retry", action="store_true", help="send a request refused with 429/503 again after its Retry-After"
    )
    a = ap.parse_args()
    u = urlsplit(a.base)
    host, port = u.hostname, u.port or 80

    sampling = start_sampler(host, port, a.interval)
    time.sleep(a.idle)
    idle_lat, idle_bad = finish_sampler(sampling)

    sampling = start_sampler(host, port, a.interval)
    results, took = asyncio.run(
        burst(
            host, port, a.token, a.requests, a.concurrency, "Accept-Encoding: gzip\r\n" if a.gzip else "", a.retry
        )
    )
    busy_lat, busy_bad = finish_sampler(sampling)

    report("/healthz unloaded", idle_lat, idle_bad)
    report("/healthz during the Chan burst", busy_lat, busy_bad)
    counts = Counter(s for s, _ in results)
    by = "  ".join(f"{s}: {counts[s]}" for s in sorted(counts))
    print(
        f"Chan burst: {a.requests} requests at concurrency {a.concurrency}"
        f"{', refusals retried after Retry-After' if a.retry else ''} in {took:.2f} s;"
        f" {len(results)} answers ({len(results) / took:.0f}/s): {by}"
    )
    for s in sorted(counts):
        lat = [t for st, t in results if st == s]
        print(f"  Chan {s} latency   p50 {ms(pct(lat, 50))}   p99 {ms(pct(lat, 99))}")
    if len(results) < a.requests:
        print(f"only {len(results)} of {a.requests} requests were answered", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
