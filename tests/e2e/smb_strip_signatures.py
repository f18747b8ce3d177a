#!/usr/bin/env python3
"""smb_strip_signatures.py — a FAKE, for one test: a man in the middle of an SMB2 session.

No real server can be told to stop signing a session its client asked to sign, so this relay
stands between ccs and the real test smbd (tests/e2e/smb_server.sh) and tampers with what the
server sends: in every response other than NEGOTIATE, SESSION_SETUP and TREE_CONNECT it clears SMB2_FLAGS_SIGNED
and zeroes the signature (MS-SMB2 2.2.1.2), as an attacker rewriting an unsigned session would.
A client that requires signing must refuse those responses; a client that does not require it
(smbclient by default) gets an unsigned session from smbd and never notices. Encrypted messages
(SMB2 TRANSFORM, 0xFD 'SMB') pass unchanged, so the server under it must not encrypt.

    smb_strip_signatures.py SMBD_PORT PORT_FILE COUNT_FILE [pass]

Listens on a free loopback port and writes it to PORT_FILE; relays every connection to
127.0.0.1:SMBD_PORT; writes to COUNT_FILE two numbers: the responses stripped so far, and the
encrypted messages (SMB2 TRANSFORM) the server sent. With "pass" it relays without changing
anything (the control: the relay itself breaks nothing; and a witness of encryption).
"""
import os
import socket
import sys
import threading

SMB2_MAGIC = b"\xfeSMB"
SMB2_TRANSFORM_MAGIC = b"\xfdSMB"
SMB2_HEADER_LEN = 64
SMB2_NEGOTIATE = 0x0000
SMB2_SESSION_SETUP = 0x0001
SMB2_TREE_CONNECT = 0x0003
SMB2_FLAGS_SIGNED = 0x00000008
# SMB 3.x signs these whatever the client asked (MS-SMB2 3.2.4.1.1, 3.3.4.1.1): left alone, so a
# client that does not require signing still gets through.
KEPT = (SMB2_NEGOTIATE, SMB2_SESSION_SETUP, SMB2_TREE_CONNECT)
SIGNATURE_OFFSET = 48
SIGNATURE_LEN = 16

smbd_port = int(sys.argv[1])
port_file, count_file = sys.argv[2], sys.argv[3]
strip = len(sys.argv) < 5 or sys.argv[4] != "pass"
count_lock = threading.Lock()
stripped = 0
encrypted = 0


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tamper(msg):
    """Strip the signature of each message of a compound response; return how many."""
    n = 0
    off = 0
    while msg[:4] == SMB2_MAGIC and off + SMB2_HEADER_LEN <= len(msg):
        command = int.from_bytes(msg[off + 12:off + 14], "little")
        flags = int.from_bytes(msg[off + 16:off + 20], "little")
        next_command = int.from_bytes(msg[off + 20:off + 24], "little")
        if command not in KEPT and flags & SMB2_FLAGS_SIGNED:
            msg[off + 16:off + 20] = (flags & ~SMB2_FLAGS_SIGNED).to_bytes(4, "little")
            msg[off + SIGNATURE_OFFSET:off + SIGNATURE_OFFSET + SIGNATURE_LEN] = bytes(SIGNATURE_LEN)
            n += 1
        if next_command == 0:
            break
        off += next_command
    return n


def upstream(client, server):
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            server.sendall(data)
    except OSError:
        pass
    for s in (server, client):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def write_counts():
    with open(count_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (stripped, encrypted))
    os.rename(count_file + ".tmp", count_file)


def downstream(server, client):
    global stripped, encrypted
    try:
        while True:
            head = read_exact(server, 4)  # direct TCP transport: a zero, then a 24-bit length
            if head is None:
                break
            msg = read_exact(server, int.from_bytes(head[1:4], "big"))
            if msg is None:
                break
            n = tamper(msg) if strip else 0
            if n or msg[:4] == SMB2_TRANSFORM_MAGIC:
                with count_lock:
                    stripped += n
                    encrypted += msg[:4] == SMB2_TRANSFORM_MAGIC
                    write_counts()
            client.sendall(head + msg)
    except OSError:
        pass
    for s in (server, client):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    write_counts()
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", smbd_port))
        threading.Thread(target=upstream, args=(client, server), daemon=True).start()
        threading.Thread(target=downstream, args=(server, client), daemon=True).start()


serve()
