#!/bin/sh
# test_smb_deploy.sh — deploy, list, lookup and check through an SMB share served by a real smbd,
# the files read back with the smbclient command (an independent client) and opened with OpenSSL;
# then every way a share can be wrong, each with its own message, exit 1, and no password shown.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smb_lib.sh"

smb_start
smb_mkdir "$SMB_RW/certs"
STORE=$SMB_URL/rw/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")

make_ca ca
make_leaf leaf ca www.example.com "DNS:www.example.com,DNS:example.com,DNS:*.example.com"
make_leaf other ca www.example.com "DNS:www.example.com,DNS:example.com,DNS:*.example.com"
make_password pw 'smb store password'

# ---- deploy, read back by smbclient, open with OpenSSL ----------------------------------------
run_ccs 0 deploy.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert leaf.pem \
    --key leaf.key --chain ca.pem --password-file pw
expect_contains deploy.out "3 written" "deploy to the share writes three names"
expect_eq "$(smb_ls rw certs | sort | tr '\n' ' ')" "_.example.com.pfx example.com.pfx www.example.com.pfx " \
    "smbclient lists exactly the three files (no temp file, no lock file left)"
tp=$(thumbprint leaf.pem)
for f in www.example.com.pfx example.com.pfx _.example.com.pfx; do
    rm -f "got-$f"
    smb_get rw "certs/$f" "got-$f" || fail "smbclient cannot fetch $f"
    expect_eq "$(pfx_thumbprint "got-$f" pw)" "$tp" "$f fetched by smbclient opens with OpenSSL"
done

run_ccs 2 again.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert leaf.pem \
    --key leaf.key --chain ca.pem --password-file pw
expect_contains again.out "0 written, 3 unchanged" "the same certificate again: unchanged, exit 2"

run_ccs 0 list.out store list --store "$STORE" --credentials-file "$SMB_CREDS" --password-file pw
expect_contains list.out "www.example.com.pfx" "store list reads the share"
expect_contains list.out "$tp" "store list shows the thumbprint"
run_ccs 0 list.json store list --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw --json
expect_json list.json "store list --json is valid JSON"
expect_not_contains list.json "$SMB_USER" "store list --json: no user name"
expect_contains list.json "$STORE" "--json names the store by its display name"
run_ccs 0 lookup.out store lookup api.example.com --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw
expect_contains lookup.out "_.example.com.pfx" "lookup over the share finds the wildcard"
run_ccs 0 check.out store check --store "$STORE" --credentials-file "$SMB_CREDS" --password-file pw
run_ccs 0 check.json store check --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw --json
expect_json check.json "store check --json is valid JSON"
expect_not_contains check.json "$PASSWORD" "store check --json: no password"
run_ccs 2 deploy.json deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert leaf.pem \
    --key leaf.key --chain ca.pem --password-file pw --json
expect_json deploy.json "deploy --json is valid JSON"
expect_contains deploy.json "$STORE" "deploy --json names the store by its display name"
run_ccs_split 0 lookup.json lookup.err store lookup api.example.com --store "$STORE" \
    --credentials-file "$SMB_CREDS" --password-file pw --json
expect_json lookup.json "store lookup --json is valid JSON"
# Credentials never in --json output: neither the password nor the user name, in any verb's.
for f in list.json check.json deploy.json lookup.json; do
    expect_not_contains "$f" "$PASSWORD" "$f: no share password"
    expect_not_contains "$f" "$SMB_USER" "$f: no share user name"
done

# The forms without a port name port 445; the URL form with the test port is what reaches this
# smbd. A replacement through the share: another certificate, --force.
run_ccs 0 replace.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert other.pem \
    --key other.key --chain ca.pem --password-file pw --force
rm -f got-www
smb_get rw certs/www.example.com.pfx got-www
expect_eq "$(pfx_thumbprint got-www pw)" "$(thumbprint other.pem)" "the replacement is what smbclient reads"

# ---- the systemd credential ---------------------------------------------------------------------
mkdir -p creddir && cp "$SMB_CREDS" creddir/ccs-smb-credentials && chmod 600 creddir/ccs-smb-credentials
run_cmd 0 systemd.out env CREDENTIALS_DIRECTORY="$T/creddir" "$CCS" store list --store "$STORE" \
    --password-file pw
expect_contains systemd.out "www.example.com.pfx" "the systemd credential ccs-smb-credentials is used"

# ---- what can be wrong, each with its message -------------------------------------------------
# expect_refusal NAME TEXT ARGS...: exit 1, TEXT in the output, no password, nothing written.
expect_refusal() {
    name=$1 text=$2
    shift 2
    run_ccs 1 "$name.out" "$@"
    expect_contains "$name.out" "$text" "$name: says \"$text\""
    expect_not_contains "$name.out" "$PASSWORD" "$name: the share password is not in the output"
    expect_not_contains "$name.out" "wrong-password-4711" "$name: the wrong password is not in the output"
}
DEPLOY_ARGS="--cert leaf.pem --key leaf.key --chain ca.pem --password-file pw"

(umask 077 && printf 'username = %s\npassword = wrong-password-4711\n' "$SMB_USER" >wrong.creds)
# shellcheck disable=SC2086
expect_refusal wrong-password "authentication failed" deploy --store "$STORE" \
    --credentials-file wrong.creds $DEPLOY_ARGS
