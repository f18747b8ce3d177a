#!/bin/sh
# test_renew_stop_order.sh — a stop during an order (issue 8, item 3): SIGTERM or SIGINT while an
# order polls the CA abandons it at that step instead of polling on to the end (up to 5 minutes,
# past what systemd's TimeoutStopSec should have to allow), and still reaches a safe point: every
# challenge set is withdrawn (a dns-01 hook's "failed" runs although ccs is stopping, and its TXT
# record is gone from the DNS Pebble asks; a webroot's token file is removed), the run exits 3, and
# the order's key is kept, so the next run — with nothing due — finishes the renewal with that very
# key, taking up the order where it stands (no new order at the CA; a certificate issued after the
# stop is downloaded, not ordered again). ccs is paused at a poll with a test point
# (CCS_TEST_STOP_AT=acme-poll:WHAT, before a look at the authorization or the order; renew_lib.sh),
# signalled, then let go: Pebble validates at once, so an order not abandoned goes on to a new
# certificate, which the test catches.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
# Authorizations are not reused from an earlier order, so every order of the test has some to poll
# (Pebble reuses half of the valid ones by default, at random). Even at 0 Pebble 2.4 reuses one in a
# hundred (wfe.go: "rand.Intn(100) > authzReusePercent"), so the checks count the challenges the
# hook was asked to publish (begun) rather than assume both names of "dns" have one.
PEBBLE_AUTHZREUSE=0 pebble_start
renew_setup

mkdir -p "$T/webroot"
cat >certs.conf <<CONF

[certificate "dns"]
domains = stop.dns.test, api.stop.dns.test
challenge = dns-01
hook = $ACME_HOOK

[task "dns.ccs"]
type = deploy-ccs
store = main

[certificate "dns2"]
domains = two.stop.dns.test
challenge = dns-01
hook = $ACME_HOOK

[certificate "dns3"]
domains = three.stop.dns.test
challenge = dns-01
hook = $T/slowhook.sh

[certificate "web"]
domains = web.stop.test
webroot = $T/webroot
CONF
# slowhook.sh: the test's dns-01 hook, whose begin then hangs (a DNS API that does not answer) while
# slowhook.block exists.
cat >slowhook.sh <<SH
#!/bin/sh
"$ACME_HOOK" "\$@" || exit 1
if [ "\$1" = begin ] && [ -e "$T/slowhook.block" ]; then
    echo started >"$T/slowhook.started"
    sleep 60
fi
SH
chmod 0755 slowhook.sh
write_config ccs.conf certs.conf
run_ccs 0 check.out config check --config "$T/ccs.conf"

run_ccs 0 r0.out renew dns --config "$T/ccs.conf"
expect_contains r0.out "1 renewed, 0 failed" "first run: dns issued"

pubkey_of() { # pubkey_of PEM: a hash of the public key in a certificate or a private key
    case $(head -n 1 "$1") in
    *CERTIFICATE*) openssl x509 -in "$1" -noout -pubkey | openssl sha256 ;;
    *) openssl pkey -in "$1" -pubout | openssl sha256 ;;
    esac
}
txt_records() { # every TXT value the DNS serves for dns's two names, one a line
    for n in stop.dns.test api.stop.dns.test; do challtest_txt "_acme-challenge.$n"; done
}

# stop_in_poll WHAT SIGNAL OUT CCS-ARGS... — run ccs paused before its first look at WHAT
# (authorization, order), run scenario_check, send SIGNAL and let it go; sets rc and took_ms.
stop_in_poll() {
    what=$1 sig=$2 out=$3
    shift 3
    CCS_TEST_STOP_AT=acme-poll:$what "$CCS" "$@" >"$out" 2>&1 &
    pid=$!
    if ! wait_stopped "$pid"; then
        fail "$sig: ccs did not stop at its first poll of the $what"
        sed 's/^/    /' "$out" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rc=-1 took_ms=0
        return 0
    fi
    scenario_check
    start=$(date +%s%N)
    kill "-$sig" "$pid"
    kill -CONT "$pid"
    # A run that did not see the stop polls on and reaches the point again: caught, not waited on.
    i=0
    while [ $i -lt 600 ]; do
        case $(proc_state "$pid") in
        '' | Z) break ;;
        T) fail "$sig: ccs polled again after the stop (stopped at the point again)"
           kill -KILL "$pid"; break ;;
        esac
        sleep 0.05
        i=$((i + 1))
    done
    set +e
    wait "$pid"
    rc=$?
    set -e
    took_ms=$((($(date +%s%N) - start) / 1000000))
}

