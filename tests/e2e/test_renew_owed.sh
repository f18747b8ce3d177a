#!/bin/sh
# test_renew_owed.sh — no target is left stale: a renewal's tasks are owed the new certificate until
# each has delivered it, whatever stops them. A forced renewal is stopped at a chosen point of its
# post tasks (before, between and after a deploy-ccs task's store files; between an export's
# renames; see renew_lib.sh) and killed there with SIGKILL, or sent SIGTERM or SIGINT (a graceful
# stop: exit 3). Each time some target provably still holds the previous certificate, `ccs status`
# shows the certificate "owed" with the right tasks, and the next plain `ccs renew` (nothing due)
# delivers the live certificate to every target: both store files, every exported file and the
# PFX, the script (it sees the new thumbprint), the machine copy; no temp file is left anywhere.
# Then a script stopped by SIGTERM in mid-run: its process group goes, the run exits 3 at once
# and releases the lock. A store file or export still holding the previous certificate after its
# tasks "succeeded" fails expect_delivered. The machine copy (deployment = store-only) is the
# export task "live-dir" the configuration implies, and is killed between its renames too.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup

# notify.sh: one line a run, with the certificate it was given.
cat >notify.sh <<'SH'
#!/bin/sh
echo "$CCS_TASK $CCS_THUMBPRINT" >>"$(dirname "$0")/notify.log"
SH
# slow.sh: while slow.block exists, starts a child and waits for it (a reload that hangs).
cat >slow.sh <<'SH'
#!/bin/sh
d=$(dirname "$0")
if [ -e "$d/slow.block" ]; then
    sleep 60 &
    echo $! >"$d/slow.child"
    echo started >"$d/slow.started"
    wait
fi
echo "$CCS_TASK $CCS_THUMBPRINT" >>"$d/notify.log"
SH
chmod 0755 notify.sh slow.sh
make_password "$T/pfx.pw" 'export-Pfx-pw'

cat >certs.conf <<CONF

[certificate "www"]
domains = www.owed.test, api.owed.test
deployment = store-only

[task "www.ccs"]
type = deploy-ccs
store = main

[task "www.pem"]
type = export
cert = $T/export/cert.pem
chain = $T/export/chain.pem
fullchain = $T/export/fullchain.pem
key = $T/export/key.pem
pfx = $T/export/www.pfx
pfx-password-file = $T/pfx.pw

[task "www.notify"]
type = script
program = $T/notify.sh

[certificate "slow"]
domains = slow.owed.test

[task "slow.wait"]
type = script
program = $T/slow.sh
CONF
write_config ccs.conf certs.conf
run_ccs 0 check.out config check --config "$T/ccs.conf"

live_tp() { thumbprint "$T/state/certs/www/live/cert.pem"; }

# targets — one line per target of www: its name and the thumbprint of what it holds.
targets() {
    for n in www.owed.test api.owed.test; do
        echo "store:$n $(pfx_thumbprint "$T/store/$n.pfx" "$T/store.pw")"
    done
    echo "export:cert $(thumbprint "$T/export/cert.pem")"
    echo "export:fullchain $(pem_thumbprints "$T/export/fullchain.pem" | head -n 1)"
    echo "export:pfx $(pfx_thumbprint "$T/export/www.pfx" "$T/pfx.pw")"
    echo "notify $(grep '^notify ' "$T/notify.log" | tail -n 1 | cut -d' ' -f2)"
    echo "live-dir $(thumbprint "$T/live/www/cert.pem")"
}

