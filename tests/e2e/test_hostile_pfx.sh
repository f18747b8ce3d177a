#!/bin/sh
# test_hostile_pfx.sh — a PFX whose MAC or PBE iteration count is 2^31-1 (hours of work for OpenSSL)
# is refused from the count alone, with an error naming the file and the count: `deploy --pfx`,
# `store list`, `store check`, `store lookup`, a deploy replacing it, and a concurrent deploy of
# another name into the same store all finish within seconds. The files are built by pfx_forge
# (OpenSSL's PKCS#12 API, tests/unit/pfxforge.c), which writes a count it never computes.
#
# Every command runs under `timeout` (WITHIN seconds): before the limit each ran for hours, and a
# test that fails must end. That is a deadline, not a measurement: nothing here asserts speed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages_lib.sh"

: "${PFX_FORGE:?PFX_FORGE must name the pfx_forge helper}"
HOSTILE=2147483647
WITHIN=30

make_ca ca
make_leaf www ca www.example.com 'DNS:www.example.com' 90
make_leaf api ca api.example.com 'DNS:api.example.com' 90
make_password pw 'hostile-test-password'

"$PFX_FORGE" --cert www.pem --key www.key --chain ca.pem --password-file pw --out mac.pfx \
    --mac-iter $HOSTILE
"$PFX_FORGE" --cert www.pem --key www.key --chain ca.pem --password-file pw --out key.pfx \
    --key-iter $HOSTILE
"$PFX_FORGE" --cert www.pem --key www.key --chain ca.pem --password-file pw --out certs.pfx \
    --aes256 --cert-iter $HOSTILE
openssl pkcs12 -in key.pfx -passin file:pw -info -noout >key-info.txt 2>&1 || true
expect_contains key-info.txt "Iteration $HOSTILE" "precondition: the forged key bag claims $HOSTILE iterations"

# ---- deploy --pfx of a hostile input --------------------------------------------------------------
mkdir in-store
for kind in mac key certs; do
    run_cmd 1 "in-$kind.out" timeout $WITHIN "$CCS" deploy --store in-store --pfx "$kind.pfx" \
        --pfx-password-file pw --password-file pw
    expect_contains "in-$kind.out" "$kind.pfx" "deploy --pfx ($kind count): the error names the file"
    expect_contains "in-$kind.out" "$HOSTILE" "deploy --pfx ($kind count): the error names the count"
done
expect_eq "$(store_files in-store)" "" "deploy --pfx of hostile input: nothing written"

# ---- the per-file sum: four key derivations (MAC, certificates, two keys), each under the cap ------
# 4 x 750,001 = 3,000,004 > 3,000,000: refused naming the file and the sum. The counts are written,
# not computed (--uncomputed), so a reader that derived a key before refusing would report a wrong
# password instead. 4 x 750,000, computed, is at the sum cap and opens.
OVER=750001
AT=750000
"$PFX_FORGE" --cert www.pem --key www.key --chain ca.pem --password-file pw --out sum-over.pfx \
    --extra-key api.key --uncomputed --mac-iter $OVER --key-iter $OVER --cert-iter $OVER
"$PFX_FORGE" --cert www.pem --key www.key --chain ca.pem --password-file pw --out sum-at.pfx \
    --extra-key api.key --mac-iter $AT --key-iter $AT --cert-iter $AT
run_cmd 1 sum-over.out timeout $WITHIN "$CCS" deploy --store in-store --pfx sum-over.pfx \
    --pfx-password-file pw --password-file pw
expect_contains sum-over.out "sum-over.pfx" "deploy --pfx (sum over the cap): the error names the file"
expect_contains sum-over.out "add up to 3000004" "deploy --pfx (sum over the cap): the error names the sum"
expect_eq "$(store_files in-store)" "" "deploy --pfx (sum over the cap): nothing written"
run_cmd 0 sum-at.out timeout $WITHIN "$CCS" deploy --store in-store --pfx sum-at.pfx \
    --pfx-password-file pw --password-file pw
expect_eq "$(store_files in-store)" "www.example.com.pfx" "deploy --pfx (at the sum cap): written"
rm in-store/*.pfx

# ---- a store holding hostile files ---------------------------------------------------------------
mkdir s
run_ccs 0 seed.out deploy --store s --cert api.pem --key api.key --chain ca.pem --password-file pw
cp mac.pfx s/www.example.com.pfx
cp certs.pfx s/certs.example.com.pfx
cp sum-over.pfx s/sum.example.com.pfx
chmod 0640 s/*.pfx

run_cmd 0 list.out timeout $WITHIN "$CCS" store list --store s --password-file pw
expect_contains list.out "www.example.com.pfx" "list: shows the hostile file"
expect_contains list.out "refused: too costly to open: the MAC iteration count is $HOSTILE" "list: says why, with the count"
expect_contains list.out "api.example.com.pfx" "list: the good file is still listed"
expect_contains list.out "add up to 3000004" "list: the file over the sum cap, with the sum"

run_cmd 1 check.out timeout $WITHIN "$CCS" store check --store s --password-file pw --json
expect_json check.out "check --json parses"
expect_eq "$(json_eval check.out '[f["file"] for f in d["findings"] if f["code"] == "too-costly"]' |
    LC_ALL=C sort | tr '\n' ' ')" "certs.example.com.pfx sum.example.com.pfx www.example.com.pfx " \
    "check: the three hostile files are too-costly errors"
expect_eq "$(json_eval check.out '[f["message"] for f in d["findings"] if f["file"] == "www.example.com.pfx"]' |
    grep -c "$HOSTILE" || true)" 1 "check: the message gives the count"

run_cmd 1 lookup.out timeout $WITHIN "$CCS" store lookup www.example.com --store s --password-file pw
expect_contains lookup.out "$HOSTILE" "lookup: says the file was refused, with the count"

# ---- a deploy replacing the hostile file, and one of another name, at the same time --------------
# Before the limit, the first held the store lock while opening www.example.com.pfx for hours,
# and the second waited for the lock.
set +e
timeout $WITHIN "$CCS" deploy --store s --cert www.pem --key www.key --chain ca.pem \
    --password-file pw >replace.out 2>&1 &
replace_pid=$!
timeout $WITHIN "$CCS" deploy --store s --cert api.pem --key api.key --chain ca.pem \
    --password-file pw --force >other.out 2>&1 &
other_pid=$!
wait $replace_pid
replace_rc=$?
wait $other_pid
other_rc=$?
set -e
expect_eq "$replace_rc" 0 "deploy replacing the hostile file finishes (exit 0)"
expect_eq "$other_rc" 0 "concurrent deploy of another name finishes (exit 0)"
expect_contains replace.out "$HOSTILE" "the replacing deploy says what it replaced, with the count"
expect_pfx_opens s/www.example.com.pfx pw www.pem "the replaced file"

# Every message above says each thing once (no "x: x: ...").
expect_no_doubled_prefix "the messages of this test" *.out
finish
