#!/bin/sh
# test_renew_bad_input.sh — `ccs renew` refuses bad input cleanly, after a good first run (so there
# are previous certificates, store files, a machine copy and a database to lose): a broken
# configuration (a line without '=', an unknown key, an unknown section, a missing store password
# file, a missing hook program), an unreachable CA, a store that cannot be written, an unknown
# certificate name. Each one gives an error naming the file and line (or the URL, the file, the
# name) and exits 1; the store, the certificates under state/certs, the machine copy and the
# database's certificates table are as they were (the unwritable store: as they were, apart from
# the renewal itself).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/messages_lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup

cat >notify.sh <<'SH'
#!/bin/sh
echo "$CCS_CERT_NAME $CCS_TASK $CCS_RESULT" >>"$(dirname "$0")/notify.log"
SH
chmod 0755 notify.sh

cat >certs.conf <<CONF

[certificate "www"]
domains = www.example.test, shop.example.test
challenge = http-01
deployment = store-only

[task "www.ccs"]
type = deploy-ccs
store = main
fatal = yes

[task "www.notify"]
type = script
program = $T/notify.sh
trigger = any

[certificate "wild"]
domains = *.wild.example.test
challenge = dns-01
hook = $ACME_HOOK

[task "wild.ccs"]
type = deploy-ccs
store = main
CONF
write_config good.conf certs.conf
run_ccs 0 check.out config check --config "$T/good.conf"

# ---- the good first run -----------------------------------------------------------------------------
run_ccs 0 r1.out renew --config "$T/good.conf"
expect_contains r1.out "2 renewed, 0 failed" "first run: both certificates issued"
for f in www.example.test.pfx shop.example.test.pfx _.wild.example.test.pfx; do
    [ -s "store/$f" ] && ok "store has $f" || fail "store lacks $f"
done
[ -s live/www/cert.pem ] && ok "machine copy written" || fail "no machine copy live/www/cert.pem"

# state_snapshot FILE — everything a failed run must leave alone: the store, the certificates under
# state/certs (files, symlinks, modes, hashes), the machine copy, and the database's certificates
# table (read-only) and history counts.
state_snapshot() {
    {
        echo "== store"
        snapshot "$T/store"
        echo "== state/certs"
        snapshot "$T/state/certs"
        (cd "$T/state/certs" && find . -type l -printf '%p -> %l\n' | sort)
        echo "== live"
        snapshot "$T/live"
        echo "== certificates"
        db_query "select * from certificates order by name"
        echo "== history"
        db_query "select count(*) from renewals"
        db_query "select count(*) from task_runs"
    } >"$1"
}
state_snapshot before.snap

# files_snapshot FILE — the files of state_snapshot, without the database.
files_snapshot() {
    sed '/^== certificates$/,$d' "$1"
}

# expect_files_unchanged WHAT — the store, certificates and machine copy as in before.snap (the
# database may have recorded the attempt).
expect_files_unchanged() {
    state_snapshot after.snap
    files_snapshot before.snap >before.files
    files_snapshot after.snap >after.files
    if cmp -s before.files after.files; then ok "$1: store, certificates and machine copy unchanged"; else
        fail "$1: something changed:"
        diff before.files after.files | sed 's/^/    /' >&2 || true
    fi
}

# expect_state_unchanged WHAT — the snapshot of now equals before.snap
expect_state_unchanged() {
    state_snapshot after.snap
    if cmp -s before.snap after.snap; then ok "$1: store, certificates, machine copy and database unchanged"; else
        fail "$1: something changed:"
        diff before.snap after.snap | sed 's/^/    /' >&2 || true
    fi
}

