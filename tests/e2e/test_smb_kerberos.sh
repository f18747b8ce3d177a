#!/bin/sh
# test_smb_kerberos.sh — a store on an SMB share reached with Kerberos (issue 10: `--kerberos`,
# `kerberos = yes` in a [store] section; the running user's credential cache), against a real
# Samba AD domain controller with its own KDC, provisioned in a temp directory for this run
# (tests/e2e/krb_dc.sh; loopback, high ports):
#   - kinit of a domain user into a private credential cache (KRB5CCNAME), no credentials file;
#   - deploy, store list, lookup and check through the share with --kerberos; the files belong to
#     the domain user's uid on the server (the ticket's user wrote them) and a service ticket for
#     cifs/HOST is in the cache afterwards (Kerberos was used, not anything else);
#   - the deployed file read back with `smbclient --use-kerberos=required` (an independent client)
#     and opened with OpenSSL;
#   - `kerberos = yes` in a [store] section: `ccs serve --check` reads the share with it, and a
#     running `ccs serve` serves from it, a redeploy reaching new handshakes with no restart;
#   - without a usable ticket (none, an empty or missing cache, an expired one) and with the server
#     named by address: "authentication failed" naming the store, exit 1, the share unchanged;
#   - the user's password in no output.
# Root only: the DC's file server serves the user's files as the user's uid. As another user the
# test says so and exits 77 (CTest: skipped); as root it never skips.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034 # serve_lib.sh finds tests/e2e/serve through E2E
E2E=$HERE
. "$HERE/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: e2e.smb_kerberos needs root: it runs a Samba AD domain controller (samba, with" \
        "its KDC), whose file server serves the domain user's files as that user's uid. Nothing" \
        "of ccs's Kerberos path was tested; run it as root (scripts/test does)."
    exit 77
fi
started=$(date +%s)

. "$HERE/acme_lib.sh" # its port reservation and process tracking, for ccs serve (no CA starts)
. "$HERE/serve_lib.sh"
DC=$(mktemp -d /tmp/ccs-krbdc.XXXXXX)
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; sh "$HERE/krb_dc.sh" stop "$DC"; rm -rf "$DC"; acme_cleanup $rc; exit $rc' EXIT
# if this shell is killed before its trap can run, the watcher stops the DC
setsid sh "$HERE/krb_dc.sh" watch "$DC" $$ </dev/null >/dev/null 2>&1 &
if ! sh "$HERE/krb_dc.sh" start "$DC" >dc.env 2>dc.err; then
    fail "the Samba AD DC did not start:"
    sed 's/^/    /' dc.err >&2
    finish
    exit 1
fi
. "$DC/env"
echo "AD DC: realm $KRB_REALM, host $KRB_HOST, SMB port $KRB_SMB_PORT, KDC port $KRB_KDC_PORT" \
    "($(($(date +%s) - started)) s to provision and start)"
export KRB5_CONFIG="$KRB_CONFIG_FILE"
export KRB5CCNAME="FILE:$T/ccache"
PASSWORD=$(cat "$KRB_PASSWORD_FILE")
STORE=smb://$KRB_HOST:$KRB_SMB_PORT/certs/certs
SHARE_DIR=$KRB_SHARE/certs
mkdir "$SHARE_DIR"
chown "$KRB_UID:$KRB_UID" "$SHARE_DIR"
chmod 0700 "$SHARE_DIR"

# get_ticket [KINIT OPTIONS]: kinit the domain user, the password from its 0600 file on stdin
# (setsid: no terminal, so kinit reads stdin)
get_ticket() {
    setsid -w kinit "$@" "$KRB_USER@$KRB_REALM" <"$KRB_PASSWORD_FILE" >kinit.out 2>&1
}
# smb_get PATH LOCAL: PATH on share "certs" fetched by smbclient with Kerberos only
smb_get() {
    smbclient -N -s "$KRB_CLIENT_CONF" -p "$KRB_SMB_PORT" --use-kerberos=required \
        "//$KRB_HOST/certs" -c "get \"$1\" \"$2\"" </dev/null >smbclient.out 2>&1
}

make_ca ca
make_leaf leaf ca www.example.com "DNS:www.example.com,DNS:example.com"
make_leaf other ca www.example.com "DNS:www.example.com,DNS:example.com"
make_password pw 'kerberos store password'
DEPLOY_OTHER="--cert other.pem --key other.key --chain ca.pem --password-file pw --force"

