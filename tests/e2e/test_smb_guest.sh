#!/bin/sh
# test_smb_guest.sh — guest access to an SMB share only when the store says so (issue 10), against
# a real smbd with a guest share ("guest ok", "guest only", served as the test user, the guest
# account) and "map to guest = bad user" (then a second one with "bad password"):
#   - `--guest` (command line) and `guest = yes` ([store] section: `ccs serve --check` and a
#     running `ccs serve`) deploy, list, look up and serve through the guest share;
#   - without it and without a credentials file: refused, saying so, nothing written (no silent
#     anonymous fallback);
#   - a credentials file the server would map to guest (unknown user under "bad user", wrong
#     password under "bad password") is refused as "authentication failed", never used as a guest
#     session: ccs requires signing, which a guest session cannot do;
#   - guest together with a credentials file, Kerberos or encryption is refused (it would silently
#     drop them);
#   - every refusal: exit 1, the store named, no password in the output, the share unchanged.
E2E=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034 # smb_lib.sh finds smb_server.sh through HERE
HERE=$E2E
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"
. "$E2E/smb_lib.sh"

SMB_SERVER_GUEST="bad user" smb_start guest
# smb_start's trap replaced acme_lib.sh's: both clean up (ccs serve, its ports; smbd)
trap 'rc=$?; smb_stop_all; acme_cleanup $rc' EXIT
smb_mkdir "$SMB_GUEST/certs"
GSTORE=$SMB_URL/guest/certs
GDIR=$SMB_GUEST/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")

make_ca ca
make_leaf leaf ca g.example.com "DNS:g.example.com,DNS:h.example.com"
make_leaf other ca g.example.com "DNS:g.example.com,DNS:h.example.com"
make_password pw 'smb guest store password'
tp=$(thumbprint leaf.pem)
DEPLOY_OTHER="--cert other.pem --key other.key --chain ca.pem --password-file pw --force"

# Nothing from the environment stands in for the options under test.
unset CREDENTIALS_DIRECTORY

# ---- --guest on the command line ----------------------------------------------------------------
run_ccs 0 deploy.out deploy --store "$GSTORE" --guest --cert leaf.pem --key leaf.key --chain ca.pem \
    --password-file pw
expect_contains deploy.out "2 written" "--guest: deploy to the guest share writes both names"
for f in g.example.com.pfx h.example.com.pfx; do
    rm -f "got-$f"
    smb_get guest "certs/$f" "got-$f" || fail "smbclient cannot fetch $f"
    expect_eq "$(pfx_thumbprint "got-$f" pw)" "$tp" "--guest: $f fetched by smbclient opens with OpenSSL"
done
expect_eq "$(ls -A "$GDIR" | sort | tr '\n' ' ')" "g.example.com.pfx h.example.com.pfx " \
    "--guest: no temp or lock file left"
run_ccs 0 list.out store list --store "$GSTORE" --guest --password-file pw
expect_contains list.out "$tp" "--guest: store list reads the share"
run_ccs 0 lookup.out store lookup h.example.com --store "$GSTORE" --guest --password-file pw
expect_contains lookup.out "h.example.com.pfx" "--guest: store lookup finds the file"
run_ccs 0 check.out store check --store "$GSTORE" --guest --password-file pw
snapshot "$GDIR" >good.snap

# ---- refusals: exit 1, TEXT said, the store named, no password shown, the share unchanged -------
expect_refusal() {
    name=$1 text=$2
    shift 2
    run_ccs 1 "$name.out" "$@"
    expect_contains "$name.out" "$text" "$name: says \"$text\""
    expect_contains "$name.out" "$SMB_URL/" "$name: names the store"
    expect_not_contains "$name.out" "$PASSWORD" "$name: the share password is not in the output"
    expect_not_contains "$name.out" "wrong-password-4711" "$name: the wrong password is not in the output"
    expect_only_ccs_lines "$name.out" "$name: only ccs's own messages (libsmbclient's log is not printed)"
    snapshot "$GDIR" >"$name.snap"
    if cmp -s good.snap "$name.snap"; then ok "$name: the share is unchanged"; else
        fail "$name: the share changed:"
        diff good.snap "$name.snap" | sed 's/^/    /' >&2
    fi
}

