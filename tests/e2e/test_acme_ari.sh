#!/bin/sh
# test_acme_ari.sh — ACME Renewal Information (RFC 9773) and profiles, which Debian's Pebble 2.4
# lacks: tested through acme/fake_ari_proxy.py, a FAKE that fronts a real Pebble and adds a
# renewalInfo endpoint and meta.profiles. Checks the request shapes (certificate identifier,
# "profile" and "replaces" in newOrder) and that the window and Retry-After the CA sends are what
# ccs reports.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

challtestsrv_start
pebble_start
fake_ari_start --window-start 2031-01-02T03:04:05Z --window-end 2031-01-09T00:00:00Z \
    --retry-after 21600 --explanation-url https://ca.example/why

req() { # req EXPECTED OUT ARGS...: stdout in OUT, stderr in OUT.err
    want=$1 out=$2
    shift 2
    run_ccs_split "$want" "$out" "$out.err" "$@" --server "$FAKE_ACME_URL" \
        --ca-bundle "$ACME_CA_BUNDLE" --state-dir "$T/state" --agree-tos
}
new_orders() { fake_log_eval '[x["payload"] for x in r if x.get("endpoint") == "newOrder" and x.get("status", 0) < 400]'; }

# ---- profiles -------------------------------------------------------------------------------------
req 0 p.out cert request --domain prof.example.test --profile shortlived --http-port "$HTTP01_PORT" --out "$T/p"
[ -s p/cert.pem ] && ok "an order with a profile is issued" || fail "profile: no certificate"
# (the accepted newOrder: Pebble refuses a share of nonces at random, and the retry is logged too)
expect_eq "$(fake_log_eval '[x["payload"].get("profile") for x in r if x.get("endpoint") == "newOrder" and x.get("status", 0) < 400]')" \
    shortlived "newOrder carried \"profile\": \"shortlived\""
req 1 px.out cert request --domain prof.example.test --profile longlived --http-port "$HTTP01_PORT" --out "$T/px"
expect_contains px.out.err 'profile "longlived" is not offered' "an unknown profile is refused before ordering ..."
expect_contains px.out.err "classic, shortlived" "... listing the offered ones"
req 0 np.out cert request --domain noprof.example.test --http-port "$HTTP01_PORT" --out "$T/np"
expect_eq "$(fake_log_eval '[("profile" in x["payload"]) for x in r if x.get("endpoint") == "newOrder"][-1]')" \
    false "no --profile: no \"profile\" member"

# ---- renewal information ----------------------------------------------------------------------------
id=$(acme_cert_id p/cert.pem)
req 0 a1.out cert ari "$T/p/cert.pem" --json
expect_eq "$(json_eval a1.out 'd["certificate_id"]')" "$id" "the certificate identifier (AKI.serial) matches openssl's"
expect_eq "$(json_eval a1.out 'd["window_start"]')" 2031-01-02T03:04:05Z "window start as the CA sent it"
expect_eq "$(json_eval a1.out 'd["window_end"]')" 2031-01-09T00:00:00Z "window end as the CA sent it"
expect_eq "$(json_eval a1.out 'd["retry_after_s"]')" 21600 "Retry-After reported (when to ask again)"
expect_eq "$(json_eval a1.out 'd["explanation"]')" https://ca.example/why "explanation URL"
expect_eq "$(fake_log_eval '[x["path"] for x in r if x.get("endpoint") == "renewalInfo"][-1]')" \
    "/renewal-info/$id" "GET renewalInfo/<certID> (no doubled slash)"

fake_ari_control window '{"start": "+3600", "end": "+7200", "retry_after": 60}'
req 0 a2.out cert ari "$T/p/cert.pem" --json
expect_eq "$(json_eval a2.out 'd["retry_after_s"]')" 60 "a changed Retry-After is followed"
start=$(json_eval a2.out 'd["window_start"]')
[ "$(date -u -d "$start" +%s)" -gt "$(date -u +%s)" ] && ok "a changed window is followed" || fail "window start $start not in the future"

fake_ari_control window '{"start": "+7200", "end": "+3600"}'
req 1 a3.out cert ari "$T/p/cert.pem"
expect_contains a3.out.err "ends before it starts" "a window that ends before it starts is refused"

# ---- replaces ------------------------------------------------------------------------------------------
req 0 r.out cert request --domain prof.example.test --replaces "$T/p/cert.pem" --http-port "$HTTP01_PORT" --out "$T/r"
expect_eq "$(fake_log_eval '[x["payload"].get("replaces") for x in r if x.get("endpoint") == "newOrder"][-1]')" \
    "$id" "newOrder carried \"replaces\": the old certificate's identifier"

# ---- a CA without ARI (Pebble itself) ------------------------------------------------------------------
run_ccs_split 1 n.out n.err cert ari "$T/p/cert.pem" --server "$ACME_URL" --ca-bundle "$ACME_CA_BUNDLE" \
    --state-dir "$T/state"
expect_contains n.err "offers no renewal information" "no ARI at the CA: said so"
run_ccs_split 0 nr.out nr.err cert request --domain prof.example.test --replaces "$T/p/cert.pem" \
    --server "$ACME_URL" --ca-bundle "$ACME_CA_BUNDLE" --state-dir "$T/state" --agree-tos \
    --http-port "$HTTP01_PORT" --out "$T/nr"
[ -s nr/cert.pem ] && ok "--replaces at a CA without ARI still orders (without \"replaces\")" || fail "nr: no cert"

finish
