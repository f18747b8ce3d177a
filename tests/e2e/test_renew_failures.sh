#!/bin/sh
# test_renew_failures.sh — failed renewals against a real Pebble: certificates whose validation
# fails (http-01 through a webroot no web server serves; dns-01 with a hook that exits 0 without
# publishing the TXT record) beside one that succeeds: the run exits 1,
# the good one is issued and deployed, the failed one's post tasks run by trigger (on-error and
# any run with CCS_RESULT=failure, on-success is skipped, a failing task shows in status); a fatal
# pre task that fails stops the renewal before anything is ordered, and the later pre tasks are
# skipped unless run-if-previous-failed; `ccs status --json` shows failures, last_result and the
# failing tasks; failures under four are retried at once, from the fourth the renewer backs off as
# Certify does (and --force still tries), except in the last day before expiry (a certificate made
# here with a test CA, since Pebble's live five years).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
renew_setup
mkdir -p "$T/unserved"

# record.sh: one line per run: certificate, task, phase, result, and the certificate's PEM path.
cat >record.sh <<'SH'
#!/bin/sh
echo "$CCS_CERT_NAME $CCS_TASK $CCS_PHASE $CCS_RESULT [$CCS_CERT_PEM]" >>"$(dirname "$0")/tasks.log"
SH
# fails.sh: records, then fails with a message on stderr.
cat >fails.sh <<'SH'
#!/bin/sh
echo "$CCS_CERT_NAME $CCS_TASK $CCS_PHASE $CCS_RESULT [$CCS_CERT_PEM]" >>"$(dirname "$0")/tasks.log"
echo "fails.sh: refusing on purpose" >&2
exit 3
SH
# nopublish.sh: a dns-01 hook that says it published the TXT record, and did not.
printf '#!/bin/sh\nexit 0\n' >nopublish.sh
chmod 0755 record.sh fails.sh nopublish.sh

cat >certs.conf <<CONF

[certificate "good"]
domains = good.example.test

[task "good.ccs"]
type = deploy-ccs
store = main
fatal = yes

[task "good.done"]
type = script
program = $T/record.sh
trigger = any

[certificate "bad"]
domains = bad.example.test
webroot = $T/unserved

[task "bad.ccs"]
type = deploy-ccs
store = main
fatal = yes

[task "bad.onerr"]
type = script
program = $T/record.sh
trigger = on-error

[task "bad.onsucc"]
type = script
program = $T/record.sh
trigger = on-success

[task "bad.any"]
type = script
program = $T/record.sh
trigger = any

[task "bad.alarm"]
type = script
program = $T/fails.sh
trigger = on-error

[task "bad.after"]
type = script
program = $T/record.sh
trigger = any

[certificate "dnsbad"]
domains = dnsbad.example.test
challenge = dns-01
hook = $T/nopublish.sh

[task "dnsbad.onerr"]
type = script
program = $T/record.sh
trigger = on-error

[certificate "pre"]
domains = pre.example.test

[task "pre.check"]
type = script
phase = pre
program = $T/fails.sh
fatal = yes

[task "pre.next"]
type = script
phase = pre
program = $T/record.sh

[task "pre.always"]
type = script
phase = pre
program = $T/record.sh
run-if-previous-failed = yes

[task "pre.ccs"]
type = deploy-ccs
store = main

[task "pre.onerr"]
type = script
program = $T/record.sh
trigger = on-error
CONF
write_config ccs.conf certs.conf
run_ccs 0 check.out config check --config "$T/ccs.conf"

orders() { grep -c 'POST /order-plz' "$PEBBLE_LOG" || true; }
status_of() { # status_of FILE CERT EXPR: EXPR over c = the certificate's row of `ccs status --json`
    json_eval "$1" "[$3 for c in d['certificates'] if c['name'] == a[0]][0]" "$2"
}

# ---- a failing validation beside a good one ------------------------------------------------------------
: >tasks.log
run_ccs 1 r1.out renew good bad dnsbad --config "$T/ccs.conf"
expect_contains r1.out "1 renewed, 2 failed" "one renewed, two failed: exit 1"
expect_contains r1.out "good: renewed" "the good certificate is issued"
[ -s store/good.example.test.pfx ] && ok "the good one is deployed" || fail "store lacks good.example.test.pfx"
expect_contains tasks.log "good done post success [$T/state/certs/good/live/cert.pem]" \
    "the good one's trigger-any task ran with CCS_RESULT=success"