# ---- dns-01: stopped while polling the authorizations ---------------------------------------------------
live_before=$(thumbprint "$T/state/certs/dns/live/cert.pem")
: >"$HOOK_LOG"
begun() { grep -c '^begin dns-01 ' "$HOOK_LOG" || true; }
scenario_check() {
    # The test proves something only if the hook had published records when the stop came.
    [ "$(begun)" -ge 1 ] && ok "TERM: the hook was asked to publish ($(begun) of 2 names)" ||
        fail "TERM: no challenge begun when the stop comes (both authorizations reused?)"
    expect_eq "$(txt_records | wc -l)" "$(begun)" "TERM: every TXT record begun is published when the stop comes"
}
stop_in_poll authorization TERM term.out renew dns --config "$T/ccs.conf" --force
expect_eq "$rc" 3 "TERM during the poll: exit 3"
expect_contains term.out "stopped during the order (the next run finishes it with the same key)" \
    "TERM during the poll: the order is abandoned, and the run says what happens next"
expect_contains term.out "abandoned: asked to stop" "... at the poll"
[ "$took_ms" -lt 10000 ] && ok "TERM during the poll: ended in ${took_ms} ms" ||
    fail "TERM during the poll: took ${took_ms} ms"
expect_eq "$(txt_records | tr '\n' ' ')" "" "TERM during the poll: no TXT record is left in the DNS"
expect_eq "$(grep -c '^failed dns-01 ' "$HOOK_LOG")" "$(begun)" \
    "TERM during the poll: the hook withdrew every record (failed, although ccs was stopping)"
expect_eq "$(thumbprint "$T/state/certs/dns/live/cert.pem")" "$live_before" \
    "TERM during the poll: no new certificate (the order was not carried on)"
pending=$T/state/certs/dns/pending/privkey.pem
if [ -s "$pending" ]; then
    ok "TERM during the poll: the order's key is kept"
    pending_pub=$(pubkey_of "$pending")
else
    fail "TERM during the poll: the pending key is gone"
    pending_pub=none
fi
expect_eq "$(db_query "select failure_count from certificates where name = 'dns'")" 0 \
    "a stopped order is no failure"

# The next run, with nothing due, finishes the renewal with the kept key.
run_ccs 0 next.out renew dns --config "$T/ccs.conf"
expect_contains next.out "dns: renewing: finishing a renewal interrupted" \
    "the next run finishes the interrupted renewal"
expect_contains next.out "an earlier run stopped during order" "... saying so"
expect_contains next.out "where it stands (ready)" \
    "... taking up the order (its authorizations validated before the stop)"
[ "$(thumbprint "$T/state/certs/dns/live/cert.pem")" != "$live_before" ] &&
    ok "the next run: a new certificate is live" || fail "the next run: no new certificate"
expect_eq "$(pubkey_of "$T/state/certs/dns/live/cert.pem")" "$pending_pub" \
    "the next run: the new certificate carries the kept key"
[ ! -e "$pending" ] && ok "the next run: the pending key is settled" ||
    fail "the next run: the pending key is still there"
expect_eq "$(txt_records | tr '\n' ' ')" "" "the next run: no TXT record left"

# ---- dns-01: stopped while polling the order (the authorizations valid, finalize next) ---------------
live_before=$(thumbprint "$T/state/certs/dns/live/cert.pem")
: >"$HOOK_LOG"
scenario_check() {
    [ "$(begun)" -ge 1 ] && ok "TERM at the order: the hook was asked to publish ($(begun) of 2 names)" ||
        fail "TERM at the order: no challenge begun (both authorizations reused?)"
    expect_eq "$(grep -c '^done dns-01 ' "$HOOK_LOG")" "$(begun)" \
        "TERM at the order: the authorizations were done (their records withdrawn) when the stop comes"
}
stop_in_poll order TERM order.out renew dns --config "$T/ccs.conf" --force
expect_eq "$rc" 3 "TERM at the order: exit 3"
expect_contains order.out "stopped during the order (the next run finishes it with the same key)" \
    "TERM at the order: the order is abandoned"