if get_ticket; then ok "kinit $KRB_USER@$KRB_REALM into a private credential cache"; else
    fail "kinit failed:"
    sed 's/^/    /' kinit.out >&2
fi
klist >klist-before.out 2>&1 || true
expect_not_contains klist-before.out "cifs/" "before ccs runs the cache holds no service ticket"

# ---- deploy, list, lookup, check with --kerberos --------------------------------------------------
run_ccs 0 deploy.out deploy --store "$STORE" --kerberos --cert leaf.pem --key leaf.key \
    --chain ca.pem --password-file pw
expect_contains deploy.out "2 written" "deploy with --kerberos (no credentials file) writes two names"
klist >klist-after.out 2>&1 || true
expect_contains klist-after.out "cifs/$KRB_HOST@$KRB_REALM" \
    "ccs got a service ticket for cifs/$KRB_HOST: it authenticated with Kerberos"
expect_eq "$(store_files "$SHARE_DIR" | tr '\n' ' ')" "example.com.pfx www.example.com.pfx " \
    "the share holds exactly the two files (no temp or lock file left)"
expect_eq "$(stat -c %u "$SHARE_DIR/www.example.com.pfx")" "$KRB_UID" \
    "the file belongs to the domain user's uid on the server: written as the ticket's user"
tp=$(thumbprint leaf.pem)

run_ccs 0 list.out store list --store "$STORE" --kerberos --password-file pw
expect_contains list.out "www.example.com.pfx" "store list --kerberos reads the share"
expect_contains list.out "$tp" "store list --kerberos shows the thumbprint"
run_ccs 0 lookup.out store lookup example.com --store "$STORE" --kerberos --password-file pw
expect_contains lookup.out "example.com.pfx" "store lookup --kerberos finds the name"
run_ccs 0 check.out store check --store "$STORE" --kerberos --password-file pw
expect_contains check.out "0 errors" "store check --kerberos: no errors"
run_ccs 0 check.json store check --store "$STORE" --kerberos --password-file pw --json
expect_json check.json "store check --kerberos --json is valid JSON"
# the UNC form names port 445: the URL form with the test port is what reaches this DC

# ---- read back with smbclient (Kerberos only) and OpenSSL ----------------------------------------
for f in www.example.com.pfx example.com.pfx; do
    rm -f "got-$f"
    if smb_get "certs/$f" "got-$f"; then
        expect_eq "$(pfx_thumbprint "got-$f" pw)" "$tp" \
            "$f fetched by smbclient --use-kerberos=required opens with OpenSSL"
    else
        fail "smbclient --use-kerberos=required cannot fetch $f:"
        sed 's/^/    /' smbclient.out >&2
    fi
done

# ---- kerberos = yes in a [store] section --------------------------------------------------------
# write_conf FILE [STORE LINE...]: a [store] on the share and a [serve] that --check reads it for
write_conf() {
    f=$1
    shift
    {
        printf '[store "share"]\nlocation = %s\npassword-file = %s/pw\n' "$STORE" "$T"
        for l in "$@"; do printf '%s\n' "$l"; done
        printf '\n[serve]\nlisten = 127.0.0.1:%s\nstore = share\nbackend = 127.0.0.1:9\n' "${SERVE_PORT:-9}"
        printf 'admin = 127.0.0.1:%s\nworkers = 1\nhosts = www.example.com, example.com\n' "${ADMIN_PORT:-9}"
    } >"$f"
}
write_conf kerberos.conf "kerberos = yes"
run_ccs 0 conf-kerberos.out serve --check --config kerberos.conf
expect_contains conf-kerberos.out "all 2 hosts get a valid certificate" \
    "kerberos = yes in [store]: serve --check reads both files from the share"
write_conf nokerberos.conf
run_ccs 1 conf-nokerberos.out serve --check --config nokerberos.conf
expect_contains conf-nokerberos.out "no credentials for the share" \
    "[store] without kerberos = yes (and no credentials file): refused, saying so"

# A running ccs serve on the share with kerberos = yes (the ticket in KRB5CCNAME): it serves the
# file, and a redeploy by another process (another Kerberos session) is served with no restart
# (the change feed on the share); then the first certificate goes back for what follows.
acme__reserve_port SERVE_PORT
acme__reserve_port ADMIN_PORT
serve__write_conf() { write_conf "$T/ccs.conf" "kerberos = yes"; }
serve__write_conf
serve_start
expect_eq "$(served www.example.com)" "$tp" "ccs serve with kerberos = yes serves www.example.com from the share"
for cert in other leaf; do
    run_ccs 0 "serve-redeploy-$cert.out" deploy --store "$STORE" --kerberos --cert "$cert.pem" \
        --key "$cert.key" --chain ca.pem --password-file pw --force
    ms=$(wait_served www.example.com "$(thumbprint "$cert.pem")" 10000)
    [ "$ms" != never ] && ok "ccs serve (Kerberos): the redeploy of $cert is served after $ms ms, no restart" ||
        fail "ccs serve (Kerberos): the redeploy of $cert was not served within 10 s"
