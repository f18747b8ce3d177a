#!/bin/sh
# test_renew_flow.sh — the whole managed-certificate flow against Pebble: config -> ccs renew ->
# store files -> status; a second run has nothing due; --force renews and prunes dropped names;
# store-only keeps a machine copy; tasks run and are recorded; --dry-run writes nothing (tree and
# database compared); one run at a time.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup

cat >certs.conf <<CONF

[certificate "www"]
domains = www.example.test, shop.example.test
challenge = http-01
deployment = store-only

[task "www.ccs"]
type = deploy-ccs
store = main

[task "www.notify"]
type = script
program = $T/notify.sh
trigger = any

[certificate "wild"]
domains = *.wild.example.test wild.example.test
challenge = dns-01
hook = $ACME_HOOK

[task "wild.ccs"]
type = deploy-ccs
store = main

[task "wild.pem"]
type = export
fullchain = $T/export/wild.fullchain.pem
key = $T/export/wild.key.pem
CONF
cat >notify.sh <<'SH'
#!/bin/sh
echo "$CCS_CERT_NAME $CCS_RESULT $CCS_THUMBPRINT $CCS_DOMAINS" >>"$(dirname "$0")/notify.log"
SH
chmod +x notify.sh
write_config ccs.conf certs.conf
run_ccs 0 check.out config check --config "$T/ccs.conf"
expect_contains check.out "2 certificates" "config check: ok, 2 certificates"
expect_contains check.out "1 machine copy under $T/live that deployment = store-only implies" \
    "config check: counts the machine copy store-only implies"

# ---- dry run on a fresh machine: nothing written, not even the state directory's database ------
find "$T/state" "$T/store" "$T/live" "$T/export" | sort >tree.before
run_ccs 0 dry.out renew --config "$T/ccs.conf" --dry-run
find "$T/state" "$T/store" "$T/live" "$T/export" | sort >tree.after
expect_eq "$(diff tree.before tree.after && echo same)" same "--dry-run writes nothing"
expect_contains dry.out "www: would renew: no certificate yet" "dry run: www due, and why"
expect_contains dry.out "would order www.example.test, shop.example.test" "dry run: what would be ordered"
expect_contains dry.out "task ccs would run" "dry run: the tasks that would run"
expect_contains dry.out "www: task live-dir would run: dry run, nothing written: would write $T/live/www/cert.pem" \
    "dry run: the machine copy is a task too"

# ---- the first real run --------------------------------------------------------------------------
run_ccs 0 r1.out renew --config "$T/ccs.conf"
expect_contains r1.out "2 renewed, 0 failed" "first run: both issued"
for f in www.example.test.pfx shop.example.test.pfx _.wild.example.test.pfx wild.example.test.pfx; do
    [ -s "store/$f" ] && ok "store has $f" || fail "store lacks $f"
done
run_ccs 0 sc.out store check --store "$T/store" --password-file "$T/store.pw"
expect_contains sc.out "0 errors" "store check: no errors in what renew deployed"
for f in cert.pem chain.pem fullchain.pem privkey.pem cert.pfx; do
    [ -s "live/www/$f" ] && ok "store-only: live/www/$f" || fail "store-only: live/www/$f missing"
done
expect_eq "$(file_mode live/www/privkey.pem)" 640 "store-only: the key is 0640"
# The key's group is ssl-cert where the system has that group (Debian's ssl-cert package) and ccs
# may give it (root, or a member); otherwise the group is left as the file was made.
if getent group ssl-cert >/dev/null && [ "$(id -u)" = 0 ]; then
    expect_eq "$(stat -c %G live/www/privkey.pem)" ssl-cert "store-only: the key's group is ssl-cert"
