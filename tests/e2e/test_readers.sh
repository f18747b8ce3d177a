#!/bin/sh
# test_readers.sh — what `ccs deploy` writes is what IIS CCS expects, and independent PKCS#12 readers
# (OpenSSL, GnuTLS certtool, NSS pk12util, and Java keytool, which pairs the key with its
# certificate by localKeyID as Windows does) open it: file names per host name (normalised: lower case,
# no trailing dot, `*` as `_`, IDN in Unicode), no file for an IP, same bytes in every file, compat
# (3DES/SHA-1) and aes256 (PBES2/AES-256/SHA-256) formats, full chain, friendly name, file mode,
# exit codes, JSON report, PFX input in other formats, empty store password.
. "$(dirname "$0")/lib.sh"

make_ca ca
# SANs: plain; upper case with a trailing dot; wildcard; IDN as an A-label; the same IDN in Unicode
# (openssl puts the UTF-8 in the IA5String: real CAs do not, but ccs must still map it to the same
# file, not a second one); an IP address.
make_leaf leaf ca www.example.com \
    'DNS:www.example.com,DNS:Example.COM.,DNS:*.example.com,DNS:xn--bcher-kva.example,DNS:bücher.example,IP:127.0.0.1'
make_password pw 'store-Pa55 word'
leaf_tp=$(thumbprint leaf.pem)
ca_tp=$(thumbprint ca.pem)
expected_files=$(printf '%s\n' www.example.com.pfx example.com.pfx _.example.com.pfx bücher.example.pfx |
    LC_ALL=C sort)

# expect_keytool_pairs PFX PASSWORD_FILE LEAF_PEM WHAT — Java's keytool (the fourth reader) finds a
# private-key entry whose certificate is LEAF_PEM. keytool, like Windows, pairs the key with the
# certificate whose localKeyID it shares: a PFX with the id on a chain certificate shows the key
# with the CA certificate instead. (keytool refuses non-ASCII passwords: these are ASCII.)
expect_keytool_pairs() {
    keytool -list -v -keystore "$1" -storetype PKCS12 -storepass:file "$2" >"$T/.keytool.out" 2>&1 || true
    paired=$(awk '/^Entry type: PrivateKeyEntry/ { on = 1 } on && /SHA1:/ { print $2; exit }' "$T/.keytool.out")
    expect_eq "$paired" "$(colon_hex "$(thumbprint "$3")")" "$4: keytool pairs the key with the leaf"
}

# ---- compat (default) ------------------------------------------------------------------------------
mkdir s1
run_ccs_split 0 d1.json d1.err deploy --store s1 --cert leaf.pem --key leaf.key --chain ca.pem \
    --password-file pw --json
expect_json d1.json "deploy --json parses"
expect_eq "$(store_files s1)" "$expected_files" "exactly one file per host name, no temp files"
expect_eq "$(json_eval d1.json 'sorted(e["file"] for e in d["entries"] if e["action"] == "written")' |
    LC_ALL=C sort)" "$expected_files" "JSON: every file reported written"
expect_eq "$(json_eval d1.json '[e["action"] for e in d["entries"] if e["name"] == "127.0.0.1"]')" \
    "no-file" "JSON: the IP address is reported no-file"
expect_eq "$(json_eval d1.json '[e["file"] for e in d["entries"] if e["name"] == "127.0.0.1"]')" \
    "null" "JSON: the IP address has no file"
expect_eq "$(json_eval d1.json 'len(d["entries"])')" 5 "JSON: 4 files + 1 IP, duplicates merged"
expect_eq "$(json_eval d1.json '[e["action"] for e in d["entries"] if e["action"] in ("rejected", "failed")]')" \
    "" "JSON: nothing rejected or failed"
expect_eq "$(json_eval d1.json 'd["certificate"]["thumbprint"]')" "$leaf_tp" "JSON: thumbprint"
expect_eq "$(json_eval d1.json 'd["format"]')" compat "JSON: format compat"
expect_eq "$(json_eval d1.json 'd["changed"]')" 4 "JSON: changed count"
expect_eq "$(ls s1 | grep -c '127\.0\.0\.1' || true)" 0 "no file for the IP address"

for f in $expected_files; do
    expect_same_file "s1/$f" s1/www.example.com.pfx "$f is byte-identical to www.example.com.pfx"
    expect_eq "$(file_mode "s1/$f")" 640 "$f has mode 0640 by default"
    expect_pfx_opens "s1/$f" pw leaf.pem "compat $f"
done

expect_keytool_pairs s1/www.example.com.pfx pw leaf.pem "compat"
f=s1/www.example.com.pfx
openssl pkcs12 -in "$f" -passin file:pw -info -nokeys -nocerts >info1.txt 2>&1
expect_contains info1.txt "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" "compat: certificate bag 3DES PBE"
expect_contains info1.txt "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" "compat: key bag 3DES PBE"
expect_contains info1.txt "MAC: sha1," "compat: MAC SHA-1"
expect_not_contains info1.txt "PBES2" "compat: no PBES2 anywhere (Windows Server 2016 lacks it)"