expect_contains r1.out "bad: FAILED" "the bad one fails"
# Why: Pebble's answer to the http-01 validation (the webroot is served by nobody).
if grep -A1 "bad: FAILED" r1.out | grep -qi "bad.example.test"; then ok "the failure names the identifier"; else
    fail "the failure does not name bad.example.test:"; sed 's/^/    /' r1.out >&2
fi
expect_contains r1.out "http-01" "the failure names the challenge"
[ ! -e store/bad.example.test.pfx ] && ok "nothing deployed for the bad one" || fail "store has bad.example.test.pfx"
[ ! -e state/certs/bad/live ] && ok "no live certificate for the bad one" || fail "state/certs/bad/live exists"
[ -z "$(find unserved -type f)" ] && ok "the webroot's challenge file was removed after the failure" ||
    fail "left in the webroot: $(find unserved -type f)"
expect_contains r1.out "bad: task ccs skipped" "the bad one's on-success deploy-ccs task is skipped"
expect_contains tasks.log "bad onerr post failure []" "on-error task ran with CCS_RESULT=failure (no certificate: empty paths)"
expect_not_contains tasks.log "bad onsucc" "on-success task did not run"
expect_contains r1.out "bad: task onsucc skipped" "... and is reported skipped"
expect_contains tasks.log "bad any post failure" "trigger-any task ran with CCS_RESULT=failure"
expect_contains tasks.log "bad alarm post failure" "the failing on-error task ran"
expect_contains r1.out "bad: task alarm FAILED" "its failure is reported"
expect_contains r1.out "refusing on purpose" "... quoting its output"
expect_contains r1.out "bad: task after skipped" "the task after a failed one is skipped"
expect_not_contains tasks.log "bad after" "... and did not run"
# dns-01 with a hook that publishes nothing: Pebble finds no TXT record.
expect_contains r1.out "dnsbad: FAILED" "dns-01 without the TXT record: fails"
if grep -A1 "dnsbad: FAILED" r1.out | grep -q "dnsbad.example.test: dns-01 challenge failed"; then
    ok "... naming the identifier and the challenge"
else
    fail "dnsbad's failure does not name dnsbad.example.test and dns-01:"; sed 's/^/    /' r1.out >&2
fi
expect_contains tasks.log "dnsbad onerr post failure" "dnsbad: its on-error task ran with CCS_RESULT=failure"
[ ! -e state/certs/dnsbad/live ] && ok "dnsbad: no live certificate" || fail "state/certs/dnsbad/live exists"
# A skipped task is reported once as skipped, not "skipped: skipped: ...".
expect_not_contains r1.out "skipped: skipped" "skip reasons are not doubled"

expect_eq "$(db_query "select last_ok, failure_count from certificates where name = 'bad'")" "0|1" \
    "database: bad failed once"
expect_eq "$(db_query "select count(*) from renewals where cert = 'bad' and ok = 0")" 1 "database: the failed renewal recorded"
expect_eq "$(db_query "select task from task_runs where cert = 'bad' order by id" | tr '\n' ' ')" \
    "onerr any alarm " "database: the tasks that ran are recorded (not the skipped ones)"

run_ccs 0 st1.out status --config "$T/ccs.conf" --json
expect_json st1.out "status --json parses"
expect_eq "$(status_of st1.out bad 'c["last_result"]')" failed "status: bad's last result failed"
expect_eq "$(status_of st1.out bad 'c["failures"]')" 1 "status: bad's failure count 1"
expect_eq "$(status_of st1.out bad 'c["failing_tasks"]')" alarm "status: bad's failing task"
expect_eq "$(status_of st1.out bad 'c["why"]')" "no certificate yet" "status: bad is due again (fewer than 4 failures)"
expect_eq "$(status_of st1.out good 'c["last_result"]')" ok "status: good ok"
expect_eq "$(status_of st1.out good 'c["failures"]')" 0 "status: good has no failures"
expect_eq "$(status_of st1.out good 'c["failing_tasks"]')" "" "status: good has no failing task"
expect_eq "$(status_of st1.out pre 'c["last_result"]')" never "status: pre never attempted"
expect_eq "$(status_of st1.out dnsbad 'c["last_result"]')" failed "status: dnsbad failed"
expect_eq "$(status_of st1.out dnsbad 'c["failures"]')" 1 "status: dnsbad's failure count 1"
run_ccs 0 st1t.out status --config "$T/ccs.conf"
expect_contains st1t.out "alarm" "status (table): names the failing task"