# expect_delivered WHAT — every target holds the live certificate, every key is its key, and no
# temp file is left in the store, the export directory, the machine copy or the state.
expect_delivered() {
    tp=$(live_tp)
    stale=$(targets | awk -v tp="$tp" '$2 != tp { print $1 }' | tr '\n' ' ')
    expect_eq "$stale" "" "$1: every target holds the live certificate"
    key_matches "$T/export/cert.pem" "$T/export/key.pem" && ok "$1: the exported key is the certificate's" ||
        fail "$1: export/key.pem does not match export/cert.pem"
    key_matches "$T/live/www/cert.pem" "$T/live/www/privkey.pem" && ok "$1: the machine copy's key matches" ||
        fail "$1: live/www/privkey.pem does not match live/www/cert.pem"
    expect_eq "$(leftover_temps "$T/store" "$T/export" "$T/live" "$T/state" | tr '\n' ' ')" "" \
        "$1: no temp file left anywhere"
}

status_field() { # status_field EXPR: EXPR over c = www's row of `ccs status --json`
    "$CCS" status --config "$T/ccs.conf" --json >"$T/st.json" 2>"$T/st.err" || true
    json_eval "$T/st.json" "[$1 for c in d['certificates'] if c['name'] == 'www'][0]"
}

# ---- the first run: everything delivered -----------------------------------------------------------
run_ccs 0 r0.out renew --config "$T/ccs.conf"
expect_contains r0.out "2 renewed, 0 failed" "first run: both issued"
expect_delivered "first run"
expect_eq "$(status_field 'c["state"]')" ok "first run: status ok"

# ---- stopped at a point of the post tasks --------------------------------------------------------------
# stopped_at POINT SIGNAL OWED — force a renewal of www, stopped at POINT; send SIGNAL (KILL, or
# TERM/INT then CONT); OWED is what status must show owed afterwards (space-separated, file order).
case_n=0
stopped_at() {
    point=$1 sig=$2 owed=$3
    case_n=$((case_n + 1))
    label="$sig at $point"
    before=$(live_tp)
    CCS_TEST_STOP_AT=$point "$CCS" renew www --config "$T/ccs.conf" --force >"k$case_n.out" 2>&1 &
    pid=$!
    if ! wait_stopped "$pid"; then
        fail "$label: ccs did not stop at the point"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        sed 's/^/    /' "k$case_n.out" >&2
        return 0
    fi
    if [ "$sig" = KILL ]; then
        kill -KILL "$pid"
    else
        kill "-$sig" "$pid"
        kill -CONT "$pid"
    fi
    set +e
    wait "$pid"
    rc=$?
    set -e
    case $sig in
    KILL) expect_eq "$rc" 137 "$label: killed" ;;
    *) expect_eq "$rc" 3 "$label: a graceful stop exits 3"
       expect_contains "k$case_n.out" "stopped by" "$label: says it was stopped" ;;
    esac
    [ "$(live_tp)" != "$before" ] && ok "$label: the new certificate is live" ||
        fail "$label: the renewal did not install a new certificate"
    # The kill must have left a target behind, or the test proves nothing.
    stale=$(targets | awk -v tp="$(live_tp)" '$2 != tp { print $1 }' | tr '\n' ' ')
    [ -n "$stale" ] && ok "$label: a target still holds the previous certificate ($stale)" ||
        fail "$label: no target was left behind: the point was not between the tasks' work"
    expect_eq "$(status_field 'c["state"]')" owed "$label: status shows the certificate owed"
    expect_eq "$(status_field '" ".join(t["task"] for t in c["owed_tasks"])')" "$owed" \
        "$label: status names the owed tasks"
    # The next plain run, with nothing due, delivers what is owed and nothing more.
    : >"$T/notify.log.new"
    run_ccs 0 "n$case_n.out" renew --config "$T/ccs.conf"
    expect_contains "n$case_n.out" "www: delivering the live certificate to the tasks that owe it: $(echo "$owed" | sed 's/ /, /g')" \
        "$label: the next run delivers the owed tasks"
    expect_contains "n$case_n.out" "www: not due" "$label: ... with nothing due"
    expect_delivered "$label, next run"
    expect_eq "$(status_field 'c["state"]')" ok "$label: status ok again"
    run_ccs 2 "m$case_n.out" renew --config "$T/ccs.conf"
    expect_not_contains "m$case_n.out" "delivering" "$label: the run after has nothing owed"
}