expect_eq "$(pfx_cert_count "$f" pw)" 2 "full chain: leaf + CA in the PFX"
openssl pkcs12 -in "$f" -passin file:pw -nokeys -cacerts >cacerts.pem 2>/dev/null
expect_eq "$(pem_thumbprints cacerts.pem)" "$ca_tp" "the CA certificate is the chain certificate"
openssl pkcs12 -in "$f" -passin file:pw -nodes >all.pem 2>/dev/null
expires=$(date -u -d "$(openssl x509 -in leaf.pem -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%d)
if grep -F "friendlyName:" all.pem | grep -F "www.example.com" | grep -qF "$expires"; then
    ok "friendly name names the host and the expiry date"
else
    fail "friendly name lacks www.example.com or $expires:"
    grep -F friendlyName all.pem >&2 || echo "    (no friendlyName)" >&2
fi
expect_eq "$(grep -F friendlyName: all.pem | grep -c 'www\.example\.com' || true)" 2 \
    "friendly name on both the key and the leaf"

# Re-run: nothing to do, exit 2, nothing touched.
snapshot s1 >s1.before
run_ccs 2 d2.out deploy --store s1 --cert leaf.pem --key leaf.key --chain ca.pem --password-file pw
expect_eq "$(grep -c '^ *unchanged ' d2.out || true)" 4 "re-run: all four files unchanged"
expect_snapshot_unchanged s1.before s1 "re-run: store untouched"

# ---- aes256 ------------------------------------------------------------------------------------------
mkdir s2
run_ccs 0 d3.out deploy --store s2 --cert leaf.pem --key leaf.key --chain ca.pem --password-file pw \
    --format aes256 --force
expect_eq "$(store_files s2)" "$expected_files" "aes256: same file names"
f=s2/www.example.com.pfx
openssl pkcs12 -in "$f" -passin file:pw -info -nokeys -nocerts >info2.txt 2>&1
expect_eq "$(grep -c 'PBES2, PBKDF2, AES-256-CBC, .*PRF hmacWithSHA256' info2.txt || true)" 2 \
    "aes256: both bags PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC"
expect_contains info2.txt "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" "aes256: key bag AES-256"
expect_contains info2.txt "MAC: sha256," "aes256: MAC SHA-256"
expect_not_contains info2.txt "TripleDES" "aes256: no 3DES"
expect_eq "$(pfx_cert_count "$f" pw)" 2 "aes256: full chain"
for g in $expected_files; do
    expect_same_file "s2/$g" "$f" "aes256: $g identical"
done
expect_pfx_opens "$f" pw leaf.pem "aes256 www.example.com.pfx"
expect_pfx_opens "s2/bücher.example.pfx" pw leaf.pem "aes256 bücher.example.pfx"
expect_keytool_pairs "$f" pw leaf.pem "aes256"

# ---- input from an existing PFX, under another password -----------------------------------------------
make_password inpw 'input-pfx-password'
openssl pkcs12 -export -legacy -in leaf.pem -inkey leaf.key -certfile ca.pem -passout file:inpw \
    -out legacy-in.pfx 2>/dev/null
openssl pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -passout file:inpw \
    -out aes-in.pfx 2>/dev/null
openssl pkcs12 -in legacy-in.pfx -passin file:inpw -info -legacy -noout >legacy-info.txt 2>&1 || true
expect_contains legacy-info.txt "pbeWithSHA1And40BitRC2-CBC" "precondition: the -legacy input uses RC2"
for kind in legacy aes; do
    mkdir "s-$kind"
    run_ccs 0 "p-$kind.out" deploy --store "s-$kind" --pfx "$kind-in.pfx" --pfx-password-file inpw \
        --password-file pw
    expect_eq "$(store_files "s-$kind")" "$expected_files" "--pfx $kind: same file names"
    expect_pfx_opens "s-$kind/www.example.com.pfx" pw leaf.pem "--pfx $kind input"
    expect_eq "$(pfx_cert_count "s-$kind/www.example.com.pfx" pw)" 2 "--pfx $kind: chain kept"
    if openssl pkcs12 -in "s-$kind/www.example.com.pfx" -passin file:inpw -noout 2>/dev/null; then
        fail "--pfx $kind: the store file opens with the input PFX's password"
    else
        ok "--pfx $kind: re-encrypted: the input password does not open it"
    fi
    openssl pkcs12 -in "s-$kind/www.example.com.pfx" -passin file:pw -info -nokeys -nocerts \
        >"info-$kind.txt" 2>&1
    expect_contains "info-$kind.txt" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" \
        "--pfx $kind: written in compat format"
done

# ---- input PFX files that pair the key wrongly: what deploy --pfx writes pairs it ----------------
# Built by pfx_forge (OpenSSL's PKCS#12 API): no localKeyID, the key's id on the CA certificate, the
# leaf last, an unrelated key first. Windows would import the first two as a certificate without
# its key; ccs takes the key that matches and writes it paired, leaf first.
: "${PFX_FORGE:?PFX_FORGE must name the pfx_forge helper}"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out decoy.key
"$PFX_FORGE" --cert leaf.pem --key leaf.key --chain ca.pem --password-file inpw --out chainid.pfx \
    --key-id chain
expect_eq "$(keytool -list -v -keystore chainid.pfx -storetype PKCS12 -storepass:file inpw 2>&1 |
    awk '/^Entry type: PrivateKeyEntry/ { on = 1 } on && /SHA1:/ { print $2; exit }')" \
    "$(colon_hex "$ca_tp")" "precondition: keytool pairs the forged input's key with the CA certificate"