# shellcheck disable=SC2086
expect_refusal unknown-share "share not found" deploy --store "$SMB_URL/nosuch/certs" \
    --credentials-file "$SMB_CREDS" $DEPLOY_ARGS
# shellcheck disable=SC2086
expect_refusal missing-dir "directory not found" deploy --store "$SMB_URL/rw/missing" \
    --credentials-file "$SMB_CREDS" $DEPLOY_ARGS
# shellcheck disable=SC2086
expect_refusal read-only "access denied" deploy --store "$SMB_URL/ro" \
    --credentials-file "$SMB_CREDS" $DEPLOY_ARGS
expect_eq "$(ls -A "$SMB_RO")" "" "read-only share: nothing written, no temp or lock file"
cp "$SMB_CREDS" loose.creds && chmod 644 loose.creds
# shellcheck disable=SC2086
expect_refusal loose-credentials "readable by others" deploy --store "$STORE" \
    --credentials-file loose.creds $DEPLOY_ARGS
chmod 640 loose.creds
# shellcheck disable=SC2086
expect_refusal group-credentials "readable by its group" store list --store "$STORE" \
    --credentials-file loose.creds --password-file pw
# shellcheck disable=SC2086
expect_refusal no-credentials "no credentials for the share" deploy --store "$STORE" $DEPLOY_ARGS
# shellcheck disable=SC2086
expect_refusal credentials-in-url "must not carry a user name or password" deploy \
    --store "smb://$SMB_USER:wrong-password-4711@127.0.0.1:$SMB_PORT/rw/certs" \
    --credentials-file "$SMB_CREDS" $DEPLOY_ARGS
expect_not_contains credentials-in-url.out "$SMB_USER:" "credentials-in-url: the user name is not shown"
# a port nothing listens on (smbd's port + 1 may be taken; 1 is never an SMB server here)
# shellcheck disable=SC2086
expect_refusal unreachable "server unreachable" deploy --store "smb://127.0.0.1:1/rw/certs" \
    --credentials-file "$SMB_CREDS" $DEPLOY_ARGS
# libsmbclient is loaded only when a share is opened (src/store/smb_lib.h): a library that does
# not load is named, with its package; a local store never needs it.
mkdir -p nolib local-store
: >nolib/libsmbclient.so.0
set +e
LD_LIBRARY_PATH=$(pwd)/nolib "$CCS" store list --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw >nolib.out 2>&1
got=$?
LD_LIBRARY_PATH=$(pwd)/nolib "$CCS" store list --store local-store --password-file pw \
    >nolib-local.out 2>&1
got_local=$?
set -e
expect_eq "$got" 1 "libsmbclient that does not load: store list on a share exits 1"
expect_contains nolib.out "SMB stores need libsmbclient.so.0 (Debian package libsmbclient)" \
    "libsmbclient that does not load: the message names the library and its package"
expect_contains nolib.out "$STORE" "libsmbclient that does not load: the message names the store"
expect_eq "$got_local" 0 "libsmbclient that does not load: a local store still works"
expect_refusal share-option-local "are for SMB shares" store list --store "$T" \
    --credentials-file "$SMB_CREDS" --password-file pw
# the previous good state survived every refusal
rm -f got-www
smb_get rw certs/www.example.com.pfx got-www
expect_eq "$(pfx_thumbprint got-www pw)" "$(thumbprint other.pem)" "after the refusals the share still holds the good file"

# ---- encryption -----------------------------------------------------------------------------
# shellcheck disable=SC2086
run_ccs 2 encrypted.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --encrypt \
    --cert other.pem --key other.key --chain ca.pem --password-file pw
expect_contains encrypted.out "unchanged" "--encrypt against a server that encrypts: works"
first_dir=$SMB_DIR
first_rw=$SMB_RW
SMB_SERVER_ENCRYPT=off smb_start plain
smb_mkdir "$SMB_RW/certs"
# shellcheck disable=SC2086
expect_refusal no-encryption "cannot encrypt" deploy --store "$SMB_URL/rw/certs" \
    --credentials-file "$SMB_CREDS" --encrypt $DEPLOY_ARGS
expect_eq "$(ls -A "$SMB_RW/certs")" "" "refused encryption: nothing written"
# without --encrypt the same server is used (signed, not encrypted)
# shellcheck disable=SC2086
run_ccs 0 unencrypted.out deploy --store "$SMB_URL/rw/certs" --credentials-file "$SMB_CREDS" \
    $DEPLOY_ARGS
# libsmbclient tells such a server's every connection "Encryption required and server doesn't
# support SMB3 encryption - failing connect" (and carries on) with Samba's d_printf, on stdout
# unless told otherwise (src/store/smb_lib.c): --json output must stay JSON, stdout alone.
for verb in list check; do
    set +e
    "$CCS" store $verb --store "$SMB_URL/rw/certs" --credentials-file "$SMB_CREDS" \
        --password-file pw --json >plain-$verb.json 2>plain-$verb.err
    got=$?
    set -e
    expect_eq "$got" 0 "store $verb --json against a server that cannot encrypt: exit 0"
    if python3 -m json.tool plain-$verb.json >/dev/null 2>&1; then
        ok "store $verb --json against a server that cannot encrypt: stdout alone is JSON"
    else
        fail "store $verb --json against a server that cannot encrypt: stdout is not JSON:"
        sed 's/^/    /' plain-$verb.json >&2
    fi
done
expect_contains plain-list.json "www.example.com.pfx" "that store list --json lists the deployed files"
[ -n "$first_dir$first_rw" ]

finish
