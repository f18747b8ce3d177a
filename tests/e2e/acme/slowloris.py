#!/usr/bin/env python3
"""slowloris.py — a bounded slow-client flood against an HTTP server on loopback, and a probe that
times real requests while it runs. For the http-01 responder's tests and bench/responder-flood.

  slowloris.py flood --target 127.0.0.1:PORT --connections N --duration S
                     [--trickle-every S] [--ready FILE] [--stats FILE]
      Holds N connections open for S seconds. Even-numbered ones connect and send nothing;
      odd-numbered ones send a request line and then one header line every --trickle-every
      seconds, never the blank line that ends the head. A connection the server closes is opened
      again at once (as a real attacker's would be); one refused or timed out is tried again
      after RETRY_PAUSE_S, so the flood may start before the server does. Writes FILE (--ready)
      once N connections have been made (at once, on a server that holds them all; over time, on
      one that keeps dropping some), and a JSON summary to --stats (or stdout) at the end (after
      --duration, or at once on SIGTERM or SIGINT): connects, closed by the server, connect
      errors, the most open at once, seconds until N connections had been made (null: never).

  slowloris.py probe --target 127.0.0.1:PORT --path /x [--count N] [--every S] [--expect CODE]
                     [--timeout S] [--for S] [--stats FILE]
      Sends N GET requests one after another (one connection each, as a CA's validation does;
      none started after --for seconds), and prints a JSON summary: how many were sent and got
      status CODE, the failures, and the latency from connect to the end of the response (min,
      median, p90, p99, max, in milliseconds).

Bounded on purpose: loopback targets only, at most MAX_CONNECTIONS connections, MAX_DURATION_S
seconds. Standard library only.
"""
import argparse
import asyncio
import ipaddress
import json
import resource
import signal
import socket
import sys
import time

MAX_CONNECTIONS = 4000
MAX_DURATION_S = 600
CONNECT_TIMEOUT_S = 2.0
RETRY_PAUSE_S = 0.05  # after a failed connect, before the next try
FD_HEADROOM = 64  # descriptors beyond the flood's own, for the interpreter


def loopback_target(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError("%s: not an IP address" % host)
    if not addr.is_loopback:
        raise argparse.ArgumentTypeError("%s: not a loopback address (this tool floods loopback only)" % host)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("%s: not a port" % port)
    return str(addr), int(port)


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < wanted:
            sys.exit("slowloris: needs %d descriptors, the hard limit is %d" % (wanted, hard))


class Flood:
    def __init__(self, args):
        self.host, self.port = args.target
        self.n = args.connections
        self.deadline = time.monotonic() + args.duration
        self.trickle_every = args.trickle_every
        self.ready_file = args.ready
        self.connects = 0
        self.closed_by_server = 0
        self.connect_errors = 0
        self.open = 0
        self.peak_open = 0
        self.started = time.monotonic()
        self.ready_after = None

    def remaining(self):
        return self.deadline - time.monotonic()

    def stop(self):
        self.deadline = time.monotonic()

    def opened(self):
        self.connects += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        if self.connects == self.n:
            self.ready_after = time.monotonic() - self.started
            if self.ready_file:
                with open(self.ready_file, "w") as f:
                    f.write("%d\n" % self.n)

    async def hold(self, index, reader, writer):
        """Keep one connection until the server closes it or the flood ends. True: closed by it."""
        trickle = index % 2 == 1
        header = 0
        if trickle:
            writer.write(b"GET /.well-known/acme-challenge/slowloris-%d HTTP/1.1\r\nHost: flood\r\n" % index)
        while self.remaining() > 0:
            wait = min(self.trickle_every if trickle else 1.0, self.remaining())
            try:
                if trickle:
                    await writer.drain()
                data = await asyncio.wait_for(reader.read(4096), timeout=wait)
            except asyncio.TimeoutError:
                if trickle:
                    header += 1
                    writer.write(b"X-Slow-%d: x\r\n" % header)
                continue
            except (ConnectionError, OSError):
                return True
            if not data:
                return True
            # An answer (e.g. 408 or 431) without a close: keep reading until the close.
        return False

    async def worker(self, index):
        while self.remaining() > 0:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port),
                    timeout=min(CONNECT_TIMEOUT_S, max(self.remaining(), 0.01)))
            except (asyncio.TimeoutError, OSError):
                self.connect_errors += 1
                await asyncio.sleep(min(RETRY_PAUSE_S, max(self.remaining(), 0)))
                continue
            self.opened()
            try:
                if await self.hold(index, reader, writer):
                    self.closed_by_server += 1
            finally:
                self.open -= 1
                writer.close()

    async def run(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await asyncio.gather(*(self.worker(i) for i in range(self.n)))
        return {"connections": self.n, "connects": self.connects, "closed_by_server": self.closed_by_server,
                "connect_errors": self.connect_errors, "peak_open": self.peak_open,
                "ready_after_s": None if self.ready_after is None else round(self.ready_after, 3),
                "ran_s": round(time.monotonic() - self.started, 3)}


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return round(sorted_values[k], 2)


def probe_once(host, port, path, timeout):
    """(status or None, milliseconds or None, error text or None)"""
    start = time.monotonic()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            s.sendall(b"GET %s HTTP/1.1\r\nHost: probe.test\r\nUser-Agent: slowloris-probe\r\n"
                      b"Accept: */*\r\nConnection: close\r\n\r\n" % path.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (OSError, socket.timeout) as e:
        return None, None, "%s after %.0f ms" % (e.__class__.__name__, (time.monotonic() - start) * 1000)
    ms = (time.monotonic() - start) * 1000
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, ms, "no HTTP status in %r" % data[:40]
    return status, ms, None


def probe(args):
    host, port = args.target
    latencies, failures = [], []
    sent, stop_at = 0, time.monotonic() + args.for_s if args.for_s else None
    for _ in range(args.count):
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        sent += 1
        status, ms, error = probe_once(host, port, args.path, args.timeout)
        if error is None and status == args.expect:
            latencies.append(ms)
        else:
            failures.append(error or "status %s" % status)
        time.sleep(args.every)
    latencies.sort()
    return {"requests": sent, "ok": len(latencies), "failed": len(failures),
            "failures": failures[:5], "min_ms": percentile(latencies, 0),
            "median_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99), "max_ms": percentile(latencies, 100)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--target", type=loopback_target, required=True)
    f.add_argument("--connections", type=int, required=True)
    f.add_argument("--duration", type=float, required=True)
    f.add_argument("--trickle-every", type=float, default=2.0)
    f.add_argument("--ready")
    f.add_argument("--stats")
    q = sub.add_parser("probe")
    q.add_argument("--target", type=loopback_target, required=True)
    q.add_argument("--path", required=True)
    q.add_argument("--count", type=int, default=50)
    q.add_argument("--every", type=float, default=0.05)
    q.add_argument("--expect", type=int, default=200)
    q.add_argument("--timeout", type=float, default=20.0)
    q.add_argument("--for", dest="for_s", type=float)
    q.add_argument("--stats")
    args = p.parse_args()

    if args.mode == "flood":
        if not 0 < args.connections <= MAX_CONNECTIONS:
            p.error("--connections must be 1..%d" % MAX_CONNECTIONS)
        if not 0 < args.duration <= MAX_DURATION_S:
            p.error("--duration must be 0..%d seconds" % MAX_DURATION_S)
        raise_fd_limit(args.connections + FD_HEADROOM)
        result = asyncio.run(Flood(args).run())
    else:
        result = probe(args)
    text = json.dumps(result, sort_keys=True)
    if args.stats:
        with open(args.stats, "w") as out:
            out.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
