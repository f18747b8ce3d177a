#!/bin/sh
# test_serve_process.sh — `ccs serve` as a process: it binds, then runs as [serve] user; SIGHUP
# re-reads ccs.conf for new connections without dropping open ones (and keeps the running
# configuration when the new one has errors); SIGTERM stops accepting, says so on /healthz, and
# drains (open connections finish; drain-timeout ends the rest); session tickets resume across
# workers; a bad configuration or a taken port fails the start with a clear message; and
# `ccs serve --check` reports every routed host with the file that would serve it.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

serve_store_init
serve_cert www www.example.com 'DNS:www.example.com'
serve_cert wild '*.example.org' 'DNS:*.example.org'
chmod 0644 store/*.pfx # readable by nobody, the user it switches to
acme__reserve_port A_PORT
acme__reserve_port B_PORT
python3 "$E2E/serve/backend.py" tag "$A_PORT" backend-A >"$T/a.log" 2>&1 &
acme__track backend-a $!
python3 "$E2E/serve/backend.py" tag "$B_PORT" backend-B >"$T/b.log" 2>&1 &
acme__track backend-b $!
ECHO_PORT=$A_PORT
# Only root can switch users: as root the server drops to nobody and that is checked; run by an
# ordinary user (scripts/test as a user) it stays that user, is refused the switch with a clear
# error, and everything after the privilege checks runs the same.
if [ "$(id -u)" -eq 0 ]; then
    serve_conf "user = nobody" "default-certificate = reject"
else
    serve_conf "user = nobody"
    set +e
    "$CCS" serve --config "$T/ccs.conf" >user-refused.out 2>&1
    rc=$?
    set -e
    expect_eq "$rc" 1 "as uid $(id -u), [serve] user = nobody is refused"
    expect_contains user-refused.out 'user "nobody": only root can switch to it' \
        "the error names the user and why"
    serve_conf "default-certificate = reject"
fi
serve_start

# ---- privileges ------------------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$SERVE_PID/status")
    expect_eq "$uids" "65534 65534 65534 65534" "runs as nobody (real, effective, saved, file-system uid)"
    expect_eq "$(awk '/^Gid:/ { print $3 }' "/proc/$SERVE_PID/status")" "$(id -g nobody)" "with nobody's group"
    expect_contains "$SERVE_LOG" "running as user nobody" "the log says so"
    expect_eq "$(served www.example.com)" "$(cat www.tp)" "as nobody it serves from the store"
else
    echo "not root: the switch to nobody is checked only when root runs this test"
    expect_eq "$(served www.example.com)" "$(cat www.tp)" "it serves from the store"
fi

# first_line SNI — the first line a new connection gets (the backend's tag)
first_line() {
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername "$1" \
        -CAfile ca.pem -quiet 2>/dev/null | head -1
}
expect_eq "$(first_line www.example.com)" backend-A "precondition: backend A"

# ---- SIGHUP: new settings for new connections, open ones untouched ----------------------------------
mkfifo held.in
timeout 60 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername www.example.com -CAfile ca.pem \
    -quiet <held.in >held.out 2>held.err &
held=$!
exec 3>held.in
i=0
until grep -q backend-A held.out || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains held.out backend-A "a connection held open to backend A"

ECHO_PORT=$B_PORT
serve__write_conf
kill -HUP "$SERVE_PID"
i=0
until grep -q 'reloaded' "$SERVE_LOG" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains "$SERVE_LOG" "reloaded: new connections use it, open ones keep theirs" "SIGHUP: reloaded"
expect_eq "$(first_line www.example.com)" backend-B "after SIGHUP a new connection goes to backend B"
echo "still here" >&3
i=0
until grep -q 'still here' held.out || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains held.out "still here" "the connection opened before SIGHUP still relays (to A)"

# a configuration with an error: the running one stays
printf '[serve]\nbogus = 1\n' >>"$T/ccs.conf"
kill -HUP "$SERVE_PID"
i=0
until grep -q 'the running configuration stays' "$SERVE_LOG" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains "$SERVE_LOG" "ccs.conf:" "a bad reload: the error is logged with file and line"
expect_contains "$SERVE_LOG" "the running configuration stays" "a bad reload: the running configuration stays"
expect_eq "$(first_line www.example.com)" backend-B "after a bad reload: still backend B"
serve__write_conf

# ---- session tickets: a session resumes, on whichever worker ----------------------------------------
# (stdin stays open a moment: TLS 1.3 tickets arrive after the handshake)
sleep 0.5 | openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername www.example.com \
    -CAfile ca.pem -sess_out sess.pem >s1.out 2>&1 || true
resumed=0
for i in 1 2 3 4 5 6; do # six connections: the kernel spreads them over both workers
    sleep 0.5 | openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername www.example.com \
        -CAfile ca.pem -sess_in sess.pem -sess_out sess.pem >s2.out 2>&1 || true
    if grep -q '^Reused' s2.out; then resumed=$((resumed + 1)); fi
done
expect_eq "$resumed" 6 "session tickets: 6 of 6 connections resumed"
expect_eq "$(metric 'ccs_serve_handshakes_total{result="resumed",protocol="TLSv1.3"}')" 6 "metrics: 6 resumed handshakes"

# ---- SIGTERM: stop accepting, drain, then exit --------------------------------------------------------
kill -TERM "$SERVE_PID"
i=0
until [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz")" = 503 ] || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect_eq "$(curl -s -m 2 "http://127.0.0.1:$ADMIN_PORT/healthz")" draining "SIGTERM: /healthz says draining (503)"
if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)' "$SERVE_PORT" 2>/dev/null; then
    fail "SIGTERM: a new connection was still accepted"
else
    ok "SIGTERM: new connections are refused"
fi
echo "after SIGTERM" >&3
i=0
until grep -q 'after SIGTERM' held.out || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains held.out "after SIGTERM" "SIGTERM: the open connection still relays"
kill -0 "$SERVE_PID" 2>/dev/null && ok "SIGTERM: still running while a connection is open" || fail "exited with a connection open"
exec 3>&- # the client ends its connection
wait "$held" 2>/dev/null || true
i=0
while kill -0 "$SERVE_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$SERVE_PID" 2>/dev/null; then fail "SIGTERM: still running after its last connection closed"; else
    wait "$SERVE_PID" && rc=0 || rc=$?
    expect_eq "$rc" 0 "SIGTERM: exit status 0 once drained"
fi
acme__forget "$SERVE_PID"
SERVE_PID=""
expect_contains "$SERVE_LOG" "stopped" "the log says it stopped"

# drain-timeout ends what does not finish
serve_conf "drain-timeout = 1"
serve_start
mkfifo held2.in
timeout 60 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername www.example.com -CAfile ca.pem \
    -quiet <held2.in >held2.out 2>&1 &
held2=$!
exec 4>held2.in
i=0
until [ -s held2.out ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
t0=$(now_ms)
kill -TERM "$SERVE_PID"
while kill -0 "$SERVE_PID" 2>/dev/null && [ $(($(now_ms) - t0)) -lt 10000 ]; do sleep 0.05; done
took=$(($(now_ms) - t0))
if [ "$took" -ge 900 ] && [ "$took" -lt 5000 ]; then ok "drain-timeout = 1: exited ${took} ms after SIGTERM with a connection open"; else
    fail "drain-timeout = 1: exited after ${took} ms"
fi
expect_contains "$SERVE_LOG" "drain-timeout passed: closing 1 connection" "the log says it closed the connection"
exec 4>&-
wait "$held2" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
acme__forget "$SERVE_PID"
SERVE_PID=""

# ---- start failures -------------------------------------------------------------------------------
serve_conf "default-certificate = reject"
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("listening", flush=True); time.sleep(60)' \
    "$SERVE_PORT" >blocker.out 2>&1 &
blocker=$!
acme__track port-blocker "$blocker"
i=0
until grep -q listening blocker.out || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_contains blocker.out listening "precondition: another program holds the port"
run_cmd 1 taken.out timeout 20 "$CCS" serve --config "$T/ccs.conf"
expect_contains taken.out "listen 127.0.0.1:$SERVE_PORT: cannot bind: Address already in use" "a taken port: exit 1, naming the address"
acme__kill "$blocker"
printf '[serve]\nlisten = 127.0.0.1:1\nstore = nope\n' >bad.conf
run_ccs 1 bad.out serve --config bad.conf
expect_contains bad.out "bad.conf:1: missing key \"backend\" in [serve]" "a bad ccs.conf: file, line and key"
expect_contains bad.out "bad.conf:3: [serve] names store \"nope\", but there is no [store \"nope\"]" "a bad ccs.conf: every error"
printf '[ccs]\n' >noserve.conf
run_ccs 1 noserve.out serve --config noserve.conf
expect_contains noserve.out "no [serve] section" "no [serve]: said so"
run_ccs 1 usage.out serve --bogus
expect_contains usage.out "usage: ccs serve" "an unknown option: usage"

# ---- ccs serve --check ---------------------------------------------------------------------------------
make_leaf old ca old.example.com 'DNS:old.example.com' -5
"$CCS" deploy --store store --cert old.pem --key old.key --chain ca.pem --password-file pw --force >/dev/null 2>&1 ||
    fail "deploy of the expired certificate"
cp store/www.example.com.pfx store/mismatch.example.com.pfx # a file that does not name its host
SERVE_EXTRA="[site \"api\"]
hosts = www.example.com, *.example.org, missing.example.com, old.example.com
backend = 127.0.0.1:$B_PORT"
serve_conf "default-certificate = www.example.com" "hosts = mismatch.example.com"
run_ccs 1 check.out serve --check --config "$T/ccs.conf"
row() { grep "^$1 " check.out | tr -s ' '; }
expect_eq "$(row www.example.com | head -1)" "www.example.com [site \"api\"] www.example.com.pfx exact ok" "--check: an exact file, ok"
expect_eq "$(row '\*.example.org')" "*.example.org [site \"api\"] _.example.org.pfx wildcard ok" "--check: a wildcard pattern, ok"
expect_eq "$(row missing.example.com)" "missing.example.com [site \"api\"] - none DEFAULT" "--check: no file: the default certificate"
expect_eq "$(row old.example.com)" "old.example.com [site \"api\"] old.example.com.pfx exact EXPIRED" "--check: an expired certificate"
expect_eq "$(row mismatch.example.com)" "mismatch.example.com [serve] mismatch.example.com.pfx exact DEFAULT" "--check: a file that does not name its host decides, and is not served"
expect_contains check.out "does not name mismatch.example.com" "--check: says why"
expect_contains check.out "3 of 6 hosts would not get a good certificate of its own" "--check: the summary"
expect_eq "$(row www.example.com | tail -1)" "www.example.com default-certificate www.example.com.pfx exact ok" "--check: the default certificate is checked too"
SERVE_EXTRA=""
serve_conf "default-certificate = www.example.com" "hosts = www.example.com, a.example.org"
run_ccs 0 check-ok.out serve --check --config "$T/ccs.conf"
expect_contains check-ok.out "all 3 hosts get a valid certificate of their own" "--check: exit 0 when every host is good"
mv pw pw.right && make_password pw 'wrong-password'
run_ccs 1 check-pw.out serve --check --config "$T/ccs.conf"
expect_contains check-pw.out "www.example.com.pfx: not served: wrong password" "--check: a wrong store password is named"
mv pw.right pw

serve_finish
