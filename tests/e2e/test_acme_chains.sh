#!/bin/sh
# test_acme_chains.sh — alternate chains (PEBBLE_ALTERNATE_ROOTS=2): the default chain, and the
# one --preferred-chain asks for by its root's name; revocation with a reason code, confirmed
# through Pebble's management API (/cert-status-by-serial/).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

PEBBLE_ALTERNATE_ROOTS=2
export PEBBLE_ALTERNATE_ROOTS
challtestsrv_start
pebble_start

req() { # req EXPECTED OUT ARGS...: stdout (JSON with --json) in OUT, stderr in OUT.err
    want=$1 out=$2
    shift 2
    run_ccs_split "$want" "$out" "$out.err" "$@" --server "$ACME_URL" \
        --ca-bundle "$ACME_CA_BUNDLE" --state-dir "$T/state" --agree-tos
}
cn_of() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p'; }
top_issuer() { # the issuer CN of the last certificate in a chain file
    awk '/BEGIN CERT/{n++} {print > ("part" n ".pem")}' "$1"
    last=$(ls part*.pem | sort -V | tail -1)
    openssl x509 -in "$last" -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= *//p'
    rm -f part*.pem
}

for n in 0 1 2; do pebble_root_pem "root$n.pem" "$n"; done
root0=$(cn_of root0.pem) root1=$(cn_of root1.pem) root2=$(cn_of root2.pem)
[ "$root0" != "$root1" ] && [ "$root1" != "$root2" ] && ok "three distinct roots: $root0 / $root1 / $root2" ||
    fail "Pebble did not offer three roots"

req 0 d.out cert request --domain chain.example.test --http-port "$HTTP01_PORT" --out "$T/d" --json
expect_eq "$(json_eval d.out 'd["chains_offered"]')" 3 "three chains offered (default + 2 alternates)"
default_top=$(top_issuer d/chain.pem)
expect_eq "$(json_eval d.out 'd["chain_top"]')" "$default_top" "the reported chain top is the chain's"

for n in 1 2; do
    eval "pref=\$root$n" # not "want": run_ccs uses that name
    req 0 "p$n.out" cert request --domain "p$n.example.test" --preferred-chain "$pref" \
        --http-port "$HTTP01_PORT" --out "$T/p$n" --json
    expect_eq "$(top_issuer "p$n/chain.pem")" "$pref" "--preferred-chain \"$pref\": that chain is chosen"
    if openssl verify -CAfile "root$n.pem" -untrusted "p$n/chain.pem" "p$n/cert.pem" >/dev/null 2>&1; then
        ok "the chosen chain verifies against root $n"
    else
        fail "the chosen chain does not verify against root $n"
    fi
done
req 0 px.out cert request --domain px.example.test --preferred-chain "No Such Root" \
    --http-port "$HTTP01_PORT" --out "$T/px"
expect_contains px.out.err "no chain of 3 leads to \"No Such Root\"" "an unknown preferred chain falls back, and says so"

# ---- revocation -------------------------------------------------------------------------------------
serial=$(openssl x509 -in d/cert.pem -noout -serial | sed 's/serial=//')
pebble_cert_status "$serial" >status0.json
expect_eq "$(json_eval status0.json 'd["Status"]')" Valid "before: Pebble says Valid"
req 0 rv.out cert revoke "$T/d/cert.pem" --reason keyCompromise
pebble_cert_status "$serial" >status1.json
expect_eq "$(json_eval status1.json 'd["Status"]')" Revoked "after: Pebble says Revoked"
expect_eq "$(json_eval status1.json 'd.get("Reason")')" 1 "reason code 1 (keyCompromise) recorded"
req 1 rv2.out cert revoke "$T/d/cert.pem"
expect_contains rv2.out.err "alreadyRevoked" "revoking twice: the CA's problem is shown"
req 1 rv3.out cert revoke "$T/d/cert.pem" --reason sideways
expect_contains rv3.out.err "--reason" "an unknown reason is refused"

finish
