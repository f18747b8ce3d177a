#!/bin/sh
# test_acme_robust.sh — a CA that misbehaves as real ones do: Pebble rejecting half of all good
# nonces (PEBBLE_WFE_NONCEREJECT=50) and reusing authorizations half the time
# (PEBBLE_AUTHZREUSE=50): every order must still succeed. Then, through the FAKE proxy (Pebble 2.4
# cannot do this), a rate limit and a 503 with Retry-After that ccs waits out, and a rate limit
# too long to wait for, which must fail at once and say when a retry is allowed.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

PEBBLE_WFE_NONCEREJECT=50
PEBBLE_AUTHZREUSE=50
export PEBBLE_WFE_NONCEREJECT PEBBLE_AUTHZREUSE
challtestsrv_start
pebble_start

req() { # req EXPECTED OUT SERVER ARGS...
    want=$1 out=$2 server=$3
    shift 3
    run_ccs "$want" "$out" cert request --server "$server" --ca-bundle "$ACME_CA_BUNDLE" \
        --state-dir "$T/state" --agree-tos --http-port "$HTTP01_PORT" "$@"
}

# Overlapping names across orders, so reused authorizations (already valid) meet new ones.
i=0
for names in "a.robust.test b.robust.test" "b.robust.test c.robust.test" \
    "a.robust.test c.robust.test d.robust.test" "a.robust.test" "b.robust.test d.robust.test"; do
    i=$((i + 1))
    set --
    for n in $names; do set -- "$@" --domain "$n"; done
    req 0 "o$i.out" "$ACME_URL" "$@" --out "$T/o$i"
    [ -s "o$i/fullchain.pem" ] && ok "order $i ($names) issued despite nonce rejections" ||
        fail "order $i: no certificate"
done
rejections=$(grep -c "badNonce\|Rejecting nonce\|reject" "$PEBBLE_LOG" || true)
[ "$rejections" -gt 0 ] && ok "Pebble did reject nonces ($rejections log lines)" ||
    fail "Pebble rejected no nonce: the test proved nothing"

# ---- Retry-After, through the FAKE proxy ----------------------------------------------------------
pebble_stop
PEBBLE_WFE_NONCEREJECT=0
export PEBBLE_WFE_NONCEREJECT
pebble_start
fake_ari_start --rate-limit-once /order-plz
req 0 rl.out "$FAKE_ACME_URL" --domain ratelimited.robust.test --out "$T/rl"
[ -s rl/cert.pem ] && ok "a rate-limited newOrder was retried after Retry-After" || fail "rate limit: no certificate"
expect_contains rl.out "rate limited; waiting 2 s" "the wait is reported"
expect_eq "$(fake_log_eval 'len([x for x in r if x.get("endpoint") == "newOrder"])')" 2 \
    "newOrder sent twice: the 429, then the retry"

fake_ari_control fault '{"status": 503, "match": "/order-plz", "count": 1, "retry_after": "date"}'
req 0 un.out "$FAKE_ACME_URL" --domain unavailable.robust.test --out "$T/un"
[ -s un/cert.pem ] && ok "a 503 with an HTTP-date Retry-After was waited out" || fail "503: no certificate"

fake_ari_control fault '{"status": 429, "match": "/order-plz", "count": 1, "retry_after": "3600"}'
req 1 long.out "$FAKE_ACME_URL" --domain toolong.robust.test --out "$T/long"
expect_contains long.out "not retrying before" "a long Retry-After fails at once ..."
expect_contains long.out "rateLimited" "... naming the problem"
[ ! -e long/cert.pem ] && ok "long rate limit: nothing written" || fail "long rate limit: a certificate"

finish