done
expect_not_contains "$SERVE_LOG" "$PASSWORD" "ccs serve (Kerberos): the user's password is not in its log"
serve_stop

# ---- without a usable ticket --------------------------------------------------------------------
snapshot "$SHARE_DIR" >good.snap
# expect_auth_refused NAME WHAT ARGS...: exit 1, "authentication failed", the store named, no
# password, the share unchanged.
expect_auth_refused() {
    name=$1 what=$2
    shift 2
    run_ccs 1 "$name.out" "$@"
    expect_contains "$name.out" "authentication failed" "$what: says \"authentication failed\""
    expect_contains "$name.out" "store $STORE" "$what: names the store"
    expect_only_ccs_lines "$name.out" "$what: only ccs's own messages (libsmbclient's log is not printed)"
    expect_snapshot_unchanged good.snap "$SHARE_DIR" "$what: the share is unchanged"
}
STORE_BY_ADDRESS=smb://127.0.0.1:$KRB_SMB_PORT/certs/certs
# shellcheck disable=SC2086
run_ccs 1 by-address.out deploy --store "$STORE_BY_ADDRESS" --kerberos $DEPLOY_OTHER
expect_contains by-address.out "store $STORE_BY_ADDRESS: authentication failed" \
    "the server named by address: authentication failed, naming the store"
expect_contains by-address.out "not by the address 127.0.0.1" \
    "the server named by address: says Kerberos needs the server's host name"
expect_snapshot_unchanged good.snap "$SHARE_DIR" "the server named by address: the share is unchanged"

kdestroy >/dev/null 2>&1 || true
[ ! -e "$T/ccache" ] || fail "kdestroy left the credential cache"
# shellcheck disable=SC2086
expect_auth_refused no-ticket "no ticket (kdestroy)" deploy --store "$STORE" --kerberos $DEPLOY_OTHER
expect_contains no-ticket.out "kinit" "no ticket: says to kinit"
: >"$T/empty.ccache"
set +e
KRB5CCNAME=FILE:$T/empty.ccache "$CCS" store list --store "$STORE" --kerberos --password-file pw \
    >empty-cache.out 2>&1
got=$?
set -e
expect_eq "$got" 1 "an empty credential cache: store list exits 1"
expect_contains empty-cache.out "authentication failed" "an empty credential cache: authentication failed"
expect_contains empty-cache.out "store $STORE" "an empty credential cache: names the store"
run_ccs 1 conf-no-ticket.out serve --check --config kerberos.conf
expect_contains conf-no-ticket.out "authentication failed" \
    "kerberos = yes in [store] without a ticket: serve --check says authentication failed"

# an expired ticket: two seconds of life, then three of waiting
if get_ticket -l 2s; then
    sleep 3
    # shellcheck disable=SC2086
    expect_auth_refused expired "an expired ticket" deploy --store "$STORE" --kerberos $DEPLOY_OTHER
    expect_contains expired.out "kinit" "an expired ticket: says to kinit"
else
    fail "kinit -l 2s failed:"
    sed 's/^/    /' kinit.out >&2
fi

# ---- a new ticket: works again; the good file is still what smbclient reads ----------------------
get_ticket || fail "kinit (again) failed"
run_ccs 2 again.out deploy --store "$STORE" --kerberos --cert leaf.pem --key leaf.key \
    --chain ca.pem --password-file pw
expect_contains again.out "0 written, 2 unchanged" "with a new ticket: the same certificate, unchanged"
rm -f got-again.pfx
smb_get certs/www.example.com.pfx got-again.pfx || fail "smbclient cannot fetch the file after the refusals"
expect_eq "$(pfx_thumbprint got-again.pfx pw)" "$tp" "after the refusals the share still holds the good file"

# ---- the password, nowhere ----------------------------------------------------------------------
leaked=$(grep -lF -- "$PASSWORD" ./*.out ./*.json 2>/dev/null || true)
expect_eq "$leaked" "" "the domain user's password is in no output"

echo "test_smb_kerberos.sh: $(($(date +%s) - started)) s in all"
serve_finish
