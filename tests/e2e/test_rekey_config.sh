#!/bin/sh
# test_rekey_config.sh — after `ccs store rekey`, the renewer picks up the new password with no edit
# of ccs.conf when the new password is written into the file `[store] password-file` names (README,
# `ccs store rekey`, step 4): a store of two certificates from Pebble is rekeyed, the new password
# copied over the configured file, one certificate renewed — its files are written under the new
# password, the other's were rewritten by the rekey, and the whole store opens with the new password
# and none of it with the old.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup

cat >certs.conf <<CONF

[certificate "www"]
domains = www.example.test
challenge = http-01

[task "www.ccs"]
type = deploy-ccs
store = main

[certificate "api"]
domains = api.example.test
challenge = http-01

[task "api.ccs"]
type = deploy-ccs
store = main
CONF
write_config ccs.conf certs.conf
run_ccs 0 r1.out renew --config "$T/ccs.conf"
expect_contains r1.out "2 renewed" "first run: both certificates issued"
expect_eq "$(store_files store)" "$(printf '%s\n' api.example.test.pfx www.example.test.pfx)" \
    "first run: one file per name"
cp "$T/store.pw" old.pw
www_before=$(pfx_thumbprint store/www.example.test.pfx old.pw)

# The rekey, then the new password into the file the configuration names.
make_password new.pw 'renew-Store-pw-2'
run_ccs 0 rekey.out store rekey --store "$T/store" --password-file old.pw --new-password-file new.pw
expect_contains rekey.out "2 rewritten" "rekey: both files rewritten"
cat new.pw >"$T/store.pw"

# A renewal of one certificate, with ccs.conf untouched.
run_ccs 0 r2.out renew www --config "$T/ccs.conf" --force
expect_contains r2.out "1 renewed" "the renewal after the rekey"
www_after=$(pfx_thumbprint store/www.example.test.pfx new.pw)
[ -n "$www_after" ] && [ "$www_after" != "$www_before" ] &&
    ok "the renewed certificate was written under the new password" ||
    fail "www.example.test.pfx does not hold a new certificate under the new password"
for f in store/*.pfx; do
    if openssl pkcs12 -in "$f" -passin file:new.pw -noout 2>/dev/null &&
        ! openssl pkcs12 -in "$f" -passin file:old.pw -noout 2>/dev/null; then
        ok "$f opens with the new password only"
    else
        fail "$f does not open with the new password only"
    fi
done
run_ccs 0 check.out store check --store "$T/store" --password-file "$T/store.pw"

finish