# ---- a fatal pre task that fails: nothing ordered -------------------------------------------------------
: >tasks.log
o=$(orders)
run_ccs 1 p1.out renew pre --config "$T/ccs.conf"
expect_eq "$(orders)" "$o" "fatal pre task failed: no order placed at Pebble"
expect_contains p1.out "pre: task check FAILED" "the fatal pre task's failure is reported"
expect_contains p1.out "pre: task next skipped" "the next pre task is skipped"
expect_not_contains tasks.log "pre next" "... and did not run"
expect_contains tasks.log "pre always pre success" "a run-if-previous-failed pre task runs (with the result still success)"
expect_contains p1.out "a fatal pre-request task failed" "the renewal fails, saying why"
expect_contains tasks.log "pre onerr post failure" "post on-error task runs after the pre failure"
expect_not_contains p1.out "pre: task ccs ok" "no deploy"
expect_eq "$(db_query "select message from renewals where cert = 'pre' order by id desc limit 1")" \
    "a fatal pre-request task failed" "database: the renewal's message says why"
expect_eq "$(db_query "select pending_order from certificates where name = 'pre'")" "" "database: no order recorded"
[ ! -e state/certs/pre/pending/privkey.pem ] && ok "no key made for an order" || fail "a pending key exists"
run_ccs 0 sp.out status --config "$T/ccs.conf" --json
expect_eq "$(status_of sp.out pre 'c["last_result"]')" failed "status: pre failed"
expect_eq "$(status_of sp.out pre 'c["failing_tasks"]')" check "status: pre's failing task is check"

# ---- the next run tries again at once (fewer than 4 failures) -------------------------------------------
o=$(orders)
run_ccs 1 r2.out renew bad --config "$T/ccs.conf"
expect_contains r2.out "bad: renewing: no certificate yet" "second failure: attempted again at once"
[ "$(orders)" -gt "$o" ] && ok "second failure: ordered again" || fail "second run placed no order"
# The first run's order failed and said so: it was not interrupted.
expect_not_contains r2.out "an earlier run stopped" "a failed order is not taken for an interrupted run"
expect_eq "$(db_query "select failure_count from certificates where name = 'bad'")" 2 "two failures counted"
run_ccs 1 r3.out renew bad --config "$T/ccs.conf"
expect_contains r3.out "bad: renewing: no certificate yet" "third failure: attempted again at once"
run_ccs 0 st3.out status --config "$T/ccs.conf" --json
expect_eq "$(status_of st3.out bad 'c["failures"]')" 3 "status: 3 failures"
expect_eq "$(status_of st3.out bad 'c["why"]')" "no certificate yet" "status: still due after 3 failures"

# ---- the fourth failure: backing off --------------------------------------------------------------------
# Certify: maxWait = min(10% of the lifetime, 48 h) (no certificate: 90 days assumed, so 48 h);
# each failure waits 1 + maxWait/10 hours, at most maxWait: N x (3600 + 17280) s, at most 172800 s.
backoff_s() { b=$(($1 * (3600 + 172800 / 10))); [ $b -le 172800 ] || b=172800; echo $b; }
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
run_ccs 1 r4.out renew bad --config "$T/ccs.conf"
expect_contains r4.out "bad: renewing: no certificate yet" "fourth failure: attempted"
last=$(db_query "select last_attempt from certificates where name = 'bad'")
until_utc=$(utc $((last + $(backoff_s 4))))
run_ccs 0 st4.out status --config "$T/ccs.conf" --json
expect_eq "$(status_of st4.out bad 'c["failures"]')" 4 "status: 4 failures"
expect_eq "$(status_of st4.out bad 'c["last_result"]')" failed "status: last result failed"
expect_eq "$(status_of st4.out bad 'c["next_renewal"]')" "$until_utc" \
    "status: next renewal after Certify's backoff, 4 x 5.8 h ($until_utc)"
expect_eq "$(status_of st4.out bad 'c["why"]')" "backing off after 4 failures until $until_utc; no certificate yet" \
    "status: why says it is backing off (our backoff, not the CA's), until when"

o=$(orders)
: >tasks.log
run_ccs 2 r5.out renew bad --config "$T/ccs.conf"
expect_contains r5.out "bad: not due: backing off after 4 failures until $until_utc" \
    "a run during the backoff does not try, and says why"
