#!/bin/sh
# test_acme_issue.sh — `ccs cert request` against a real Pebble with real validation (no
# PEBBLE_VA_ALWAYS_VALID): http-01 with the built-in responder (multi-name and an IP identifier)
# and with a webroot served by a separate web server; dns-01 through a uacme-style hook that sets
# TXT records in pebble-challtestsrv, including a wildcard; failures that must be clear and leave
# nothing behind.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

challtestsrv_start
pebble_start
pebble_root_pem root.pem
pebble_intermediate_pem inter.pem
cat root.pem inter.pem >trust.pem

acme() { # acme EXPECTED_EXIT OUT ARGS...: ccs with the CA options
    want=$1 out=$2
    shift 2
    run_ccs "$want" "$out" "$@" --server "$ACME_URL" --ca-bundle "$ACME_CA_BUNDLE" \
        --state-dir "$T/state" --agree-tos
}

# verify_issued DIR NAME...: the four files, modes, chain to Pebble's root, every name present.
verify_issued() {
    d=$1
    shift
    for f in cert.pem chain.pem fullchain.pem privkey.pem; do
        [ -s "$d/$f" ] && ok "$d/$f written" || fail "$d/$f missing"
    done
    expect_eq "$(file_mode "$d/privkey.pem")" 600 "$d/privkey.pem is 0600"
    if openssl verify -CAfile root.pem -untrusted "$d/chain.pem" "$d/cert.pem" >verify.out 2>&1; then
        ok "$d: the certificate chains to Pebble's root"
    else
        fail "$d: openssl verify: $(cat verify.out)"
    fi
    expect_eq "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl sha256)" \
        "$(openssl pkey -in "$d/privkey.pem" -pubout | openssl sha256)" "$d: key matches"
    openssl x509 -in "$d/cert.pem" -noout -ext subjectAltName >"$d.san" 2>&1
    for n in "$@"; do
        expect_contains "$d.san" "$n" "$d: the certificate names $n"
    done
}

# ---- http-01, built-in responder: three names and an IP address --------------------------------
acme 0 r1.out cert request --domain www.example.test --domain API.Example.Test. \
    --domain shop.example.test --domain 127.0.0.1 --http-port "$HTTP01_PORT" --out "$T/r1"
verify_issued r1 DNS:www.example.test DNS:api.example.test DNS:shop.example.test "IP Address:127.0.0.1"
expect_contains r1.out "registered account" "the first request registers an account"
if curl -s -m 2 "http://127.0.0.1:$HTTP01_PORT/" >/dev/null 2>&1; then
    fail "the http-01 responder still listens after the request"
else
    ok "the http-01 responder stopped"
fi

# A key type other than the default, and a port in use reported before any order.
acme 0 r2.out cert request --domain rsa.example.test --key-type rsa-2048 \
    --http-port "$HTTP01_PORT" --out "$T/r2"
verify_issued r2 DNS:rsa.example.test
expect_contains r2.out "" "rsa request ran"
openssl pkey -in r2/privkey.pem -noout -text 2>/dev/null | head -1 >r2.keytype
expect_contains r2.keytype "Private-Key: (2048 bit" "--key-type rsa-2048 gives an RSA key"
# Another server already on the port (on all IPv4 addresses, as a web server would be).
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0",int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(60)' \
    "$HTTP01_PORT" "$T/blocker.ready" &
blocker=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e blocker.ready ] && break; sleep 0.2; done
[ -e blocker.ready ] && ok "a blocker holds port $HTTP01_PORT" || fail "the blocker did not bind"
acme 1 busy.out cert request --domain busy.example.test --http-port "$HTTP01_PORT" --out "$T/busy"
expect_contains busy.out "$HTTP01_PORT" "a busy port is named in the error"
kill $blocker 2>/dev/null || true
wait $blocker 2>/dev/null || true
[ ! -e busy ] && ok "nothing written when the responder cannot listen" || fail "busy/ exists"

# ---- http-01, webroot served by another web server ---------------------------------------------
mkdir -p webroot
python3 -m http.server --bind 127.0.0.1 --directory "$T/webroot" "$HTTP01_PORT" >web.log 2>&1 &
web=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP01_PORT/" && break
    sleep 0.3
done
acme 0 w.out cert request --domain web.example.test --webroot "$T/webroot" --out "$T/w"
verify_issued w DNS:web.example.test
expect_contains web.log "/.well-known/acme-challenge/" "Pebble fetched the token from the webroot"
expect_eq "$(find webroot -type f | wc -l)" 0 "webroot: token files removed afterwards"
kill $web 2>/dev/null || true
wait $web 2>/dev/null || true

# ---- dns-01 through the hook, a plain name and a wildcard --------------------------------------
HOOK_LOG=$T/hook.log
export HOOK_LOG CHALLTEST_URL CHALLTEST_STATE_DIR
acme 0 d1.out cert request --challenge dns-01 --hook "$ACME_HOOK" --domain '*.wild.example.test' \
    --domain wild.example.test --out "$T/d1"
verify_issued d1 "DNS:*.wild.example.test" DNS:wild.example.test
expect_contains hook.log "begin dns-01 wild.example.test" "hook: begin for the wildcard's base name"
expect_contains hook.log "done dns-01 wild.example.test" "hook: done after validation"
expect_eq "$(challtest_txt _acme-challenge.wild.example.test.)" "" "TXT records cleared afterwards"

# A hook that fails at begin: the error names the identifier, exit 1, nothing written.
acme 1 f1.out cert request --challenge dns-01 --hook "$ACME_FAILING_HOOK" --domain fail.example.test \
    --out "$T/f1"
expect_contains f1.out "fail.example.test" "failing hook: error names the identifier"
expect_contains f1.out "failed (exit" "failing hook: error gives the hook's exit status"
[ ! -e f1/cert.pem ] && ok "failing hook: no certificate written" || fail "f1/cert.pem exists"

# A hook that "succeeds" without publishing anything: validation fails, the hook hears "failed".
cat >lying-hook <<'HOOK'
#!/bin/sh
echo "$1 $2 $3" >>"$HOOK_LOG"
exit 0
HOOK
chmod +x lying-hook
: >hook.log
acme 1 f2.out cert request --challenge dns-01 --hook "$T/lying-hook" --domain lie.example.test \
    --out "$T/f2"
expect_contains f2.out "lie.example.test: dns-01 challenge failed" "invalid authorization: named, with the challenge"
expect_contains hook.log "failed dns-01 lie.example.test" "the hook is told the challenge failed"
[ ! -e f2/cert.pem ] && ok "invalid authorization: no certificate written" || fail "f2/cert.pem exists"

# ---- bad input, refused before anything is sent -------------------------------------------------
acme 1 b1.out cert request --domain 'bad..name' --http-port "$HTTP01_PORT" --out "$T/b1"
expect_contains b1.out 'bad..name' "an invalid --domain is named"
acme 1 b2.out cert request --domain x.example.test --profile shortlived --http-port "$HTTP01_PORT" --out "$T/b2"
expect_contains b2.out "offers no certificate profiles" "--profile against a CA without profiles"
acme 1 b3.out cert request --domain x.example.test --challenge dns-01 --out "$T/b3"
expect_contains b3.out "needs --hook" "dns-01 without a hook"
run_ccs 1 b4.out cert request --domain x.example.test --server "$ACME_URL" --state-dir "$T/state" \
    --http-port "$HTTP01_PORT" --out "$T/b4"
expect_contains b4.out "certificate" "an untrusted CA certificate fails TLS verification"

finish