expect_eq "$(thumbprint "$T/state/certs/dns/live/cert.pem")" "$live_before" \
    "TERM at the order: no new certificate"
if [ -s "$pending" ]; then
    ok "TERM at the order: the order's key is kept"
    pending_pub=$(pubkey_of "$pending")
else
    fail "TERM at the order: the pending key is gone"
    pending_pub=none
fi
run_ccs 0 next2.out renew dns --config "$T/ccs.conf"
expect_contains next2.out "dns: renewing: finishing a renewal interrupted" \
    "after TERM at the order: the next run finishes the renewal"
expect_eq "$(pubkey_of "$T/state/certs/dns/live/cert.pem")" "$pending_pub" \
    "after TERM at the order: the new certificate carries the kept key"
expect_eq "$(txt_records | tr '\n' ' ')" "" "after TERM at the order: no TXT record left"

# ---- dns-01: stopped after the finalize: the certificate the CA issued is fetched, not ordered again ---
orders() { grep -c 'POST /order-plz' "$PEBBLE_LOG"; }
live_before=$(thumbprint "$T/state/certs/dns/live/cert.pem")
scenario_check() { :; }
stop_in_poll finalized-order TERM fin.out renew dns --config "$T/ccs.conf" --force
expect_eq "$rc" 3 "TERM after the finalize: exit 3"
expect_eq "$(thumbprint "$T/state/certs/dns/live/cert.pem")" "$live_before" \
    "TERM after the finalize: nothing installed"
pending_pub=$(pubkey_of "$pending" 2>/dev/null || echo none)
o=$(orders)
run_ccs 0 next3.out renew dns --config "$T/ccs.conf"
expect_contains next3.out "where it stands (valid)" "after the finalize: the next run takes up the order (valid)"
expect_eq "$(orders)" "$o" "after the finalize: no new order placed"
expect_eq "$(pubkey_of "$T/state/certs/dns/live/cert.pem")" "$pending_pub" \
    "after the finalize: the certificate issued for the kept key is live"

# ---- two jobs at once (--jobs 2): one stop ends both orders, and withdraws every record ---------------
# The process stops when either job first polls; the other may be anywhere in its order then (its
# hook's begin, its challenge, its own poll): wherever, it is abandoned and cleaned up too.
all_txt() { for n in stop.dns.test api.stop.dns.test two.stop.dns.test; do challtest_txt "_acme-challenge.$n"; done; }
scenario_check() { :; }
stop_in_poll authorization TERM jobs.out renew dns dns2 --config "$T/ccs.conf" --force --jobs 2
expect_eq "$rc" 3 "TERM with two jobs: exit 3"
expect_contains jobs.out "0 renewed, 0 failed, 0 not due, 2 stopped" "TERM with two jobs: both orders stopped"
expect_eq "$(all_txt | tr '\n' ' ')" "" "TERM with two jobs: no TXT record left in the DNS"
run_ccs 0 jobs-next.out renew dns dns2 --config "$T/ccs.conf" --jobs 2
expect_contains jobs-next.out "2 renewed, 0 failed" "after TERM with two jobs: the next run finishes both"

# ---- a webroot: stopped while polling (SIGINT) -----------------------------------------------------------
# No web server serves this webroot: only the stop and its clean-up matter here.
scenario_check() {
    expect_eq "$(find "$T/webroot/.well-known/acme-challenge" -type f | wc -l)" 1 \
        "INT: the token file is in the webroot when the stop comes"
}
stop_in_poll authorization INT int.out renew web --config "$T/ccs.conf"
expect_eq "$rc" 3 "INT during the poll: exit 3"
expect_eq "$(find "$T/webroot" -type f | wc -l)" 0 "INT during the poll: the token file is removed"
[ "$took_ms" -lt 10000 ] && ok "INT during the poll: ended in ${took_ms} ms" ||
    fail "INT during the poll: took ${took_ms} ms"
# Its order then failed at the CA (nothing serves the webroot): the next run does not take up an
# invalid order, it places a new one (which fails the same way here).
run_ccs 1 web-next.out renew web --config "$T/ccs.conf"
expect_contains web-next.out "cannot be taken up (it is invalid): placing a new one" \
    "an invalid order left by a stop: the next run places a new one"

