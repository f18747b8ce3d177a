#!/bin/sh
# test_renew_crash.sh — crash safety: 50 runs of `ccs renew --force --jobs 4` over several
# certificates, each killed with SIGKILL at a random moment, then a normal run. Every store file
# must open, every live certificate must be whole (its key matches), and at the end every
# certificate is valid and no order is left recorded as in flight.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

RUNS=${CCS_CRASH_RUNS:-50}
challtestsrv_start
pebble_start
renew_setup

: >certs.conf
for n in a b c d e f; do
    cat >>certs.conf <<CONF

[certificate "$n"]
domains = $n.crash.test, $n-alt.crash.test
deployment = store-only

[task "$n.ccs"]
type = deploy-ccs
store = main
CONF
done
write_config ccs.conf certs.conf

# live_ok NAME: the live certificate and key of NAME exist and match.
live_ok() {
    d=$T/state/certs/$1/live
    [ -s "$d/cert.pem" ] && [ -s "$d/privkey.pem" ] &&
        [ "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl sha256)" = \
          "$(openssl pkey -in "$d/privkey.pem" -pubout | openssl sha256)" ]
}

# One run to the end first: it issues everything, and its length sets the window the kills fall in
# (80% of it, so that nearly every later run is killed mid-way, however fast this machine is).
start=$(date +%s%N)
"$CCS" renew --config "$T/ccs.conf" --force --jobs 4 >run0.log 2>&1 || true
window_ms=$(( ($(date +%s%N) - start) / 1000000 * 8 / 10 ))
[ "$window_ms" -ge 100 ] || window_ms=100
ok "a whole forced run takes about $((window_ms * 10 / 8)) ms: kills fall within ${window_ms} ms"

kills=0
torn=0
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    "$CCS" renew --config "$T/ccs.conf" --force --jobs 4 >"run$i.log" 2>&1 &
    pid=$!
    # A random moment of the run: account, orders, validation, finalize, install or the tasks.
    sleep "$(awk -v s="$i" -v w="$window_ms" 'BEGIN { srand(s * 7919); printf "%.3f", rand() * w / 1000 }')"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    # After every kill: what exists is whole.
    if ! "$CCS" store check --store "$T/store" --password-file "$T/store.pw" >"check$i.log" 2>&1; then
        if grep -qE "truncated|not-pkcs12|damaged|wrong-password|key-mismatch" "check$i.log"; then
            torn=$((torn + 1))
            fail "run $i: the store holds a broken file:"
            sed 's/^/    /' "check$i.log" >&2
        fi
    fi
    for n in a b c d e f; do
        if [ -e "$T/state/certs/$n/live" ] && ! live_ok "$n"; then
            torn=$((torn + 1))
            fail "run $i: certificate $n's live files are not whole"
        fi
    done
done
ok "$RUNS runs, $kills killed mid-run"
[ "$kills" -ge $((RUNS / 2)) ] && ok "most runs were really killed ($kills)" || fail "only $kills runs were killed: the test proved little"
expect_eq "$torn" 0 "no torn or half-written state after any kill"

# The normal run afterwards: whatever a kill left undone is finished (exit 0), or nothing was left
# undone (exit 2).
set +e
"$CCS" renew --config "$T/ccs.conf" --jobs 4 >final.out 2>final.err
final=$?
set -e
case $final in 0 | 2) ok "the final run exits $final" ;; *) fail "the final run exits $final" ;; esac
if [ "$(grep -c 'FAILED' final.out || true)" -ne 0 ]; then fail "the final run failed somewhere"; sed 's/^/    /' final.out final.err >&2; fi
for n in a b c d e f; do
    live_ok "$n" && ok "$n: a valid live certificate" || fail "$n: no whole live certificate"
    [ -s "store/$n.crash.test.pfx" ] && ok "$n: in the store" || fail "$n: not in the store"
done
run_ccs 0 sc.out store check --store "$T/store" --password-file "$T/store.pw"
expect_contains sc.out "0 errors" "the store checks clean at the end"
expect_eq "$(db_query "select count(*) from certificates where pending_order != ''")" 0 \
    "no order left recorded as in flight"
find "$T/state/certs" -path '*/pending/privkey.pem' >pending.left
expect_eq "$(wc -l <pending.left)" 0 "no pending keys left behind (interrupted renewals finished)"
for n in a b c d e f; do
    sets=$(find "$T/state/certs/$n" -mindepth 1 -maxdepth 1 -type d ! -name pending | wc -l)
    # live and previous; sets a kill left between writing and switching are removed by the next run.
    [ "$sets" -le 2 ] && ok "$n: at most two certificate sets kept ($sets)" || fail "$n: $sets sets kept"
done

finish
