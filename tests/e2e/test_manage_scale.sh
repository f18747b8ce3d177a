#!/bin/sh
# e2e: 20,000 managed certificates (issue 11) — the configuration parses and checks, and
# `ccs status --json` gets every row right: bench_manage_state (bench/manage_state.c) writes the
# state through ccs's own state code in classes that make neighbouring rows differ in every field
# (never issued, last renewal failed, task failing, task never ran, a record of another serial
# than the live one, due), then compares each row of the status with what it wrote. Also: one
# certificate by name (its row as in the whole status, without the others read), an unknown name
# refused, and `ccs renew --dry-run` leaving alone exactly what has nothing to do.
# Speed is measured in bench/manage-scale, not asserted here.
. "$(dirname "$0")/lib.sh"
: "${MANAGE_STATE:?MANAGE_STATE must name the bench_manage_state binary}"

n=20000
due=100
root=$(cd "$(dirname "$0")/../.." && pwd)
conf=$(sh "$root/bench/lib/gen-config.sh" "$n" "$T/scale")
if "$MANAGE_STATE" make "$T/scale/state" "$n" "$due" mixed; then
    ok "the state of $n certificates written"
else
    fail "bench_manage_state make"
    finish
fi

run_ccs 0 "$T/check.out" config check --config "$conf"
expect_contains "$T/check.out" "ok ($n certificates, 1 store, $n tasks)" "config check counts them"

set +e
"$CCS" status --json --config "$conf" >"$T/status.json" 2>"$T/status.err"
rc=$?
set -e
expect_eq "$rc" 0 "status --json exits 0"
if "$MANAGE_STATE" check "$T/scale/state" "$n" "$due" mixed <"$T/status.json" >"$T/rows.out" 2>&1; then
    ok "status --json: every one of the $n rows right"
else
    fail "status --json: rows differ from the state written:"
    sed 's/^/    /' "$T/rows.out" >&2
fi

run_ccs 0 "$T/status.txt" status --config "$conf"
expect_eq "$(grep -c '^cert-' "$T/status.txt")" "$n" "status: one line per certificate"
expect_eq "$(grep '^cert-7 ' "$T/status.txt" | grep -c ' never ')" 1 "status: cert-7 never issued"
expect_contains "$T/status.txt" "owed: ccs; failing: ccs" "status: a failing task is owed and failing"

# One certificate by name: the same row as in the whole status (times of "now" aside).
set +e
"$CCS" status cert-5 cert-19999 --json --config "$conf" >"$T/two.json" 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "status NAME NAME --json exits 0"
same=$(python3 -c '
import json, sys
def strip(r):
    r = dict(r)
    for k in ("next_renewal",):
        r.pop(k)
    for t in r["owed_tasks"]:
        t.pop("next_attempt")
    return r
whole = {r["name"]: r for r in json.load(open(sys.argv[1]))["certificates"]}
two = json.load(open(sys.argv[2]))["certificates"]
print(" ".join(r["name"] for r in two),
      all(strip(r) == strip(whole[r["name"]]) for r in two))
' "$T/status.json" "$T/two.json")
expect_eq "$same" "cert-5 cert-19999 True" "status NAME: the rows of the whole status, in the order named"
run_ccs 1 "$T/unknown.out" status cert-5 no-such-cert --config "$conf"
expect_contains "$T/unknown.out" "no certificate \"no-such-cert\" in $conf" "status: an unknown name is refused, naming the file"
expect_not_contains "$T/unknown.out" "cert-5.example.com" "status: nothing shown before the refusal"

# The dry run looks at what has something to do and leaves the rest: the due, the never issued,
# the owed; every other certificate is "not due" without a look.
never=$(python3 -c "print(sum(1 for i in range($n - $due) if i % 13 == 7))")
set +e
"$CCS" renew --dry-run --config "$conf" >"$T/renew.out" 2>"$T/renew.err"
rc=$?
set -e
expect_eq "$rc" 0 "renew --dry-run exits 0"
expect_eq "$(grep -c ': would renew: ' "$T/renew.out")" "$((due + never))" "renew --dry-run: the due and the never issued would renew"
expect_contains "$T/renew.out" "0 renewed, 0 failed, $((n - due - never)) not due" "renew --dry-run: the others not due"
expect_contains "$T/renew.out" "cert-5: would deliver the live certificate to the tasks that owe it: ccs" "renew --dry-run: an owed task would be delivered"
finish