# line_of FILE PATTERN — the line number of the first line of FILE holding PATTERN (fixed string)
line_of() {
    grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# bad_config NAME WHAT NEEDLE... — `ccs renew --config NAME` (and --force) must exit 1, print every
# NEEDLE, and leave everything as it was.
bad_config() {
    conf=$1 what=$2
    shift 2
    run_ccs 1 "$conf.out" renew --config "$T/$conf"
    for needle in "$@"; do
        expect_contains "$conf.out" "$needle" "$what: the error names [$needle]"
    done
    expect_contains "$conf.out" "1 error in the configuration" "$what: counted as one error"
    expect_not_contains "$conf.out" "renewing" "$what: nothing renewed"
    run_ccs 1 "$conf.force.out" renew --config "$T/$conf" --force
    expect_contains "$conf.force.out" "$1" "$what: --force refuses it too"
    expect_state_unchanged "$what"
}

# ---- a line without '=' ----------------------------------------------------------------------------
cp good.conf broken.conf
sed -i 's/^challenge = http-01$/challenge = http-01\nthis line has no equals sign/' broken.conf
n=$(line_of broken.conf "this line has no equals sign")
bad_config broken.conf "a line without '='" "$T/broken.conf:$n:" "expected KEY = VALUE"

# ---- an unknown key, with the closest known one suggested ------------------------------------------
cp good.conf unknown-key.conf
sed -i 's/^deployment = store-only$/deployment = store-only\nrenewal-valeu = 30/' unknown-key.conf
n=$(line_of unknown-key.conf "renewal-valeu")
bad_config unknown-key.conf "an unknown key" "$T/unknown-key.conf:$n:" \
    'unknown key "renewal-valeu" in [certificate "www"]' 'did you mean "renewal-value"?'

# ---- an unknown section -----------------------------------------------------------------------------
cp good.conf unknown-section.conf
printf '\n[certifcate "extra"]\ndomains = extra.example.test\n' >>unknown-section.conf
n=$(line_of unknown-section.conf '[certifcate "extra"]')
bad_config unknown-section.conf "an unknown section" "$T/unknown-section.conf:$n:" \
    "unknown section [certifcate]" "did you mean [certificate]?"

# ---- the store's password file is missing -----------------------------------------------------------
sed "s|^password-file = $T/store.pw\$|password-file = $T/no-such-store.pw|" good.conf >no-password.conf
n=$(line_of no-password.conf "no-such-store.pw")
[ -n "$n" ] || fail "no-password.conf: the sed did not apply"
bad_config no-password.conf "a missing store password file" "$T/no-password.conf:$n:" \
    "password-file" "$T/no-such-store.pw" "does not exist"

# ---- the dns-01 hook program is missing ---------------------------------------------------------------
sed "s|^hook = $ACME_HOOK\$|hook = $T/no-such-hook|" good.conf >no-hook.conf
n=$(line_of no-hook.conf "no-such-hook")
[ -n "$n" ] || fail "no-hook.conf: the sed did not apply"
bad_config no-hook.conf "a missing hook program" "$T/no-hook.conf:$n:" "hook" "$T/no-such-hook" \
    "does not exist"

# ... and a hook that exists but is not executable
cp "$ACME_HOOK" hook-noexec && chmod 0644 hook-noexec
sed "s|^hook = $ACME_HOOK\$|hook = $T/hook-noexec|" good.conf >noexec-hook.conf
n=$(line_of noexec-hook.conf "hook-noexec")
bad_config noexec-hook.conf "a hook that is not executable" "$T/noexec-hook.conf:$n:" \
    "$T/hook-noexec" "not executable"

# ... and a script task's program that is missing
sed "s|^program = $T/notify.sh\$|program = $T/no-such-notify.sh|" good.conf >no-program.conf
n=$(line_of no-program.conf "no-such-notify.sh")
[ -n "$n" ] || fail "no-program.conf: the sed did not apply"
bad_config no-program.conf "a missing script program" "$T/no-program.conf:$n:" "program" \
    "$T/no-such-notify.sh" "does not exist"

# ---- ccs config check: every error at once, each with file:line ---------------------------------------
cp good.conf all.conf
sed -i 's/^challenge = http-01$/challenge = http-01\nthis line has no equals sign\nrenewal-valeu = 30/' all.conf
sed -i "s|^password-file = $T/store.pw\$|password-file = $T/no-such-store.pw|" all.conf
sed -i "s|^hook = $ACME_HOOK\$|hook = $T/no-such-hook|" all.conf
printf '\n[certifcate "extra"]\ndomains = extra.example.test\n' >>all.conf
run_ccs 1 all.out config check --config "$T/all.conf"
for pat in "this line has no equals sign|expected KEY = VALUE" "renewal-valeu|unknown key \"renewal-valeu\"" \
    "no-such-store.pw|does not exist" "no-such-hook|does not exist" \
    "[certifcate \"extra\"]|unknown section [certifcate]"; do
    needle=${pat%%|*} message=${pat#*|}
    n=$(line_of all.conf "$needle")
    if grep -F -- "$T/all.conf:$n:" all.out | grep -qF -- "$message"; then
        ok "config check: $T/all.conf:$n: $message"
    else
        fail "config check: no line [$T/all.conf:$n: ... $message] in:"
        sed 's/^/    /' all.out >&2
    fi
done
expect_contains all.out "5 errors in the configuration" "config check: the five errors counted"
expect_not_contains all.out ": ok (" "config check: not ok"
run_ccs 1 all-renew.out renew --config "$T/all.conf"
expect_contains all-renew.out "5 errors in the configuration" "renew lists the same five errors"
expect_eq "$(grep -c "^$T/all.conf:[0-9]*: " all-renew.out)" 5 "renew: five file:line errors"
expect_state_unchanged "a configuration with five errors"

# ---- --config naming a FIFO or a device: refused at once, not read ---------------------------------------
mkfifo "$T/fifo.conf"
start=$(date +%s)
run_ccs 1 fifo.out renew --config "$T/fifo.conf"
[ $(($(date +%s) - start)) -lt 5 ] && ok "a FIFO as --config: refused at once (nobody writes to it)" ||
    fail "a FIFO as --config: waited on"
expect_contains fifo.out "$T/fifo.conf: not a regular file (a FIFO): refused, not read" "a FIFO as --config: says so"
run_ccs 1 dev.out status --config /dev/zero
expect_contains dev.out "/dev/zero: not a regular file (a character device): refused, not read" \
    "a device as --config: refused"
expect_state_unchanged "--config naming a FIFO or a device"

# ---- an unknown certificate name ----------------------------------------------------------------------
run_ccs 1 nosuch.out renew nosuchcert --config "$T/good.conf"
expect_contains nosuch.out 'no certificate "nosuchcert"' "unknown name: the error names it"
expect_contains nosuch.out "$T/good.conf" "unknown name: and the configuration it is not in"
run_ccs 1 nosuch2.out renew www nosuchcert --config "$T/good.conf" --force
expect_contains nosuch2.out 'no certificate "nosuchcert"' "unknown name beside a good one: refused"
expect_not_contains nosuch2.out "renewing" "unknown name beside a good one: nothing renewed"
expect_state_unchanged "an unknown certificate name"

# ---- an unreachable CA --------------------------------------------------------------------------------
# Nothing is due: the CA is not needed, the run is a normal one (exit 2). The ARI check that cannot
# reach it is a warning, and the policy's date stands.
sed "s|^server = .*|server = https://127.0.0.1:1/dir|" good.conf >unreachable.conf
run_ccs 2 unreach0.out renew --config "$T/unreachable.conf"
expect_contains unreach0.out "0 renewed, 0 failed, 2 not due" "unreachable CA, nothing due: exit 2, nothing failed"
expect_contains unreach0.out "cannot ask the CA for renewal information (ARI)" "unreachable CA, nothing due: the ARI check is a warning"
expect_contains unreach0.out "https://127.0.0.1:1/dir" "... naming the URL"
expect_contains unreach0.out "the renewal policy's date stands" "... and saying the policy's date stands"
expect_not_contains unreach0.out "FAILED" "unreachable CA, nothing due: nothing reported failed"
expect_not_contains unreach0.out "ACME account" "unreachable CA, nothing due: the account was not opened"
expect_files_unchanged "an unreachable CA, nothing due"
expect_eq "$(db_query "select failure_count, last_ok from certificates order by name" | tr '\n' ' ')" \
    "0|1 0|1 " "unreachable CA, nothing due: no failure recorded"
# Forced: each certificate's order fails, naming the URL; the failures are recorded (they count for
# the backoff), and nothing else changes.
run_ccs 1 unreach.out renew --config "$T/unreachable.conf" --force
expect_contains unreach.out "https://127.0.0.1:1/dir" "unreachable CA: the error names the URL"
expect_contains unreach.out "0 renewed, 2 failed" "unreachable CA (--force): both fail"
expect_files_unchanged "an unreachable CA (--force)"
expect_eq "$(db_query "select failure_count from certificates order by name" | tr '\n' ' ')" "1 1 " \
    "unreachable CA (--force): one failure recorded for each"
state_snapshot before.snap

# ---- a store that cannot be written -------------------------------------------------------------------
# Root writes anywhere, so as root the run is made as nobody, owning the state directory, the
# machine copy's directory and the password file, against the root-owned 0755 store; otherwise a
# 0555 store suffices. The certificate is still renewed (the CA is fine); the fatal deploy-ccs task
# fails, the renewal reports it and the run exits 1; the store is as it was.
snapshot "$T/store" >store.snap
if [ "$(id -u)" = 0 ]; then
    chown -R nobody "$T/state" "$T/live"
    chown nobody "$T/store.pw"
    chmod 0755 "$T/store"
    as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    as_user test -r "$T/good.conf" && as_user test -w "$T/state" ||
        fail "unwritable store: nobody cannot reach $T (a parent directory is not searchable)"
else
    chmod 0555 "$T/store"
    as_user() { "$@"; }
fi
: >notify.log
chmod 0666 notify.log
run_cmd 1 ro.out as_user "$(ccs_for_other_user)" renew www --config "$T/good.conf" --force
expect_contains ro.out "task ccs FAILED" "unwritable store: the deploy-ccs task fails"
expect_contains ro.out "Permission denied" "unwritable store: says permission denied"
expect_contains ro.out "www.example.test.pfx" "unwritable store: names a file it could not write"
expect_contains ro.out "fatal task failed" "unwritable store: the renewal reports the fatal task"
expect_contains ro.out "0 renewed, 1 failed" "unwritable store: counted as failed"
expect_snapshot_unchanged store.snap "$T/store" "unwritable store: store files intact, no temp files"
expect_contains ro.out "task notify skipped" "unwritable store: the next task of the phase is skipped"
expect_not_contains notify.log "www" "unwritable store: ... and did not run"
[ "$(id -u)" = 0 ] || chmod 0755 "$T/store"
run_ccs 0 ro-status.out status --config "$T/good.conf" --json
expect_eq "$(json_eval ro-status.out '[c["state"] for c in d["certificates"] if c["name"] == "www"]')" \
    owed "unwritable store: status is not ok: tasks are owed the live certificate"
expect_eq "$(json_eval ro-status.out '[t["task"] for c in d["certificates"] if c["name"] == "www" for t in c["owed_tasks"]]' | tr '\n' ' ')" \
    "ccs notify " "unwritable store: status names the owed tasks (the failed one and the one skipped after it)"
expect_eq "$(json_eval ro-status.out '[t for c in d["certificates"] if c["name"] == "www" for t in c["failing_tasks"]]')" \
    ccs "unwritable store: status names the failing task"
for f in www.example.test.pfx shop.example.test.pfx; do
    expect_eq "$(pfx_thumbprint "store/$f" store.pw)" "$(thumbprint state/certs/www/previous/cert.pem)" \
        "unwritable store: $f still holds the previous certificate"
done
# The store writable again (as root): the next run, with nothing due, delivers what is owed.
: >notify.log
run_ccs 0 ro-retry.out renew --config "$T/good.conf"
expect_contains ro-retry.out "www: delivering the live certificate to the tasks that owe it: ccs, notify" \
    "store writable again: the next run retries the owed tasks first"
expect_contains ro-retry.out "www: not due" "... though nothing is due"
for f in www.example.test.pfx shop.example.test.pfx; do
    expect_eq "$(pfx_thumbprint "store/$f" store.pw)" "$(thumbprint state/certs/www/live/cert.pem)" \
        "store writable again: $f holds the live certificate"
done
expect_contains notify.log "www notify success" "store writable again: the skipped notify task ran too"
run_ccs 0 ro-status2.out status --config "$T/good.conf" --json
expect_eq "$(json_eval ro-status2.out '[c["state"] for c in d["certificates"] if c["name"] == "www"]')" \
    ok "store writable again: status is ok"
run_ccs 2 ro-again.out renew --config "$T/good.conf"
expect_not_contains ro-again.out "delivering" "delivered once: the run after has nothing owed"

# ---- a webroot whose .well-known/acme-challenge leads outside it: refused ----------------------------
# A web user owns the webroot and links acme-challenge to a directory of root's choosing: ccs,
# running as root, must not write there. A link that stays inside the webroot is followed (the
# validation then fails only because no web server serves this webroot).
mkdir -p "$T/webroot/.well-known" "$T/outside" "$T/webroot2/.well-known" "$T/webroot2/challenges"
ln -s "$T/outside" "$T/webroot/.well-known/acme-challenge"
ln -s ../challenges "$T/webroot2/.well-known/acme-challenge"
cat >webroot.certs <<CONF

[certificate "web"]
domains = web.example.test
webroot = $T/webroot

[certificate "web2"]
domains = web2.example.test
webroot = $T/webroot2
CONF
write_config webroot.conf webroot.certs
run_ccs 1 webroot.out renew web web2 --config "$T/webroot.conf"
expect_contains webroot.out "$T/webroot/.well-known/acme-challenge (a symbolic link to $T/outside) leads outside the webroot: refused" \
    "a webroot's acme-challenge linked outside it: refused, naming the link and its target"
expect_eq "$(find "$T/outside" -mindepth 1 | wc -l)" 0 "... and nothing was written where it points"
expect_not_contains webroot.out "webroot2/.well-known/acme-challenge (a symbolic link" \
    "a link inside the webroot is followed"
expect_contains webroot.out "web2.example.test" "... (its validation fails: no web server serves it)"

# ---- the CA's terms not agreed to: the advice in ccs.conf's terms ------------------------------------
# A fresh state directory (no account yet) and no agree-tos: the account cannot be registered. The
# library says what happened; the renewer says what to change, and where.
sed -e "s|^state-dir = .*|state-dir = $T/state-tos|" -e '/^agree-tos = yes$/d' good.conf >tos.conf
run_ccs 1 tos.out renew www --config "$T/tos.conf"
expect_contains tos.out "has terms of service" "terms not agreed: the renewal fails saying so"
expect_contains tos.out "read them, then set agree-tos = yes in [ccs] of $T/tos.conf" \
    "... with the fix in ccs.conf's terms"
expect_not_contains tos.out "--agree-tos" "... naming no command-line option"
expect_not_contains tos.out "see above" "... and not \"see above\""
expect_contains tos.out "state $T/state-tos/ccs.db: no database yet: created a new one" \
    "a run that creates the database says so"

# ---- the CA of an existing account is gone -------------------------------------------------------------
# The account is known (state/accounts), the certificates exist. Nothing due: exit 2, the ARI check
# (made due here) a warning. Forced: the run fails naming the CA's URL, and no file is touched.
state_snapshot before.snap
pebble_stop
sqlite3 "$T/state/ccs.db" "update certificates set ari_next_check = 0"
run_ccs 2 gone0.out renew wild --config "$T/good.conf"
expect_contains gone0.out "wild: not due" "CA gone, nothing due: not due"
expect_contains gone0.out "wild: cannot ask the CA for renewal information (ARI)" "CA gone, nothing due: a warning"
expect_contains gone0.out "$ACME_URL" "CA gone, nothing due: the warning names its URL"
run_ccs 1 gone.out renew --config "$T/good.conf" --force
expect_contains gone.out "$ACME_URL" "CA gone: the error names its URL"
expect_files_unchanged "the CA gone (--force)"

# ---- a state database that cannot be read ---------------------------------------------------------------
# status never shows a broken or empty database as "never renewed": it exits 1 with the error. Only
# a renewal run starts a new database over an empty one, and says so.
cp "$T/state/ccs.db" ccs.db.good
rm -f "$T/state/ccs.db-wal" "$T/state/ccs.db-shm"
head -c 8192 /dev/urandom >"$T/state/ccs.db"
run_ccs 1 corrupt.out status --config "$T/good.conf"
expect_contains corrupt.out "state $T/state/ccs.db" "a corrupt database: status names it"
expect_contains corrupt.out "not a database" "... and says what is wrong"
expect_not_contains corrupt.out "never" "... and shows no certificate as never renewed"
run_ccs 1 corrupt-renew.out renew --config "$T/good.conf"
expect_contains corrupt-renew.out "not a database" "a corrupt database: renew refuses it too"
: >"$T/state/ccs.db"
run_ccs 1 empty.out status --config "$T/good.conf" --json
expect_contains empty.out "state $T/state/ccs.db: the database is empty (0 bytes): its history is gone" \
    "a 0-byte database: status says so and exits 1"
expect_eq "$(wc -c <"$T/state/ccs.db" | tr -d ' ')" 0 "... and leaves it as it was"
run_ccs 0 empty-renew.out renew --config "$T/good.conf"
expect_contains empty-renew.out "was empty (0 bytes): started a new database" \
    "a 0-byte database: the run that starts a new one says so"
expect_contains empty-renew.out "every task is owed the live certificate again" "... and what that means"
expect_contains empty-renew.out "delivering the live certificate to the tasks that owe it" \
    "... and delivers it (with the CA down: nothing needed it)"
run_ccs 0 empty-status.out status --config "$T/good.conf"
expect_not_contains empty-status.out "owed" "after the new database's first run: nothing owed"

# ---- no secret in any output ----------------------------------------------------------------------------
if grep -lF "renew-Store-pw" ./*.out >leaks.txt; then
    fail "the store password appears in: $(cat leaks.txt)"
else
    ok "no password in any output"
fi

# Every message above says each thing once (no "x: x: ...").
expect_no_doubled_prefix "the messages of this test" *.out
finish