expect_eq "$(orders)" "$o" "during the backoff: no order"
expect_eq "$(wc -c <tasks.log | tr -d ' ')" 0 "during the backoff: no task runs"
expect_eq "$(db_query "select failure_count from certificates where name = 'bad'")" 4 "during the backoff: no failure added"

# --force tries all the same (and does not blame the CA for our own backoff); the backoff grows.
o=$(orders)
run_ccs 1 r6.out renew bad --config "$T/ccs.conf" --force
expect_contains r6.out "bad: renewing: forced" "--force tries despite the backoff"
expect_not_contains r6.out "the CA asked us to wait" "--force: the CA asked for nothing"
[ "$(orders)" -gt "$o" ] && ok "--force: ordered" || fail "--force placed no order"
n=$(db_query "select failure_count from certificates where name = 'bad'")
last=$(db_query "select last_attempt from certificates where name = 'bad'")
run_ccs 0 st6.out status --config "$T/ccs.conf" --json
expect_eq "$(status_of st6.out bad 'c["failures"]')" "$n" "status: $n failures"
expect_eq "$(status_of st6.out bad 'c["next_renewal"]')" "$(utc $((last + $(backoff_s "$n"))))" \
    "status: the backoff grows with the failures ($n x 5.8 h)"

# ---- near expiry the backoff is lifted ------------------------------------------------------------------
# Pebble issues five-year certificates, so the certificate about to expire is made here: a test CA's
# certificate for near.example.test, valid from two days ago to twelve hours from now, installed as
# near's live certificate. near's fatal pre task fails, so each run fails without ordering.
make_ca nearca
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out near.key
openssl req -new -key near.key -subj /CN=near.example.test -out near.csr
printf 'subjectAltName=DNS:near.example.test\nbasicConstraints=CA:FALSE\n' >near.ext
mkdir -p nearca.d && : >nearca.d/index && echo 1000 >nearca.d/serial
cat >nearca.d/conf <<CONF
[ca]
default_ca = d
[d]
database = $T/nearca.d/index
new_certs_dir = $T/nearca.d
serial = $T/nearca.d/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CONF
openssl ca -batch -config nearca.d/conf -cert nearca.pem -keyfile nearca.key -in near.csr -out near.pem \
    -startdate "$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '12 hours' +%Y%m%d%H%M%SZ)" \
    -extfile near.ext -notext 2>/dev/null
d=$T/state/certs/near/1000
mkdir -p "$d"
cp near.pem "$d/cert.pem" && cp nearca.pem "$d/chain.pem" && cat near.pem nearca.pem >"$d/fullchain.pem"
cp near.key "$d/privkey.pem" && chmod 0600 "$d/privkey.pem"
ln -s 1000 "$T/state/certs/near/live"
cat >>ccs.conf <<CONF

[certificate "near"]
domains = near.example.test

[task "near.check"]
type = script
phase = pre
program = $T/fails.sh
fatal = yes
CONF
near_expiry=$(utc "$(date -u -d "$(openssl x509 -in near.pem -noout -enddate | sed 's/^notAfter=//')" +%s)")
i=0
while [ $i -lt 4 ]; do
    i=$((i + 1))
    run_ccs 1 "n$i.out" renew near --config "$T/ccs.conf"
done
expect_eq "$(db_query "select failure_count from certificates where name = 'near'")" 4 "near: four failures"
expect_contains n4.out "near: renewing: 75% of lifetime reached" "near: attempted while due"
run_ccs 0 stn.out status --config "$T/ccs.conf" --json
expect_contains stn.out "retrying despite 4 failures: expires on $near_expiry" \
    "status: the last day before expiry lifts the backoff, and says so"
run_ccs 1 n5.out renew near --config "$T/ccs.conf"
expect_contains n5.out "near: renewing: 75% of lifetime reached" "near expiry: a fifth attempt despite 4 failures"
expect_contains n5.out "retrying despite 4 failures: expires on $near_expiry" "... saying why"

# ---- the good one was never disturbed --------------------------------------------------------------------
run_ccs 2 g.out renew good --config "$T/ccs.conf"
expect_contains g.out "0 renewed, 0 failed, 1 not due" "the good certificate is not due"
expect_pfx_opens store/good.example.test.pfx store.pw state/certs/good/live/cert.pem "the good certificate's store file"

finish