# Without --guest and without credentials: no anonymous fallback, although the share would take it.
# shellcheck disable=SC2086
expect_refusal no-guest "no credentials for the share" deploy --store "$GSTORE" $DEPLOY_OTHER
expect_refusal no-guest-list "no credentials for the share" store list --store "$GSTORE" \
    --password-file pw

# "map to guest = bad user": an unknown user gets a guest session from this server. ccs must not
# take it (it would be unsigned, and not the account the credentials file names).
(umask 077 && printf 'username = nosuchuser4711\npassword = wrong-password-4711\n' >unknown.creds)
# shellcheck disable=SC2086
expect_refusal bad-user-mapped "authentication failed" deploy --store "$GSTORE" \
    --credentials-file unknown.creds $DEPLOY_OTHER
# the server's side of it: smbclient with the same file, signing not required, is let in as guest
if smbclient -s "$SMB_DIR/smb.conf" -p "$SMB_PORT" -A unknown.creds -m SMB3 \
    --client-protection=off "//127.0.0.1/guest" -c ls >smbclient-guest.out 2>&1; then
    ok "the server does map the unknown user to guest (smbclient without signing gets in)"
else
    fail "smbclient without signing was not let in as guest: the scenario did not happen:"
    sed 's/^/    /' smbclient-guest.out >&2
fi
# libsmbclient's own log of that refusal (its signature check failing) is not printed, but
# CCS_DEBUG=1 shows it, as ccs's debug lines, for a bug report.
set +e
# shellcheck disable=SC2086
CCS_DEBUG=1 "$CCS" deploy --store "$GSTORE" --credentials-file unknown.creds $DEPLOY_OTHER \
    >bad-user-debug.out 2>&1
got=$?
set -e
expect_eq "$got" 1 "CCS_DEBUG=1: the same refusal (exit 1)"
expect_contains bad-user-debug.out "ccs: debug: libsmbclient (level 0): Bad SMB2" \
    "CCS_DEBUG=1: libsmbclient's log is shown as ccs's debug lines"
expect_only_ccs_lines bad-user-debug.out "CCS_DEBUG=1: every line is ccs's"
expect_not_contains bad-user-debug.out "wrong-password-4711" "CCS_DEBUG=1: the password is not in the debug lines"

# Guest with anything that it would silently drop.
# shellcheck disable=SC2086
expect_refusal guest-and-credentials "guest access takes no credentials" deploy --store "$GSTORE" \
    --guest --credentials-file "$SMB_CREDS" $DEPLOY_OTHER
# shellcheck disable=SC2086
expect_refusal guest-and-kerberos "guest access takes no credentials" deploy --store "$GSTORE" \
    --guest --kerberos $DEPLOY_OTHER
# shellcheck disable=SC2086
expect_refusal guest-and-encrypt "guest access cannot be encrypted" deploy --store "$GSTORE" \
    --guest --encrypt $DEPLOY_OTHER

# A share that does not allow guests: --guest is refused by the server, said as such.
smb_mkdir "$SMB_RW/certs"
# shellcheck disable=SC2086
expect_refusal guest-on-rw "access denied" deploy --store "$SMB_URL/rw/certs" --guest $DEPLOY_OTHER
expect_eq "$(ls -A "$SMB_RW/certs")" "" "guest-on-rw: nothing written to the share that refuses guests"

# The credentials file of a real user still works on the guest share (a signed session of that
# user; the share's "guest only" picks the account files are written as).
run_ccs 0 creds-on-guest.out store list --store "$GSTORE" --credentials-file "$SMB_CREDS" \
    --password-file pw
expect_contains creds-on-guest.out "$tp" "a real user's credentials file lists the guest share"

