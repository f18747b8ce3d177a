#!/bin/sh
# test_smb_serve.sh — an SMB share named in a [store] section of ccs.conf, with its credentials
# file given there (credentials-file =), is read by `ccs serve --check` and served by a running
# `ccs serve`; a redeploy to the share reaches the next handshakes through the change feed (SMB2
# CHANGE_NOTIFY) with no restart, a removal stops the name being served; neither the password nor
# the user name appears in the server's log, its /metrics or serve --check's output; a [store]
# whose credentials file others may read is refused, saying why (issue 10: locations everywhere a
# store is named, credentials never in logs); a reload that changes the [store]'s connection options
# says they wait for a restart. A real smbd (tests/e2e/smb_server.sh).
E2E=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034 # smb_lib.sh finds smb_server.sh through HERE
HERE=$E2E
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"
. "$E2E/smb_lib.sh"

# How long a redeploy may take to be served: CHANGE_NOTIFY answers within milliseconds on
# loopback; the bound leaves room for a loaded machine and a sanitizer build.
CHANGE_SERVED_MS=5000

smb_start
# smb_start's trap replaced acme_lib.sh's: both clean up (ccs serve, its ports; smbd)
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; smb_stop_all; acme_cleanup $rc' EXIT
smb_mkdir "$SMB_RW/certs"
STORE=$SMB_URL/rw/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")
unset CREDENTIALS_DIRECTORY # nothing from the environment stands in for the [store] key

make_ca ca
make_leaf v1 ca s.example.com "DNS:s.example.com,DNS:t.example.com"
make_leaf v2 ca s.example.com "DNS:s.example.com,DNS:t.example.com"
make_password pw 'smb serve store password'
run_ccs 0 deploy-v1.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert v1.pem \
    --key v1.key --chain ca.pem --password-file pw

write_conf() { # write_conf FILE CREDENTIALS_FILE
    {
        printf '[store "share"]\nlocation = %s\npassword-file = %s/pw\n' "$STORE" "$T"
        printf 'credentials-file = %s\n' "$2"
        printf '\n[serve]\nlisten = 127.0.0.1:%s\nstore = share\nbackend = 127.0.0.1:9\n' "${SERVE_PORT:-9}"
        printf 'admin = 127.0.0.1:%s\nworkers = 1\nhosts = s.example.com, t.example.com\n' "${ADMIN_PORT:-9}"
    } >"$1"
}

# ---- serve --check through the [store] section ------------------------------------------------
write_conf check.conf "$SMB_CREDS"
run_ccs 0 check.out serve --check --config check.conf
expect_contains check.out "all 2 hosts get a valid certificate" \
    "credentials-file = in [store]: serve --check reads both files from the share"
expect_not_contains check.out "$PASSWORD" "serve --check: no password in the output"
cp "$SMB_CREDS" loose.creds
chmod 644 loose.creds
write_conf loose.conf "$T/loose.creds"
run_ccs 1 loose.out serve --check --config loose.conf
expect_contains loose.out "readable by others" "a [store] credentials file others may read: refused, saying why"
expect_not_contains loose.out "$PASSWORD" "the loose credentials file: its password is not shown"

# ---- a running ccs serve on the share ---------------------------------------------------------
acme__reserve_port SERVE_PORT
acme__reserve_port ADMIN_PORT
serve__write_conf() { write_conf "$T/ccs.conf" "$SMB_CREDS"; }
serve__write_conf
serve_start
expect_eq "$(served s.example.com)" "$(thumbprint v1.pem)" "ccs serve serves s.example.com from the share"
expect_eq "$(served t.example.com)" "$(thumbprint v1.pem)" "ccs serve serves t.example.com from the share"

# A redeploy through the share (another process, another SMB session): served without a restart.
pid=$SERVE_PID
run_ccs 0 deploy-v2.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert v2.pem \
    --key v2.key --chain ca.pem --password-file pw --force
