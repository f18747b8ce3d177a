#!/bin/sh
# test_acme_account.sh — the account lifecycle against Pebble: terms of service, register (and
# find again), show, contact update, key rollover followed by an order signed with the new key,
# deactivation followed by refusal; External Account Binding with Pebble's EAB configuration.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

challtestsrv_start
pebble_start

ca() { # ca EXPECTED OUT ARGS...
    want=$1 out=$2
    shift 2
    run_ccs "$want" "$out" "$@" --server "$ACME_URL" --ca-bundle "$ACME_CA_BUNDLE" \
        --state-dir "$T/state"
}
key_file() { find "$T/state/accounts" -name account.key; }
key_thumb() { openssl pkey -in "$(key_file)" -pubout | openssl sha256; }

# Terms of service must be agreed explicitly.
ca 1 tos.out account register
expect_contains tos.out "terms of service" "register without --agree-tos names the terms"
expect_contains tos.out "--agree-tos" "... and says how to agree"

ca 0 reg.out account register --agree-tos --contact mailto:admin@example.test --json
expect_json reg.out "register --json parses"
expect_eq "$(json_eval reg.out 'd["event"]')" registered "a new account is registered"
expect_eq "$(json_eval reg.out 'd["status"]')" valid "the account is valid"
kid=$(json_eval reg.out 'd["url"]')
case $kid in https://127.0.0.1:*/my-account/*) ok "account URL from Pebble: $kid" ;; *) fail "odd account URL $kid" ;; esac
expect_eq "$(file_mode "$(key_file)")" 600 "the account key is stored 0600"
if grep -rq "PRIVATE KEY" reg.out; then fail "key material in the output"; else ok "no key material printed"; fi

# Registering again finds the same account (exit 2: nothing changed).
ca 2 reg2.out account register --agree-tos --json
expect_eq "$(json_eval reg2.out 'd["url"]')" "$kid" "register again: the same account"
expect_eq "$(json_eval reg2.out 'd["event"]')" "already registered" "register again: said so"

# The record of the account lost, the key kept: onlyReturnExisting finds it again, creates nothing.
rm "$(dirname "$(key_file)")/account.json"
ca 2 find.out account register --only-existing --json
expect_eq "$(json_eval find.out 'd["url"]')" "$kid" "--only-existing finds the account of the stored key"

ca 0 show.out account show --json
expect_eq "$(json_eval show.out 'd["contact"]')" "mailto:admin@example.test" "show: the contact"
ca 0 upd.out account update --contact mailto:ops@example.test --contact mailto:sec@example.test --json
expect_eq "$(json_eval upd.out '",".join(d["contact"])')" "mailto:ops@example.test,mailto:sec@example.test" \
    "update: contacts replaced"
ca 1 badc.out account update --contact ops@example.test
expect_contains badc.out "mailto:" "a contact that is not a mailto: URL is refused"

# Rollover: a new key, the same account, and the next order is signed with the new key.
before=$(key_thumb)
ca 0 roll.out account rollover --key-type ec-p384 --json
after=$(key_thumb)
[ "$before" != "$after" ] && ok "rollover: the stored key changed" || fail "rollover: key unchanged"
expect_eq "$(json_eval roll.out 'd["url"]')" "$kid" "rollover: the same account"
expect_eq "$(file_mode "$(key_file)")" 600 "rollover: the new key is 0600"
[ ! -e "$(dirname "$(key_file)")/account.key.new" ] && ok "rollover: no key.new left" || fail "account.key.new left behind"
ca 0 r1.out cert request --agree-tos --domain after-rollover.example.test --http-port "$HTTP01_PORT" --out "$T/r1"
[ -s r1/cert.pem ] && ok "an order signed with the rolled-over key succeeds" || fail "no certificate after rollover"

# Deactivation, then refusal.
ca 0 deact.out account deactivate --json
expect_eq "$(json_eval deact.out 'd["status"]')" deactivated "deactivate: status deactivated"
ca 1 r2.out cert request --agree-tos --domain after-deactivation.example.test --http-port "$HTTP01_PORT" --out "$T/r2"
if grep -qiE "unauthorized|deactivated" r2.out; then ok "a deactivated account is refused, and said so"; else
    fail "deactivated account: unclear error:"; sed 's/^/    /' r2.out >&2
fi
[ ! -e r2/cert.pem ] && ok "deactivated: nothing issued" || fail "deactivated: a certificate was written"

# ---- External Account Binding -------------------------------------------------------------------
pebble_stop
pebble_start eab
rm -rf "$T/state"
ca 1 e1.out account register --agree-tos
expect_contains e1.out "External Account Binding" "EAB required: said so without --eab-kid"
expect_contains e1.out "give --eab-kid and --eab-hmac-file" "... with the fix in the command line's terms"
openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n' >wrong.hmac # well-formed, but not the CA's key
chmod 600 wrong.hmac
ca 1 e2.out account register --agree-tos --eab-kid "$EAB_KID" --eab-hmac-file "$T/wrong.hmac"
expect_contains e2.out "external account binding" "a wrong EAB key is refused by the CA, and its problem shown"
ca 0 e3.out account register --agree-tos --eab-kid "$EAB_KID" --eab-hmac-file "$EAB_HMAC_FILE" --eab-alg HS256 --json
expect_eq "$(json_eval e3.out 'd["status"]')" valid "EAB: the account is registered"
if grep -q "$(cat "$EAB_HMAC_FILE")" e3.out e2.out 2>/dev/null; then fail "the EAB key was printed"; else ok "the EAB key is never printed"; fi
CCS_EAB_HMAC_FILE=$EAB_HMAC_FILE
export CCS_EAB_HMAC_FILE
ca 0 e4.out cert request --agree-tos --domain eab.example.test --http-port "$HTTP01_PORT" --out "$T/e4"
[ -s e4/cert.pem ] && ok "EAB account: a certificate issued" || fail "EAB: no certificate"

finish