fi
[ ! -e live/wild ] && ok "no-deployment: no machine copy" || fail "live/wild exists"
[ -s export/wild.fullchain.pem ] && [ -s export/wild.key.pem ] && ok "export task wrote its files" || fail "export files missing"
expect_contains notify.log "www success" "script task ran with the result in its environment"
expect_eq "$(db_query "select count(*) from renewals where ok = 1")" 2 "two successful renewals recorded"
expect_eq "$(db_query "select count(*) from task_runs where ok = 1")" 5 \
    "five task runs recorded (www's machine copy is a task: live-dir)"
www_serial=$(db_query "select serial from certificates where name = 'www'")
[ -n "$www_serial" ] && ok "www's serial recorded ($www_serial)" || fail "no serial for www"

run_ccs 0 st.out status --config "$T/ccs.conf" --json
expect_json st.out "status --json parses"
expect_eq "$(json_eval st.out '[c["last_result"] for c in d["certificates"]]')" "ok
ok" "status: both ok"
expect_eq "$(json_eval st.out '[c["name"] for c in d["certificates"] if c["days_left"] > 1000]')" "www
wild" "status: Pebble's five-year certificates, days left"
expect_eq "$(json_eval st.out '[r["task"] for c in d["certificates"] if c["name"] == "www" for r in c["recent_task_runs"]]' | sort | tr '\n' ' ')" \
    "ccs live-dir notify " "status: the task runs recorded for www are shown"

# ---- a dry run over existing state: the database and every file unchanged -----------------------
dbsum() { sha256sum "$T/state/ccs.db" | cut -d' ' -f1; }
db_before=$(dbsum)
snapshot state >state.before
snapshot store >store.dry
run_ccs 0 dry2.out renew --config "$T/ccs.conf" --dry-run --force
expect_contains dry2.out "www: would renew: forced" "dry run --force: says it would renew"
expect_contains dry2.out "task ccs would run: dry run, nothing written: store main" "dry run: what the deploy would do"
expect_eq "$(dbsum)" "$db_before" "dry run: the database is byte-for-byte unchanged"
expect_snapshot_unchanged state.before state "dry run: the state directory is unchanged"
expect_snapshot_unchanged store.dry store "dry run: the store is unchanged"

# ---- nothing due: exit 2, nothing changes ---------------------------------------------------------
snapshot store >store.before
run_ccs 2 r2.out renew --config "$T/ccs.conf"
expect_contains r2.out "0 renewed, 0 failed, 2 not due" "second run: nothing due"
expect_contains r2.out "75% of lifetime" "second run: says when and why"
expect_snapshot_unchanged store.before store "second run: store untouched"

# ---- one run at a time ---------------------------------------------------------------------------
exec 9>"$T/state/renew.lock"
flock -n 9 && printf 'pid 4242, started by the test\n' >&9
run_ccs 1 lk.out renew --config "$T/ccs.conf" --force
expect_contains lk.out "another ccs renew or task run is running (pid 4242" "a second run says who holds the lock"
run_ccs 1 lk2.out task run www notify --config "$T/ccs.conf"
expect_contains lk2.out "another ccs renew or task run is running (pid 4242" "so does ccs task run, which takes the same lock"
exec 9>&-

# ---- forced renewal of one certificate with a dropped name: pruned by thumbprint ----------------
sed -i 's/^domains = www.example.test, shop.example.test$/domains = www.example.test/' ccs.conf
run_ccs 0 r3.out renew www --config "$T/ccs.conf" --force
expect_contains r3.out "1 renewed" "--force renews the named certificate only"
[ ! -e store/shop.example.test.pfx ] && ok "the dropped name's file was pruned" || fail "shop.example.test.pfx still there"
new_serial=$(db_query "select serial from certificates where name = 'www'")
[ "$new_serial" != "$www_serial" ] && ok "a new serial recorded" || fail "serial unchanged"

# ---- task run by hand ------------------------------------------------------------------------------
: >notify.log
run_ccs 0 tr.out task run www notify --config "$T/ccs.conf"
expect_contains notify.log "www" "ccs task run ran the script"
expect_eq "$(db_query "select count(*) from task_runs where task = 'notify'")" 3 "and it was recorded"

finish
