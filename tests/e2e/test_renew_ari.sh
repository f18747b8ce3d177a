#!/bin/sh
# test_renew_ari.sh — the renewer with ACME Renewal Information (RFC 9773). Debian's Pebble 2.4 has
# no ARI, so the CA here is acme/fake_ari_proxy.py: a FAKE that fronts a real Pebble (orders,
# challenges and issuance stay Pebble's) and adds a renewalInfo endpoint whose window and
# Retry-After the test sets. Checked: the first run issues; with the window in the future the next
# run is not due and says why (the window, or the policy's point when that is earlier); once the
# window has passed (and the Retry-After the fake sent has run out, so ccs asks again) the next run
# renews, and its newOrder names the old certificate in "replaces"; `ccs status --json` follows.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/renew_lib.sh"

challtestsrv_start
pebble_start
# Retry-After: 1 on renewalInfo answers, so ccs may ask again a second later. The default window
# is 30 to 31 days from now.
fake_ari_start --retry-after 1
renew_setup

cat >certs.conf <<CONF

[certificate "www"]
domains = ari.example.test, www.ari.example.test

[task "www.ccs"]
type = deploy-ccs
store = main
fatal = yes
CONF
write_config ccs.conf certs.conf
sed -i "s|^server = .*|server = $FAKE_ACME_URL|" ccs.conf
grep -qx "server = $FAKE_ACME_URL" ccs.conf && ok "config points at the fake ARI proxy" ||
    fail "the server line was not rewritten"
run_ccs 0 check.out config check --config "$T/ccs.conf"

now() { date -u +%s; }
epoch() { date -u -d "$1" +%s; }
live=$T/state/certs/www/live
renewal_infos() { fake_log_eval 'sum(x.get("endpoint") == "renewalInfo" for x in r)'; }
new_orders() { fake_log_eval 'sum(x.get("endpoint") == "newOrder" and x.get("status", 0) < 400 for x in r)'; }

# ---- first run: no certificate yet, issued; nothing to replace ------------------------------------
run_ccs 0 r1.out renew --config "$T/ccs.conf"
expect_contains r1.out "www: renewing: no certificate yet" "first run: due, no certificate yet"
expect_contains r1.out "1 renewed, 0 failed" "first run: issued"
[ -s store/ari.example.test.pfx ] && ok "first run: deployed" || fail "first run: store lacks ari.example.test.pfx"
cp "$live/cert.pem" first.pem
id1=$(acme_cert_id first.pem)
expect_eq "$(new_orders)" 1 "first run: one newOrder, through the fake"
expect_eq "$(fake_log_eval '[("replaces" in x["payload"]) for x in r if x.get("endpoint") == "newOrder"][-1]')" \
    false "first run: the newOrder has no \"replaces\" (nothing to replace)"
expect_eq "$(renewal_infos)" 0 "first run: no renewal information asked (no certificate to ask about)"

# ---- window in the future: not due, and why ---------------------------------------------------------
run_ccs 2 r2.out renew --config "$T/ccs.conf"
expect_contains r2.out "0 renewed, 0 failed, 1 not due" "window in the future: not due (exit 2)"
expect_eq "$(renewal_infos)" 1 "window in the future: renewal information asked once"
expect_eq "$(fake_log_eval '[x["path"] for x in r if x.get("endpoint") == "renewalInfo"][-1]')" \
    "/renewal-info/$id1" "renewalInfo asked for the live certificate's identifier"
w_start=$(fake_log_eval '[x["window"]["start"] for x in r if x.get("endpoint") == "renewalInfo"][-1]')
w_end=$(fake_log_eval '[x["window"]["end"] for x in r if x.get("endpoint") == "renewalInfo"][-1]')
expect_contains r2.out "www: not due: due on " "window in the future: the not-due line says when"
expect_contains r2.out "ARI window $w_start .. $w_end" "window in the future: why names the CA's window"
expect_eq "$(db_query "select ari_start, ari_end from certificates where name = 'www'")" \
    "$(epoch "$w_start")|$(epoch "$w_end")" "the window is recorded in the database"
due=$(sed -n 's/^www: not due: due on \([^ ]*\) .*/\1/p' r2.out)
if [ -n "$due" ] && [ "$(epoch "$due")" -ge "$(epoch "$w_start")" ] && [ "$(epoch "$due")" -le "$(epoch "$w_end")" ]; then
    ok "the renewal point ($due) is inside the window"
else
    fail "the renewal point [$due] is not inside $w_start .. $w_end"
fi
expect_eq "$(db_query "select renew_at from certificates where name = 'www'")" "$(epoch "$due")" \
    "the renewal point is recorded"
expect_eq "$(new_orders)" 1 "window in the future: nothing ordered"

run_ccs 0 st2.out status --config "$T/ccs.conf" --json
expect_json st2.out "status --json parses"
expect_eq "$(json_eval st2.out 'd["certificates"][0]["last_result"]')" ok "status: last result ok"
expect_contains st2.out "ARI window $w_start .. $w_end" "status: why names the CA's window"
# What status calls the next renewal is when the renewer will renew: the same point.
expect_eq "$(json_eval st2.out 'd["certificates"][0]["next_renewal"]')" "$due" \
    "status: next_renewal is the renewer's point in the window"

# Asked again only after the Retry-After (1 s): within it, the stored window is used.
sleep 1.2
run_ccs 2 r3.out renew --config "$T/ccs.conf"
expect_eq "$(renewal_infos)" 2 "after the Retry-After: renewal information asked again"
expect_contains r3.out "www: not due: due on $due " "the same point on every run (not re-drawn)"