ms=$(wait_served s.example.com "$(thumbprint v2.pem)" $CHANGE_SERVED_MS)
echo "a redeploy to the share was served after $ms ms"
[ "$ms" != never ] && ok "the redeploy to the share is served within $CHANGE_SERVED_MS ms ($ms ms), no restart" ||
    fail "the redeploy to the share was not served within $CHANGE_SERVED_MS ms"
expect_eq "$SERVE_PID" "$pid" "the same ccs serve process throughout"
kill -0 "$pid" 2>/dev/null && ok "ccs serve still runs" || fail "ccs serve died"

# A removal on the share (by the smbclient command, an independent client): no longer served.
smb_client rw -c 'del certs/t.example.com.pfx' >del.out 2>&1 || fail "smbclient cannot remove t.example.com.pfx"
tp_v2=$(thumbprint v2.pem)
start=$(now_ms)
while got=$(served t.example.com) && [ "$got" = "$tp_v2" ] && [ $(($(now_ms) - start)) -le $CHANGE_SERVED_MS ]; do
    sleep 0.02
done
case $got in
"alert "* | failed) ok "a name removed from the share is no longer served ($got after $(($(now_ms) - start)) ms)" ;;
*) fail "t.example.com is still served $got $CHANGE_SERVED_MS ms after its file was removed" ;;
esac

curl -s -m 5 "http://127.0.0.1:$ADMIN_PORT/metrics" >metrics.txt || fail "no /metrics"
expect_contains metrics.txt "s.example.com.pfx" "/metrics names the served file"
for f in metrics.txt "$SERVE_LOG"; do
    expect_not_contains "$f" "$PASSWORD" "$(basename "$f"): no share password"
    expect_not_contains "$f" "username" "$(basename "$f"): nothing of the credentials file"
done
# the user name, as a word: it is also the name of the server's files' owner, never printed by ccs
if grep -qw -- "$SMB_USER" "$SERVE_LOG" metrics.txt; then
    fail "the share's user name $SMB_USER appears in the server's log or /metrics"
else
    ok "the share's user name appears in neither the server's log nor /metrics"
fi

# A reload that changes how the store is opened (here its credentials file: another file, the same
# account) cannot reopen the store under the running server: the log says the change waits for a
# restart, and the server goes on serving from the share it has open.
cp "$SMB_CREDS" other.creds
chmod 600 other.creds
# reload_count, restart_warnings: lines of the log saying so
reload_count() { grep -c 'ccs.conf reloaded' "$SERVE_LOG" || true; }
restart_warnings() { grep -c 'connection options) changed: takes effect at the next restart' "$SERVE_LOG" || true; }
# sighup_and_wait N: send SIGHUP, wait until the log says reloaded N times
sighup_and_wait() {
    kill -HUP "$SERVE_PID"
    i=0
    until [ "$(reload_count)" -ge "$1" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
}
serve__write_conf() { write_conf "$T/ccs.conf" "$T/other.creds"; }
serve__write_conf
sighup_and_wait 1
expect_contains "$SERVE_LOG" "store (its location, password file or connection options) changed: takes effect at the next restart" \
    "SIGHUP with another credentials-file: the log says it takes effect at the next restart"
expect_eq "$(served s.example.com)" "$tp_v2" "after that reload: still served from the share"
# reloads compare with what runs, not with the last reload: the same file again still waits for a
# restart; going back to the file the server started with does not
sighup_and_wait 2
expect_eq "$(restart_warnings)" 2 "SIGHUP with the same other credentials-file again: still says it waits for a restart"
serve__write_conf() { write_conf "$T/ccs.conf" "$SMB_CREDS"; }
serve__write_conf
sighup_and_wait 3
expect_eq "$(reload_count)" 3 "SIGHUP back to the credentials file it started with: reloaded"
expect_eq "$(restart_warnings)" 2 "... and no restart warning (the configuration is what runs)"

serve_finish
