#!/usr/bin/env python3
"""Backends for the `ccs serve` end-to-end tests (Python standard library only).

  backend.py echo PORT            echo every byte back as it comes; after the client's FIN, send
                                  what is left, then FIN (half-close passes through both ways)
  backend.py echo-unix PATH       the same on a unix socket
  backend.py tag PORT TEXT        send TEXT and a newline first, then echo (tells backends apart)
  backend.py http PORT DIR        HTTP/1.1: GET /NAME sends DIR/NAME; PUT /NAME stores the body in
                                  DIR/NAME and answers its SHA-256 (hex)
  backend.py proxy-echo PORT LOG  read a PROXY protocol header (v1 or v2) with a parser of its own,
                                  append what it says to LOG as one JSON line, then echo

The PROXY parser here is a second, independent reading of HAProxy's proxy-protocol.txt: the tests
check the header with HAProxy itself too, whose 2.6 cannot show the ALPN TLV.
"""
import hashlib
import http.server
import ipaddress
import json
import os
import socket
import socketserver
import struct
import sys
import threading

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def echo(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed inside the PROXY header")
        buf += chunk
    return buf


def parse_tlvs(data):
    tlvs = []
    i = 0
    while i < len(data):
        if i + 3 > len(data):
            raise ValueError("truncated TLV")
        t, n = data[i], struct.unpack(">H", data[i + 1:i + 3])[0]
        value = data[i + 3:i + 3 + n]
        if len(value) != n:
            raise ValueError("TLV value runs past the header")
        item = {"type": t, "value": value.hex()}
        if t == 0x20:  # PP2_TYPE_SSL: client (1), verify (4), then sub-TLVs
            item["client"] = value[0]
            item["verify"] = struct.unpack(">I", value[1:5])[0]
            item["sub"] = parse_tlvs(value[5:])
        tlvs.append(item)
        i += 3 + n
    return tlvs


def read_proxy(conn):
    first = recv_exact(conn, 12)
    if first == V2_SIGNATURE:
        ver_cmd, fam, length = struct.unpack(">BBH", recv_exact(conn, 4))
        body = recv_exact(conn, length)
        out = {"version": 2, "command": ver_cmd & 0x0F, "family": fam}
        if fam == 0x11:
            src, dst, sport, dport = struct.unpack(">4s4sHH", body[:12])
            out.update(src=str(ipaddress.IPv4Address(src)), dst=str(ipaddress.IPv4Address(dst)),
                       sport=sport, dport=dport)
            rest = body[12:]
        elif fam == 0x21:
            src, dst, sport, dport = struct.unpack(">16s16sHH", body[:36])
            out.update(src=str(ipaddress.IPv6Address(src)), dst=str(ipaddress.IPv6Address(dst)),
                       sport=sport, dport=dport)
            rest = body[36:]
        else:
            rest = b""
        tlvs = parse_tlvs(rest)
        out["tlvs"] = tlvs
        for t in tlvs:
            if t["type"] == 0x01:
                out["alpn"] = bytes.fromhex(t["value"]).decode()
            if t["type"] == 0x02:
                out["authority"] = bytes.fromhex(t["value"]).decode()
            if t["type"] == 0x20:
                for s in t["sub"]:
                    if s["type"] == 0x21:
                        out["ssl_version"] = bytes.fromhex(s["value"]).decode()
                    if s["type"] == 0x23:
                        out["ssl_cipher"] = bytes.fromhex(s["value"]).decode()
        return out
    line = first
    while not line.endswith(b"\r\n"):
        line += recv_exact(conn, 1)
        if len(line) > 107:
            raise ValueError("v1 line longer than 107 octets")
    words = line[:-2].decode("ascii").split(" ")
    if words[0] != "PROXY":
        raise ValueError("no PROXY header: %r" % line)
    out = {"version": 1, "proto": words[1]}
    if words[1] != "UNKNOWN":
        out.update(src=words[2], dst=words[3], sport=int(words[4]), dport=int(words[5]))
    return out


def proxy_echo(conn, log, lock):
    try:
        info = read_proxy(conn)
    except Exception as e:  # recorded: the test reads the log
        info = {"error": str(e)}
    with lock, open(log, "a") as f:
        f.write(json.dumps(info) + "\n")
    if "error" in info:
        conn.close()
        return
    echo(conn)


class FileHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    directory = "."

    def log_message(self, fmt, *args):
        pass

    def path_in_dir(self):
        name = os.path.basename(self.path)
        return os.path.join(self.directory, name)

    def do_GET(self):
        path = self.path_in_dir()
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        with open(self.path_in_dir(), "wb") as f:
            left = length
            while left:
                chunk = self.rfile.read(min(65536, left))
                if not chunk:
                    break
                f.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        body = (digest.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_tcp(port, handler):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def tag_then_echo(conn, text):
    conn.sendall(text.encode() + b"\n")
    echo(conn)


def serve_unix(path, handler):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1024)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def main():
    mode = sys.argv[1]
    if mode == "echo-unix":
        serve_unix(sys.argv[2], echo)
        return
    port = int(sys.argv[2])
    if mode == "echo":
        serve_tcp(port, echo)
    elif mode == "tag":
        serve_tcp(port, lambda c: tag_then_echo(c, sys.argv[3]))
    elif mode == "proxy-echo":
        lock = threading.Lock()
        serve_tcp(port, lambda c: proxy_echo(c, sys.argv[3], lock))
    elif mode == "http":
        FileHandler.directory = sys.argv[3]

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        Server(("127.0.0.1", port), FileHandler).serve_forever()
    else:
        sys.exit("usage: backend.py echo|tag|http|proxy-echo PORT [TEXT|DIR|LOG], echo-unix PATH")


if __name__ == "__main__":
    main()