# ---- the window has passed (for this certificate): renewed, replacing it -----------------------------
fake_ari_control window "{\"cert_id\": \"$id1\", \"start\": \"-7200\", \"end\": \"-3600\"}" >window.out
p_start=$(json_eval window.out 'd["start"]')
p_end=$(json_eval window.out 'd["end"]')
sleep 1.2
snapshot store >store.before
run_ccs 0 r4.out renew --config "$T/ccs.conf"
expect_eq "$(renewal_infos)" 3 "window passed: renewal information asked again"
expect_contains r4.out "www: renewing: due on " "window passed: renewing"
expect_contains r4.out "ARI window $p_start .. $p_end, passed" "window passed: why names the passed window"
expect_contains r4.out "1 renewed, 0 failed" "window passed: renewed"
expect_eq "$(new_orders)" 2 "window passed: one more newOrder"
expect_eq "$(fake_log_eval '[x["payload"].get("replaces") for x in r if x.get("endpoint") == "newOrder"][-1]')" \
    "$id1" "the newOrder's \"replaces\" is the old certificate's ARI identifier (openssl's computation)"
expect_eq "$(fake_log_eval '[x.get("replaces_known") for x in r if x.get("endpoint") == "newOrder"][-1]')" \
    true "... one the CA issued"
expect_same_file "$T/state/certs/www/previous/cert.pem" first.pem "the replaced certificate is kept as previous"
id2=$(acme_cert_id "$live/cert.pem")
[ "$id2" != "$id1" ] && ok "a new certificate is live" || fail "the live certificate is still the first one"
expect_eq "$(pfx_thumbprint store/ari.example.test.pfx store.pw)" "$(thumbprint "$live/cert.pem")" \
    "the store holds the new certificate"
expect_eq "$(db_query "select serial from certificates where name = 'www'")" \
    "$(openssl x509 -in "$live/cert.pem" -noout -serial | sed 's/^serial=//')" "the database has the new serial"
expect_eq "$(db_query "select count(*) from renewals where cert = 'www' and ok = 1")" 2 "two renewals recorded"

run_ccs 0 st4.out status --config "$T/ccs.conf" --json
expect_eq "$(json_eval st4.out 'd["certificates"][0]["last_result"]')" ok "status after the ARI renewal: ok"
expect_eq "$(json_eval st4.out 'd["certificates"][0]["failures"]')" 0 "status: no failures"
expect_eq "$(json_eval st4.out 'd["certificates"][0]["not_after"]')" \
    "$(date -u -d "$(openssl x509 -in "$live/cert.pem" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)" \
    "status: the new certificate's expiry"
expect_eq "$(json_eval st4.out 'd["certificates"][0]["failing_tasks"]')" "" "status: no failing task"

# ---- the new certificate: its own window (the default one, in the future) ----------------------------
run_ccs 2 r5.out renew --config "$T/ccs.conf"
expect_eq "$(fake_log_eval '[x["path"] for x in r if x.get("endpoint") == "renewalInfo"][-1]')" \
    "/renewal-info/$id2" "the next run asks about the new certificate"
expect_contains r5.out "0 renewed, 0 failed, 1 not due" "the new certificate is not due"
expect_contains r5.out "ARI window $w_start .. $w_end" "... by its own (future) window"
expect_eq "$(new_orders)" 2 "nothing ordered"

# ---- a window later than the policy's point: the policy wins ------------------------------------------
fake_ari_control window "{\"cert_id\": \"$id2\", \"start\": \"+315360000\", \"end\": \"+315446400\"}" >late.out
sleep 1.2
run_ccs 2 r6.out renew --config "$T/ccs.conf"
expect_contains r6.out "75% of lifetime, before the ARI window" "a window past the policy's point: the policy's point, and why"
run_ccs 0 st6.out status --config "$T/ccs.conf" --json
expect_contains st6.out "75% of lifetime, before the ARI window" "status says the same"

# ---- Retry-After: 0 means ask again at any time, not "no Retry-After" (6 hours) ----------------------
fake_ari_control window "{\"cert_id\": \"$id2\", \"retry_after\": 0}" >ra0.out
sleep 1.2
t0=$(now)
run_ccs 2 r7.out renew --config "$T/ccs.conf"
expect_eq "$(fake_log_eval '[x.get("status") for x in r if x.get("endpoint") == "renewalInfo"][-1]')" 200 \
    "Retry-After 0: renewal information answered"
next_check=$(db_query "select ari_next_check from certificates where name = 'www'")
# RFC 9773 §4.3.2 suggests treating values under a minute as a minute; six hours is the default
# for an answer without Retry-After.
if [ $((next_check - t0)) -le 60 ]; then
    ok "Retry-After 0: asked again within a minute (next check in $((next_check - t0)) s)"
else
    fail "Retry-After 0: the next check is $((next_check - t0)) s away (the 6-hour default for no Retry-After)"
fi

# ---- within the Retry-After the stored window is used, not asked again --------------------------------
fake_ari_control window "{\"cert_id\": \"$id2\", \"retry_after\": 3600}" >ra3600.out
sleep 1.2
run_ccs 2 r8.out renew --config "$T/ccs.conf"
n8=$(renewal_infos)
run_ccs 2 r9.out renew --config "$T/ccs.conf"
expect_eq "$(renewal_infos)" "$n8" "within the CA's Retry-After (1 hour): not asked again"
expect_contains r9.out "75% of lifetime, before the ARI window" "... the stored window still counts"

finish
