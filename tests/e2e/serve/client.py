#!/usr/bin/env python3
"""TLS clients for the `ccs serve` end-to-end tests (Python's ssl module: OpenSSL underneath).

  client.py halfclose PORT SNI CA IN OUT
      send file IN, then close_notify (our half of the stream ends), and keep reading until the
      server's close_notify: everything read goes to OUT. With an echo backend OUT must equal IN,
      which needs both half-closes passed through: ours to the backend, the backend's back to us.

  client.py handshakes PORT CA NAME COUNT
      COUNT full handshakes one after the other (no resumption), each checked to serve NAME's
      certificate; prints "ok N failed M p50_ms X max_ms Y"

  client.py many PORT CA COUNT NAME...
      open COUNT connections at once (names taken in turn), each a full handshake that must serve
      a certificate naming its SNI, then a 5-octet echo; prints "ok N failed M" and the first error.
"""
import asyncio
import socket
import ssl
import sys


def context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def halfclose(port, sni, ca, src, dst):
    data = open(src, "rb").read()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context(ca).wrap_bio(incoming, outgoing, server_hostname=sni)
    received = bytearray()
    sent = 0
    shut = False
    done = False

    def flush():
        pending = outgoing.read()
        if pending:
            sock.sendall(pending)

    def pull():
        chunk = sock.recv(65536)
        if not chunk:
            incoming.write_eof()
        else:
            incoming.write(chunk)
        return chunk

    while True:  # handshake
        try:
            tls.do_handshake()
            flush()
            break
        except ssl.SSLWantReadError:
            flush()
            if not pull():
                sys.exit("halfclose: the server closed during the handshake")
    sock.setblocking(True)
    while not done:
        # write a slice, then read what is there, so neither side's buffers fill up
        if sent < len(data):
            n = tls.write(data[sent:sent + 65536])
            sent += n
            flush()
        elif not shut:
            try:
                tls.unwrap()  # close_notify; the server's comes after the echo
            except ssl.SSLWantReadError:
                pass
            flush()
            shut = True
        sock.settimeout(0.01 if sent < len(data) else 30)
        try:
            chunk = pull()
        except socket.timeout:
            continue
        while True:
            try:
                received += tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                done = True
                break
        if not chunk and not done:
            sys.exit("halfclose: TCP closed without the server's close_notify after %d octets" % len(received))
    open(dst, "wb").write(received)
    print("sent %d received %d" % (len(data), len(received)))


async def one(port, ctx, name, results):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=name), 120)
        cert = writer.get_extra_info("peercert")
        sans = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        if name not in sans:
            raise RuntimeError("%s: served a certificate for %s" % (name, sans))
        writer.write(b"ping\n")
        await writer.drain()
        echo = await asyncio.wait_for(reader.readexactly(5), 30)
        if echo != b"ping\n":
            raise RuntimeError("%s: echo %r" % (name, echo))
        writer.close()
        results.append(None)
    except Exception as e:  # counted, and the first one shown
        results.append("%s: %r" % (name, e))


async def many(port, ca, count, names):
    ctx = context(ca)
    results = []
    await asyncio.gather(*(one(port, ctx, names[i % len(names)], results) for i in range(count)))
    errors = [r for r in results if r]
    print("ok %d failed %d" % (len(results) - len(errors), len(errors)))
    if errors:
        print("first error: " + errors[0])


def handshakes(port, ca, name, count):
    import time
    ctx = context(ca)
    times, failed = [], 0
    for _ in range(count):
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as tls:
                    sans = [v for k, v in tls.getpeercert().get("subjectAltName", ()) if k == "DNS"]
                    if name not in sans:
                        raise RuntimeError("served %s" % sans)
            times.append((time.monotonic() - t0) * 1000)
        except Exception as e:
            failed += 1
            print("error: %r" % e, file=sys.stderr)
    times.sort()
    p50 = times[len(times) // 2] if times else 0
    print("ok %d failed %d p50_ms %.1f max_ms %.1f" % (len(times), failed, p50, times[-1] if times else 0))


def main():
    mode = sys.argv[1]
    if mode == "handshakes":
        handshakes(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    if mode == "halfclose":
        halfclose(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
    elif mode == "many":
        asyncio.run(many(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