# ---- a CA that does not answer: a stop does not wait out the request's timeout (30 s) ---------------
# A fake, named as such: a listener that accepts connections and never answers, not even the TLS
# handshake (no real CA hangs on demand). ccs asks it for the directory; SIGTERM a second later
# ends the request at once.
python3 - "$T/hang.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
s.settimeout(60)
try:
    while True:
        held.append(s.accept()[0])
except OSError:
    pass
PY
hang_pid=$!
wait_for_file -s "$T/hang.port" 5 || :
mkdir -p "$T/state-hang"
sed -e "s|^server = .*|server = https://127.0.0.1:$(cat "$T/hang.port")/dir|" \
    -e "s|^state-dir = .*|state-dir = $T/state-hang|" ccs.conf >hang.conf
"$CCS" renew dns --config "$T/hang.conf" >hang.out 2>&1 &
pid=$!
sleep 1
stop_timed "$pid"
kill "$hang_pid" 2>/dev/null || true
wait "$hang_pid" 2>/dev/null || true
expect_eq "$rc" 3 "TERM while the CA does not answer: exit 3"
[ "$took_ms" -lt 5000 ] && ok "TERM while the CA does not answer: ended in ${took_ms} ms" ||
    fail "TERM while the CA does not answer: took ${took_ms} ms (the request's timeout is 30 s)"

# ---- a hook's begin stopped half-way: what it published is withdrawn too -----------------------------------
: >slowhook.block
: >"$HOOK_LOG"
"$CCS" renew dns3 --config "$T/ccs.conf" >slow.out 2>&1 &
pid=$!
wait_for_file -s slowhook.started 30 || :
expect_eq "$(challtest_txt _acme-challenge.three.stop.dns.test | wc -l)" 1 \
    "a hanging begin: its record is published when the stop comes"
stop_timed "$pid"
rm -f slowhook.block
expect_eq "$rc" 3 "TERM during a hook's begin: exit 3"
[ "$took_ms" -lt 8000 ] && ok "TERM during a hook's begin: ended in ${took_ms} ms (the hook stopped)" ||
    fail "TERM during a hook's begin: took ${took_ms} ms"
expect_contains "$HOOK_LOG" "failed dns-01 three.stop.dns.test" \
    "TERM during a hook's begin: the hook is called to withdraw (failed)"
expect_eq "$(challtest_txt _acme-challenge.three.stop.dns.test | tr '\n' ' ')" "" \
    "TERM during a hook's begin: no TXT record left"

# ---- waiting as the CA asks (rateLimited, Retry-After: 50 s): a stop ends the wait -----------------------
# The fake ARI proxy in front of Pebble (a fake, named as such: Pebble cannot be told to rate-limit
# one request) answers the next newOrder 429 with Retry-After: 50, which ccs waits through (it is
# under its 60 s maximum); SIGTERM during the wait ends the run at once.
fake_ari_start
fake_ari_control fault '{"status": 429, "match": "/order-plz", "count": 1, "retry_after": "50"}' >/dev/null
mkdir -p "$T/state-rl"
sed -e "s|^server = .*|server = $FAKE_ACME_URL|" -e "s|^state-dir = .*|state-dir = $T/state-rl|" \
    ccs.conf >rl.conf
"$CCS" renew dns --config "$T/rl.conf" >rl.out 2>&1 &
pid=$!
i=0
until [ "$(fake_log_eval 'sum(x.get("kind") == "fault" for x in r)')" = 1 ] || [ $i -ge 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
sleep 0.5
stop_timed "$pid"
expect_contains rl.out "waiting 50 s as the CA asks" "Retry-After: ccs was waiting as the CA asked"
expect_eq "$rc" 3 "TERM during a Retry-After wait: exit 3"
expect_contains rl.out "abandoned: asked to stop" "TERM during a Retry-After wait: the wait is abandoned"
[ "$took_ms" -lt 5000 ] && ok "TERM during a Retry-After wait: ended in ${took_ms} ms" ||
    fail "TERM during a Retry-After wait: took ${took_ms} ms (the wait was 50 s)"

finish