stopped_at task-start:www.ccs KILL "ccs pem notify"
stopped_at task-start:www.ccs TERM "pem notify"      # the deploy had begun: it finishes
stopped_at store-written:1 KILL "ccs pem notify"     # one store file new, the other old
stopped_at store-written:1 TERM "pem notify"
stopped_at task-done:www.ccs KILL "ccs pem notify"   # all written, not recorded: redone
stopped_at task-done:www.ccs INT "pem notify"
stopped_at export-renamed:www.pem:1 KILL "pem notify" # the new key beside the old certificate
stopped_at export-renamed:www.pem:1 TERM "notify"    # the export finishes its renames
stopped_at export-renamed:www.live-dir:1 KILL "live-dir ccs pem notify" # the machine copy: an export

# A killed export left temp files (checked gone above); one left in the state directory and one
# beside the machine copy are removed by the next run too. Planted as a killed run leaves them: with
# its holder line in renew.lock (a run that ends empties it), which makes the next run look at every
# certificate, even one with nothing due or owed (plan.h).
mkdir -p "$T/state/certs/www/pending"
printf 'stale key\n' >"$T/state/certs/www/pending/privkey.pem.tmp-AbC123"
printf 'stale key\n' >"$T/live/www/privkey.pem.tmp-XyZ789"
expect_eq "$(wc -c <"$T/state/renew.lock")" 0 "a run that ended left no holder line in renew.lock"
printf 'pid 999999, ccs renew, started 2026-01-01T00:00:00Z\n' >"$T/state/renew.lock"
run_ccs 2 sweep.out renew --config "$T/ccs.conf"
expect_eq "$(leftover_temps "$T/state" "$T/live" | tr '\n' ' ')" "" "temp files a killed run left are removed"
expect_contains sweep.out "removed 1 temp file a killed run left beside $T/live/www/privkey.pem" "... and the run says so"
expect_contains sweep.out "the last run (pid 999999, ccs renew, started 2026-01-01T00:00:00Z) did not finish: looking at every certificate" "... having seen the killed run's line"

# ---- a script stopped by SIGTERM: its process group goes, the run exits 3 at once --------------------
: >slow.block
rm -f slow.started slow.child
"$CCS" renew slow --config "$T/ccs.conf" --force >slow.out 2>&1 &
pid=$!
wait_for_file -s slow.started 30 && ok "the slow script is running" || fail "the slow script never started"
stop_timed "$pid"
expect_eq "$rc" 3 "SIGTERM during a script: exit 3"
[ "$took_ms" -lt 8000 ] && ok "SIGTERM during a script: stopped in ${took_ms} ms (not at the script's 300 s timeout)" ||
    fail "SIGTERM during a script: took ${took_ms} ms"
expect_contains slow.out "slow: task wait stopped: script $T/slow.sh was stopped (ccs is stopping)" \
    "the script is reported stopped"
child=$(cat slow.child)
case $(proc_state "$child") in
'' | Z) ok "the script's child went with its process group" ;;
*) fail "the script's child $child is still running"; kill "$child" 2>/dev/null || true ;;
esac
run_ccs 0 st-slow.out status --config "$T/ccs.conf" --json
expect_eq "$(json_eval st-slow.out '[" ".join(t["task"] for t in c["owed_tasks"]) for c in d["certificates"] if c["name"] == "slow"][0]')" \
    wait "SIGTERM during a script: the script is owed"
expect_eq "$(db_query "select failure_count from task_state where cert = 'slow' and task = 'wait'")" 0 \
    "a stopped task is no failure"
rm -f slow.block
run_ccs 0 slow2.out renew --config "$T/ccs.conf"
expect_not_contains slow2.out "another ccs" "the stopped run released the lock"
expect_contains slow2.out "slow: delivering the live certificate to the tasks that owe it: wait" \
    "the next run delivers the stopped script's run"

finish
