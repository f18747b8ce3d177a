#!/bin/sh
# test_serve_relay.sh — what `ccs serve` relays arrives byte for byte: an HTTP request and a large
# download and upload through curl to an HTTP backend; a large stream both ways with half-close
# (close_notify in, FIN to the backend; the backend's FIN, close_notify out) to an echo backend;
# a unix-socket backend. A backend that is down: the client's connection is closed promptly and
# the error counted in /metrics. The timeouts (handshake, idle) and max-connections hold.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

serve_store_init
serve_cert www www.example.com 'DNS:www.example.com'
mkdir web
head -c 20000000 /dev/urandom >web/big.bin # 20 MB: many times every buffer on the way
acme__reserve_port HTTP_PORT
python3 "$E2E/serve/backend.py" http "$HTTP_PORT" "$T/web" >"$T/http.log" 2>&1 &
acme__track http-backend $!
echo_backend_start ECHO_PORT
UNIX_SOCK=$T/echo.sock
python3 "$E2E/serve/backend.py" echo-unix "$UNIX_SOCK" >"$T/unix.log" 2>&1 &
acme__track unix-backend $!
SERVE_EXTRA="[site \"web\"]
hosts = web.example.com
backend = 127.0.0.1:$HTTP_PORT

[site \"unix\"]
hosts = unix.example.com
backend = $UNIX_SOCK"
serve_cert web web.example.com 'DNS:web.example.com'
serve_cert unix unix.example.com 'DNS:unix.example.com'
serve_conf
serve_start

curl_web() {
    curl -sS --max-time 60 --cacert ca.pem --resolve "web.example.com:$SERVE_PORT:127.0.0.1" "$@"
}

# ---- HTTP through the relay ------------------------------------------------------------------------
run_cmd 0 get.out curl_web -o got.bin "https://web.example.com:$SERVE_PORT/big.bin"
expect_same_file got.bin web/big.bin "download: 20 MB through ccs serve, byte for byte"
head -c 15000000 /dev/urandom >up.bin
run_cmd 0 put.out curl_web -T up.bin "https://web.example.com:$SERVE_PORT/uploaded.bin"
expect_eq "$(cat put.out)" "$(sha256sum up.bin | cut -d' ' -f1)" "upload: the backend got 15 MB byte for byte (its SHA-256)"
expect_same_file web/uploaded.bin up.bin "upload: the stored file equals the one sent"
run_cmd 0 two.out curl_web -o g1.bin "https://web.example.com:$SERVE_PORT/big.bin" \
    -o g2.bin "https://web.example.com:$SERVE_PORT/uploaded.bin"
expect_same_file g2.bin up.bin "two requests on one kept-alive connection"

# ---- a raw stream with half-close, both ways ---------------------------------------------------------
head -c 8000000 /dev/urandom >stream.bin
run_cmd 0 half.out python3 "$E2E/serve/client.py" halfclose "$SERVE_PORT" www.example.com ca.pem \
    stream.bin echoed.bin
expect_same_file echoed.bin stream.bin "half-close: 8 MB echoed after our close_notify, then the server's close_notify"

# ---- a unix socket backend -----------------------------------------------------------------------------
head -c 100000 /dev/urandom >small.bin
run_cmd 0 unix.out python3 "$E2E/serve/client.py" halfclose "$SERVE_PORT" unix.example.com ca.pem \
    small.bin unix-echoed.bin
expect_same_file unix-echoed.bin small.bin "unix socket backend: echoed byte for byte"
up_bytes=$(metric 'ccs_serve_bytes_total{direction="to_backend"}')
if [ "$up_bytes" -ge 23100000 ]; then ok "metrics: $up_bytes bytes to backends (15 MB + 8 MB + 100 kB sent)"; else
    fail "metrics: only $up_bytes bytes counted to backends"
fi

# ---- a backend that is down ---------------------------------------------------------------------------
serve_stop
acme__reserve_port DEAD_PORT # reserved, and nobody listens on it
SERVE_EXTRA="[site \"dead\"]
hosts = dead.example.com
backend = 127.0.0.1:$DEAD_PORT"
serve_cert dead dead.example.com 'DNS:dead.example.com'
serve_conf "idle-timeout = 2" "handshake-timeout = 2" "max-connections = 3"
serve_start
t0=$(now_ms)
echo hello | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername dead.example.com \
    -CAfile ca.pem -quiet >dead.out 2>&1 || true
took=$(($(now_ms) - t0))
expect_eq "$(metric 'ccs_serve_backend_connect_errors_total{backend="dead"}')" 1 "backend down: the error is counted for its site"
if [ "$took" -lt 2000 ]; then ok "backend down: the client's connection closed promptly (${took} ms)"; else
    fail "backend down: the client waited ${took} ms"
fi
expect_contains "$SERVE_LOG" "backend 127.0.0.1:$DEAD_PORT (dead) of host dead.example.com: Connection refused" "backend down: the log names backend, site, host and reason"
expect_eq "$(metric 'ccs_serve_handshakes_total{result="ok",protocol="TLSv1.3"}')" 1 "backend down: the handshake itself succeeded"

# ---- timeouts and the connection limit -------------------------------------------------------------
t0=$(now_ms)
python3 - "$SERVE_PORT" <<'PY' >silent.out 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
print("closed" if s.recv(100) == b"" else "data")
PY
took=$(($(now_ms) - t0))
expect_eq "$(cat silent.out)" closed "handshake-timeout: a client that never says hello is closed"
if [ "$took" -ge 1500 ] && [ "$took" -lt 10000 ]; then ok "after about handshake-timeout = 2 s (${took} ms)"; else
    fail "closed after ${took} ms, not about 2 s"
fi
expect_eq "$(metric 'ccs_serve_handshakes_total{result="timeout",protocol="none"}')" 1 "metrics: the timeout is counted"

mkfifo idle.in
timeout 20 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername www.example.com -CAfile ca.pem \
    -quiet <idle.in >idle.out 2>&1 &
idle_client=$!
exec 3>idle.in
t0=$(now_ms)
wait "$idle_client" || true
took=$(($(now_ms) - t0))
exec 3>&-
if [ "$took" -ge 1500 ] && [ "$took" -lt 10000 ]; then ok "idle-timeout: an idle relay is closed after about 2 s (${took} ms)"; else
    fail "idle connection closed after ${took} ms, not about 2 s"
fi

# max-connections = 3: three silent connections fill it, a fourth is closed at once
python3 - "$SERVE_PORT" <<'PY' >limit.out 2>&1
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(1.5)
try:
    print("closed" if s.recv(100) == b"" else "data")
except socket.timeout:
    print("still open")
PY
expect_eq "$(cat limit.out)" closed "max-connections: the connection past the limit is closed at once"
expect_eq "$(metric ccs_serve_connections_refused_total)" 1 "metrics: the refused connection is counted"

serve_finish
