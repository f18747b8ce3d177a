#!/bin/sh
# test_serve_changes.sh — no reload, ever, for certificates: while `ccs serve` runs (the same
# process throughout), a file renamed over a served one is served to the next handshakes within
# 1 s; a corrupt or wrong-password replacement keeps the last good certificate and the log names
# the host, the file and the reason; a removed file stops being served; a new file for a name
# that had none, and a new wildcard, are picked up. /metrics follows (not-after, load errors).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

serve_store_init
serve_cert v1 www.example.com 'DNS:www.example.com' 90
serve_cert dflt default.example.net 'DNS:default.example.net'
echo_backend_start ECHO_PORT
serve_conf "default-certificate = default.example.net"
serve_start
pid=$SERVE_PID
tp_dflt=$(cat dflt.tp)

# A PFX made in a staging store, renamed into the served one: one rename(2), as deploys do.
mkdir staging
stage() { # NAME CN SANS DAYS [PASSWORD_FILE]
    make_leaf "$1" ca "$2" "$3" "$4"
    rm -f staging/*
    "$CCS" deploy --store staging --cert "$1.pem" --key "$1.key" --chain ca.pem \
        --password-file "${5:-pw}" >/dev/null 2>&1 || fail "staging deploy of $1"
    thumbprint "$1.pem" >"$1.tp"
}
not_after_epoch() {
    date -u -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/notAfter=//')" +%s
}

expect_eq "$(served www.example.com)" "$(cat v1.tp)" "precondition: v1 served"
expect_eq "$(metric 'ccs_serve_certificate_not_after_seconds{file="www.example.com.pfx"}')" \
    "$(not_after_epoch v1.pem)" "metrics: v1's not-after"

# ---- renamed over: the next handshake gets it, within 1 s, no restart ----------------------------------
# No handshake between the rename and the reload: the change feed itself must reload the file,
# so that the very next handshake (not the one after) gets the new certificate.
stage v2 www.example.com 'DNS:www.example.com' 120
want=$(not_after_epoch v2.pem)
t0=$(now_ms)
mv staging/www.example.com.pfx store/www.example.com.pfx
until [ "$(metric 'ccs_serve_certificate_not_after_seconds{file="www.example.com.pfx"}')" = "$want" ] ||
    [ $(($(now_ms) - t0)) -gt 1000 ]; do
    sleep 0.01
done
took=$(($(now_ms) - t0))
if [ "$took" -le 1000 ]; then ok "renamed over: reloaded $took ms after the rename, before any handshake"; else
    fail "renamed over: not reloaded within 1 s without a handshake"
fi
echo "measured: rename to the new certificate ready: $took ms (the admin poll every 10 ms included)"
expect_eq "$(served www.example.com)" "$(cat v2.tp)" "renamed over: the next handshake gets v2"
expect_eq "$(metric ccs_serve_cache_stale_hits_total)" 0 "no handshake was served the old certificate after the change"
expect_contains "$SERVE_LOG" "store: www.example.com.pfx changed: reloading it" "the log says it reloaded the file"

# ---- a corrupt replacement: the last good stays ---------------------------------------------------------
head -c 700 /dev/urandom >staging/garbage
mv staging/garbage store/www.example.com.pfx
i=0
until grep -q 'cannot serve host www.example.com: www.example.com.pfx' "$SERVE_LOG" || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect_contains "$SERVE_LOG" "cannot serve host www.example.com: www.example.com.pfx" "corrupt: the log names host and file"
expect_contains "$SERVE_LOG" "stays in service" "corrupt: the log says the previous certificate stays"
expect_eq "$(served www.example.com)" "$(cat v2.tp)" "corrupt: the last good certificate (v2) is still served"
expect_eq "$(metric ccs_serve_cache_load_errors_total)" 1 "metrics: one load error"

# ---- a wrong-password replacement: the same -------------------------------------------------------------
make_password otherpw 'not-the-store-password'
stage v3 www.example.com 'DNS:www.example.com' 150 otherpw
mv staging/www.example.com.pfx store/www.example.com.pfx
i=0
until [ "$(metric ccs_serve_cache_load_errors_total)" = 2 ] || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect_eq "$(served www.example.com)" "$(cat v2.tp)" "wrong password: the last good certificate (v2) is still served"
grep 'cannot serve host www.example.com' "$SERVE_LOG" | tail -1 >last-error.txt
expect_contains last-error.txt "www.example.com.pfx" "wrong password: the log names the file"
expect_contains last-error.txt "password" "wrong password: the log says why"

# ---- good again, then removed: no longer served --------------------------------------------------------
stage v4 www.example.com 'DNS:www.example.com' 160
mv staging/www.example.com.pfx store/www.example.com.pfx
took=$(wait_served www.example.com "$(cat v4.tp)" 1000)
[ "$took" != never ] && ok "a good file again: v4 served after $took ms" || fail "v4 not served within 1 s"
rm store/www.example.com.pfx
took=$(wait_served www.example.com "$tp_dflt" 1000)
[ "$took" != never ] && ok "removed: no longer served ($took ms; the default certificate instead)" ||
    fail "removed: still served after 1 s: $(served www.example.com)"
expect_eq "$(metric 'ccs_serve_certificate_not_after_seconds{file="www.example.com.pfx"}')" "" "metrics: the removed file is no longer listed"

# ---- names that had nothing: a new file, a new wildcard -------------------------------------------------
expect_eq "$(served new.example.org)" "$tp_dflt" "precondition: new.example.org has no certificate yet"
stage new new.example.org 'DNS:new.example.org' 90
mv staging/new.example.org.pfx store/new.example.org.pfx
took=$(wait_served new.example.org "$(cat new.tp)" 1000)
[ "$took" != never ] && ok "a new file for a name that had none: served after $took ms" || fail "new.example.org not served within 1 s"
expect_eq "$(served other.example.org)" "$tp_dflt" "precondition: other.example.org has no certificate"
stage wild '*.example.org' 'DNS:*.example.org' 90
mv staging/_.example.org.pfx store/_.example.org.pfx
took=$(wait_served other.example.org "$(cat wild.tp)" 1000)
[ "$took" != never ] && ok "a new wildcard: other.example.org served by it after $took ms" || fail "the new wildcard not served within 1 s"
expect_eq "$(served new.example.org)" "$(cat new.tp)" "the exact file still beats the new wildcard"

expect_eq "$SERVE_PID" "$pid" "one process throughout: no restart"
kill -0 "$pid" && ok "still running" || fail "the server died"
if grep -q 'SIGHUP' "$SERVE_LOG"; then fail "a reload happened"; else ok "no reload was needed"; fi

# ---- before the watch is in place: caught up once it is -----------------------------------------------
# ccs serve sets its watch up after the workers accept (src/serve/changes.h), so a handshake can
# load a file before the watch sees its changes. A test knob holds the watch back 4 s; in that
# window a served file is renamed over and a name cached as having no file gets one. Neither makes
# an event; the one rescan once the watch is in place must pick both up, with no restart.
serve_stop
stage g1 gap.example.com 'DNS:gap.example.com' 90
mv staging/gap.example.com.pfx store/gap.example.com.pfx
stage g2 gap.example.com 'DNS:gap.example.com' 120
mkdir held && mv staging/gap.example.com.pfx held/
stage gnew gap.example.net 'DNS:gap.example.net' 90
mv staging/gap.example.net.pfx held/
serve_start CCS_TEST_SERVE_WATCH_DELAY_MS=4000
t0=$(now_ms)
expect_eq "$(served gap.example.com)" "$(cat g1.tp)" "before the watch: gap.example.com served (g1)"
expect_eq "$(served gap.example.net)" "$tp_dflt" "before the watch: gap.example.net has no file (default)"
mv held/gap.example.com.pfx store/gap.example.com.pfx
mv held/gap.example.net.pfx store/gap.example.net.pfx
# the scenario happened: the renames came before the watch, and no handshake saw them
expect_eq "$(served gap.example.com)" "$(cat g1.tp)" "before the watch: still g1 after the rename (cached, no event)"
expect_eq "$(served gap.example.net)" "$tp_dflt" "before the watch: still the default for gap.example.net"
in_window=$(($(now_ms) - t0))
[ "$in_window" -lt 4000 ] && ok "the renames came $in_window ms after the start, before the watch" ||
    fail "the renames came $in_window ms after the start: not before the watch (4 s); a slow machine?"
took=$(wait_served gap.example.com "$(cat g2.tp)" 6000)
[ "$took" != never ] && ok "after the watch: gap.example.com renamed over before it is served (g2)" ||
    fail "after the watch: gap.example.com still $(served gap.example.com), not g2"
took=$(wait_served gap.example.net "$(cat gnew.tp)" 2000)
[ "$took" != never ] && ok "after the watch: gap.example.net's new file is served" ||
    fail "after the watch: gap.example.net still gets $(served gap.example.net)"
expect_contains "$SERVE_LOG" "CCS_TEST_SERVE_WATCH_DELAY_MS=4000 is set" "the knob was in effect"

serve_finish