# ---- guest = yes in a [store] section -----------------------------------------------------------
write_conf() { # write_conf FILE [STORE LINE...]
    f=$1
    shift
    {
        printf '[store "share"]\nlocation = %s\npassword-file = %s/pw\n' "$GSTORE" "$T"
        for l in "$@"; do printf '%s\n' "$l"; done
        printf '\n[serve]\nlisten = 127.0.0.1:%s\nstore = share\nbackend = 127.0.0.1:9\n' "${SERVE_PORT:-9}"
        printf 'admin = 127.0.0.1:%s\nworkers = 1\nhosts = g.example.com, h.example.com\n' "${ADMIN_PORT:-9}"
    } >"$f"
}
write_conf guest.conf "guest = yes"
run_ccs 0 conf-guest.out serve --check --config guest.conf
expect_contains conf-guest.out "all 2 hosts get a valid certificate" \
    "guest = yes in [store]: serve --check reads both files from the share"
write_conf noguest.conf
run_ccs 1 conf-noguest.out serve --check --config noguest.conf
expect_contains conf-noguest.out "no credentials for the share" \
    "[store] without guest = yes or credentials: refused, saying so"
write_conf guestenc.conf "guest = yes" "encrypt = yes"
run_ccs 1 conf-guestenc.out serve --check --config guestenc.conf
expect_contains conf-guestenc.out "guest = yes cannot be encrypted" \
    "[store] with guest = yes and encrypt = yes: serve --check refuses it, saying so"
run_ccs 1 check-guestenc.out config check --config guestenc.conf
expect_contains check-guestenc.out "guestenc.conf:5: [store \"share\"]: guest = yes cannot be encrypted" \
    "ccs config check: guest = yes with encrypt = yes is an error on the encrypt line"
run_ccs 0 check-guest.out config check --config guest.conf

# A running ccs serve on that [store]: what openssl s_client is served comes from the share.
acme__reserve_port SERVE_PORT
acme__reserve_port ADMIN_PORT
serve__write_conf() { write_conf "$T/ccs.conf" "guest = yes"; }
serve__write_conf
serve_start
expect_eq "$(served h.example.com)" "$tp" "ccs serve with guest = yes serves h.example.com from the guest share"
# SIGTERM stops it, change-notification helper and all (the helper once inherited serve's blocked
# SIGTERM, and serve waited for it for ever). 10 s is far beyond a normal stop (milliseconds).
kill -TERM "$SERVE_PID"
i=0
while kill -0 "$SERVE_PID" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$SERVE_PID" 2>/dev/null; then
    fail "ccs serve on an SMB store did not stop within 10 s of SIGTERM:"
    ps -o pid,ppid,stat,wchan:20,args --ppid "$SERVE_PID" >&2 || true
else
    ok "ccs serve on an SMB store stops on SIGTERM"
fi
expect_contains "$SERVE_LOG" "ccs: stopped" "ccs serve says it stopped"
serve_stop

# ---- "map to guest = bad password": a wrong password of a real user is not taken as guest -------
SMB_SERVER_GUEST="bad password" smb_start badpassword
trap 'rc=$?; smb_stop_all; acme_cleanup $rc' EXIT
smb_mkdir "$SMB_GUEST/certs"
GSTORE=$SMB_URL/guest/certs
GDIR=$SMB_GUEST/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")
snapshot "$GDIR" >good.snap
(umask 077 && printf 'username = %s\npassword = wrong-password-4711\n' "$SMB_USER" >wrongpw.creds)
# shellcheck disable=SC2086
expect_refusal bad-password-mapped "authentication failed" deploy --store "$GSTORE" \
    --credentials-file wrongpw.creds $DEPLOY_OTHER
if smbclient -s "$SMB_DIR/smb.conf" -p "$SMB_PORT" -A wrongpw.creds -m SMB3 \
    --client-protection=off "//127.0.0.1/guest" -c ls >smbclient-badpw.out 2>&1; then
    ok "the server does map the wrong password to guest (smbclient without signing gets in)"
else
    fail "smbclient without signing was not let in as guest: the scenario did not happen:"
    sed 's/^/    /' smbclient-badpw.out >&2
fi
# shellcheck disable=SC2086
run_ccs 0 badpw-guest.out deploy --store "$GSTORE" --guest $DEPLOY_OTHER
expect_contains badpw-guest.out "2 written" "--guest on that server still works"

serve_finish
