#!/bin/sh
# test_renew_task_retry.sh — a post task that is not fatal and fails (issue 8, item 1): the renewal
# stands, but the run exits 1, `ccs status` shows the certificate owed with the task failing, and
# every later `ccs renew` — nothing due — retries it first, exiting 1 while it fails; from its
# fourth consecutive failure it backs off as failed renewals do (the run skips it, says until when,
# and exits 2: nothing was done, nothing failed); once the backoff has passed and the task works
# again, the next run delivers the live certificate to it and status is ok.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup

# reload.sh: fails while reload.fail exists (a service that refuses to reload), else records the
# certificate it was given.
cat >reload.sh <<'SH'
#!/bin/sh
d=$(dirname "$0")
if [ -e "$d/reload.fail" ]; then
    echo "reload refused: configuration test failed" >&2
    exit 1
fi
echo "$CCS_THUMBPRINT" >>"$d/reload.log"
SH
chmod 0755 reload.sh
cat >certs.conf <<CONF

[certificate "t"]
domains = retry.task.test
challenge = dns-01
hook = $ACME_HOOK

[task "t.reload"]
type = script
program = $T/reload.sh
CONF
write_config ccs.conf certs.conf

status_of() { # status_of EXPR: EXPR over c = t's row of `ccs status --json`
    "$CCS" status --config "$T/ccs.conf" --json >"$T/st.json" 2>"$T/st.err" || true
    json_eval "$T/st.json" "[$1 for c in d['certificates'] if c['name'] == 't'][0]"
}
live_tp() { thumbprint "$T/state/certs/t/live/cert.pem"; }

: >reload.fail
run_ccs 1 r1.out renew --config "$T/ccs.conf"
expect_contains r1.out "reload refused: configuration test failed" "a failing task: its error is shown"
[ -s "$T/state/certs/t/live/cert.pem" ] && ok "a failing task: the certificate is installed all the same" ||
    fail "a failing task: no live certificate"
expect_eq "$(status_of 'c["state"]')" owed "a failing task: status is owed, not ok"
expect_eq "$(status_of '" ".join(t["task"] for t in c["owed_tasks"])')" reload "... naming the task"
expect_eq "$(status_of '" ".join(c["failing_tasks"])')" reload "... and naming it failing"

# Runs 2 to 4: nothing is due, the owed task is retried first and fails again: exit 1 each time.
for n in 2 3 4; do
    run_ccs 1 "r$n.out" renew --config "$T/ccs.conf"
    expect_contains "r$n.out" "t: delivering the live certificate to the tasks that owe it: reload" \
        "run $n: the owed task is retried, nothing being due"
    expect_contains "r$n.out" "t: not due" "run $n: ... with nothing due"
done
expect_eq "$(db_query "select failure_count from task_state where cert = 't' and task = 'reload'")" 4 \
    "four consecutive failures recorded"

# Run 5: backing off (as a renewal after its fourth failure): skipped, says until when, exit 2.
run_ccs 2 r5.out renew --config "$T/ccs.conf"
expect_contains r5.out "backing off after 4 failures until" "run 5: the task backs off, saying until when"
expect_eq "$(db_query "select failure_count from task_state where cert = 't' and task = 'reload'")" 4 \
    "run 5: no failure added while backing off"
expect_eq "$(status_of 'c["state"]')" owed "run 5: status still owed"

# The backoff passed (its last attempt moved two days back) and the service reloads again.
rm -f reload.fail
sqlite3 "$T/state/ccs.db" "update task_state set last_attempt = last_attempt - 172800 where cert = 't'"
run_ccs 0 r6.out renew --config "$T/ccs.conf"
expect_contains r6.out "t: delivering the live certificate to the tasks that owe it: reload" \
    "after the backoff: the task is retried"
expect_eq "$(tail -n 1 reload.log)" "$(live_tp)" "after the backoff: the task got the live certificate"
expect_eq "$(status_of 'c["state"]')" ok "after the backoff: status ok"
run_ccs 2 r7.out renew --config "$T/ccs.conf"
expect_not_contains r7.out "delivering" "the run after has nothing owed"

finish
