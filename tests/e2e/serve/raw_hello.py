#!/usr/bin/env python3
"""Send one TLS 1.2 ClientHello whose server_name carries arbitrary octets, and say what the server
answered: its certificate's subject, or an alert. For the hostile-SNI test: no real client sends a
name with '/', a NUL or 300 octets, so this is a hand-made hello (a fake client, named as such);
everything else in the tests uses real clients.

usage: raw_hello.py PORT SNI_HEX     (SNI_HEX "-": no server_name extension)
prints: "certificate SUBJECT" | "alert DESCRIPTION" | "closed" | "error: WHY"

TLS 1.2 is offered on purpose: its Certificate message travels in the clear, so the certificate the
server chose can be read without finishing the handshake.
"""
import os
import socket
import struct
import subprocess
import sys

# ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256, their AES-256 and ChaCha20 siblings
CIPHERS = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]


def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def client_hello(sni):
    exts = b""
    if sni is not None:
        entry = b"\x00" + struct.pack(">H", len(sni)) + sni
        exts += ext(0x0000, struct.pack(">H", len(entry)) + entry)
    groups = [0x001D, 0x0017]  # x25519, secp256r1
    exts += ext(0x000A, struct.pack(">H", 2 * len(groups)) + b"".join(struct.pack(">H", g) for g in groups))
    exts += ext(0x000B, b"\x01\x00")  # ec_point_formats: uncompressed
    sigalgs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501]
    exts += ext(0x000D, struct.pack(">H", 2 * len(sigalgs)) + b"".join(struct.pack(">H", a) for a in sigalgs))
    exts += ext(0x0017, b"")  # extended_master_secret
    exts += ext(0xFF01, b"\x00")  # renegotiation_info
    body = b"\x03\x03" + os.urandom(32) + b"\x00"
    body += struct.pack(">H", 2 * len(CIPHERS)) + b"".join(struct.pack(">H", c) for c in CIPHERS)
    body += b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def subject(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-nameopt", "RFC2253"],
                         input=der, capture_output=True, check=True)
    return out.stdout.decode().strip().removeprefix("subject=")


def main():
    port, sni_hex = int(sys.argv[1]), sys.argv[2]
    sni = None if sni_hex == "-" else bytes.fromhex(sni_hex)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(client_hello(sni))
    handshake = b""
    while True:
        head = recv_exact(s, 5)
        if head is None:
            print("closed")
            return
        kind, _, length = struct.unpack(">BHH", head)
        body = recv_exact(s, length)
        if body is None:
            print("closed")
            return
        if kind == 21:
            print("alert %d" % body[1])
            return
        if kind != 22:
            print("error: record type %d before the certificate" % kind)
            return
        handshake += body
        while len(handshake) >= 4:
            mtype, mlen = handshake[0], struct.unpack(">I", b"\x00" + handshake[1:4])[0]
            if len(handshake) < 4 + mlen:
                break
            msg, handshake = handshake[4:4 + mlen], handshake[4 + mlen:]
            if mtype == 11:  # Certificate: list length (3), then each certificate length (3) + DER
                first_len = struct.unpack(">I", b"\x00" + msg[3:6])[0]
                print("certificate " + subject(msg[6:6 + first_len]))
                return


if __name__ == "__main__":
    main()