for layout in "none:--key-id none" "chain:--key-id chain" "last:--leaf-last" "twokeys:--extra-key decoy.key"; do
    name=${layout%%:*}
    # shellcheck disable=SC2086
    "$PFX_FORGE" --cert leaf.pem --key leaf.key --chain ca.pem --password-file inpw \
        --out "forged-$name.pfx" ${layout#*:}
    mkdir "s-forged-$name"
    run_ccs 0 "forged-$name.out" deploy --store "s-forged-$name" --pfx "forged-$name.pfx" \
        --pfx-password-file inpw --password-file pw
    expect_keytool_pairs "s-forged-$name/www.example.com.pfx" pw leaf.pem "--pfx forged ($name)"
    run_ccs 0 "forged-$name-check.out" store check --store "s-forged-$name" --password-file pw
done

# ---- --mode ----------------------------------------------------------------------------------------
mkdir s3
run_ccs 0 d4.out deploy --store s3 --cert leaf.pem --key leaf.key --chain ca.pem --password-file pw \
    --mode 0600
for f in $expected_files; do
    expect_eq "$(file_mode "s3/$f")" 600 "--mode 0600: $f"
done

# ---- --group: by name (looked up) and by number (taken as it is) ----------------------------------
if [ "$(id -u)" = 0 ] && getent group ssl-cert >/dev/null; then
    mkdir s3g s3n
    run_ccs 0 d4g.out deploy --store s3g --cert leaf.pem --key leaf.key --chain ca.pem \
        --password-file pw --group ssl-cert
    expect_eq "$(stat -c %G s3g/www.example.com.pfx)" ssl-cert "--group ssl-cert: the file's group"
    gid=$(getent group ssl-cert | cut -d: -f3)
    run_ccs 0 d4n.out deploy --store s3n --cert leaf.pem --key leaf.key --chain ca.pem \
        --password-file pw --group "$gid"
    expect_eq "$(stat -c %g s3n/www.example.com.pfx)" "$gid" "--group $gid: the file's group"
fi

# The mode is what was asked for, whatever the umask.
mkdir s5
(umask 077 && "$CCS" deploy --store s5 --cert leaf.pem --key leaf.key --chain ca.pem \
    --password-file pw >d7.out 2>&1) || fail "deploy under umask 077 failed"
expect_eq "$(file_mode s5/www.example.com.pfx)" 640 "umask 077: still mode 0640"
mkdir s6
(umask 0 && "$CCS" deploy --store s6 --cert leaf.pem --key leaf.key --chain ca.pem \
    --password-file pw >d8.out 2>&1) || fail "deploy under umask 0 failed"
expect_eq "$(file_mode s6/www.example.com.pfx)" 640 "umask 0: still mode 0640"

# ---- empty store password ------------------------------------------------------------------------------
make_password emptypw ''
mkdir s4
run_ccs_split 0 d5.out d5.err deploy --store s4 --cert leaf.pem --key leaf.key --chain ca.pem \
    --password-file emptypw
expect_contains d5.err "empty" "empty password: a warning on stderr"
expect_contains d5.err "emptypw" "empty password: the warning names the password file"
expect_not_contains d5.out "empty" "empty password: the warning is not on stdout"
expect_eq "$(store_files s4)" "$expected_files" "empty password: files written"
if openssl pkcs12 -in s4/www.example.com.pfx -passin pass: -noout 2>/dev/null; then
    ok "empty password: openssl opens the file with an empty password"
else
    fail "empty password: openssl cannot open s4/www.example.com.pfx with an empty password"
fi
expect_eq "$(pfx_thumbprint s4/www.example.com.pfx emptypw)" "$leaf_tp" "empty password: leaf inside"
[ -d nssdb ] || new_nss_db nssdb
set +e
pk12util -l s4/www.example.com.pfx -W '' -d sql:nssdb >nss-empty.out 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "empty password: pk12util opens it"
run_ccs 2 d6.out deploy --store s4 --cert leaf.pem --key leaf.key --chain ca.pem --password-file emptypw
expect_eq "$(grep -c '^ *unchanged ' d6.out || true)" 4 "empty password: ccs re-reads its own files"

finish
