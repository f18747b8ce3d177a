#!/bin/sh
# e2e: the renewal plan (src/manage/plan.h) in real runs — which certificates a `ccs renew` looks at
# and writes, seen through the database: a trigger records every certificate whose record a run
# writes. Seven certificates written by bench_manage_state in its classes: cert-3's last renewal
# failed, cert-4's record names another serial than its live link (a run killed between the switch
# and the record), cert-5's task failed (owed); the others are settled. None is due, so no CA is
# needed (the configured one is a closed port: a run that asked it would fail). Checked:
#  - a run looks at cert-4 and cert-5 only: it delivers cert-5's task, and cert-4's record takes the
#    live certificate's serial (so the plan can vouch for it next time); nothing else is written;
#  - the next run writes nothing;
#  - after a killed run (its holder line left in renew.lock) every certificate is looked at: the
#    records whose renewal point was never stored get it; the run after the next kill writes none.
. "$(dirname "$0")/lib.sh"
: "${MANAGE_STATE:?MANAGE_STATE must name the bench_manage_state binary}"

n=7
root=$(cd "$(dirname "$0")/../.." && pwd)
conf=$(sh "$root/bench/lib/gen-config.sh" "$n" "$T/fleet")
sed -i 's|^\[ccs\]$|[ccs]\nserver = https://127.0.0.1:9/directory|' "$conf"
"$MANAGE_STATE" make "$T/fleet/state" "$n" 0 mixed || { fail "bench_manage_state make"; finish; }
db=$T/fleet/state/ccs.db

# py SQL... — run SQL against the database with python3's sqlite3, printing the rows.
py() {
    python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for q in sys.argv[2:]:
    for row in c.execute(q):
        print(" ".join(str(x) for x in row))
c.commit()
' "$db" "$@"
}
py "CREATE TABLE written (name TEXT)" \
    "CREATE TRIGGER count_updates AFTER UPDATE ON certificates BEGIN INSERT INTO written VALUES (new.name); END" \
    "CREATE TRIGGER count_inserts AFTER INSERT ON certificates BEGIN INSERT INTO written VALUES (new.name); END"
# The names written since the last call, sorted, on one line.
written() { py "SELECT DISTINCT name FROM written ORDER BY name" "DELETE FROM written" | tr '\n' ' '; }
killed() { printf 'pid 999999, ccs renew, started 2026-01-01T00:00:00Z\n' >"$T/fleet/state/renew.lock"; }
fresh_serial=$(readlink "$T/fleet/state/bench-dirs/fresh/live")
expect_eq "$(py "SELECT serial FROM certificates WHERE name = 'cert-4'")" 00 "cert-4's record names another serial"

run_ccs 0 run1.out renew --config "$conf"
expect_contains run1.out "cert-5: delivering the live certificate to the tasks that owe it: ccs" \
    "a run delivers the owed task"
expect_eq "$(written)" "cert-4 cert-5 " "... and writes the records of the two it looked at only"
expect_eq "$(py "SELECT serial FROM certificates WHERE name = 'cert-4'")" "$fresh_serial" \
    "... cert-4's now naming the live certificate"
expect_contains run1.out "0 renewed, 0 failed, $n not due" "... all not due"

run_ccs 2 run2.out renew --config "$conf"
expect_eq "$(written)" "" "the next run writes nothing"
expect_not_contains run2.out "delivering" "... and delivers nothing"
expect_eq "$(wc -c <"$T/fleet/state/renew.lock" | tr -d ' ')" 0 "a run that ended leaves no holder line"

killed
run_ccs 2 run3.out renew --config "$conf"
expect_contains run3.out "did not finish: looking at every certificate" "after a killed run every certificate is looked at"
expect_eq "$(written)" "cert-0 cert-1 cert-2 cert-3 cert-6 " "... and the records without a stored renewal point get one"
killed
run_ccs 2 run4.out renew --config "$conf"
expect_contains run4.out "did not finish: looking at every certificate" "after another killed run, all looked at again"
expect_eq "$(written)" "" "... and no unchanged record is rewritten"
finish
