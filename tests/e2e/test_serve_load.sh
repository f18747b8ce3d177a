#!/bin/sh
# test_serve_load.sh — a slow store never stalls cached names: 500 connections at once ask for
# names whose files are not cached, each load held for 2 s (CCS_TEST_SERVE_LOAD_DELAY_MS, a knob
# for tests only), while handshakes of a cached name keep completing — all of them while cold
# loads are still queued (an order, not a speed: the speed is bench/serve-vs-peers' job). Then
# every one of the 500 gets its own certificate and its echo.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

COLD=10
CONNECTIONS=500
DELAY_MS=2000

serve_store_init
serve_cert hot hot.example.com 'DNS:hot.example.com'
names=""
i=0
while [ $i -lt $COLD ]; do
    serve_cert "cold$i" "cold$i.example.com" "DNS:cold$i.example.com"
    names="$names cold$i.example.com"
    i=$((i + 1))
done
echo_backend_start ECHO_PORT
serve_conf "handshake-timeout = 120"
serve_start CCS_TEST_SERVE_LOAD_DELAY_MS=$DELAY_MS "CCS_TEST_SERVE_LOAD_DELAY_MATCH=cold*"
expect_contains "$SERVE_LOG" "CCS_TEST_SERVE_LOAD_DELAY_MS=$DELAY_MS is set" "the test-only knob says it is on"
expect_eq "$(served hot.example.com)" "$(cat hot.tp)" "precondition: hot.example.com served (and now cached)"

# shellcheck disable=SC2086
python3 "$E2E/serve/client.py" many "$SERVE_PORT" ca.pem $CONNECTIONS $names >many.out 2>&1 &
many=$!
acme__track many-clients "$many"
i=0
until [ "$(metric ccs_serve_handshakes_waited_for_load_total)" -ge 100 ] 2>/dev/null || [ $i -ge 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
waiting=$(metric ccs_serve_handshakes_waited_for_load_total)
queued=$(metric ccs_serve_loads_queued)
echo "measured: $waiting handshakes suspended for a load, $queued loads queued"
if [ "$queued" -gt 0 ]; then ok "cold loads are queued behind the slow ones"; else fail "no cold load queued: the test proves nothing"; fi

python3 "$E2E/serve/client.py" handshakes "$SERVE_PORT" ca.pem hot.example.com 50 >hot.out 2>&1
queued_after=$(metric ccs_serve_loads_queued)
echo "measured: cached-name handshakes during cold loads: $(cat hot.out)"
expect_eq "$(cut -d' ' -f1-4 hot.out)" "ok 50 failed 0" "50 handshakes of the cached name completed"
if [ "$queued_after" -gt 0 ]; then
    ok "... all while cold loads were still queued ($queued_after left): they waited for none of them"
else
    fail "the cold loads were done before the cached handshakes were: nothing shown"
fi
expect_eq "$(metric ccs_serve_cache_stale_hits_total)" 0 "the cached name never needed a reload"

wait "$many" || true
acme__forget "$many"
expect_eq "$(head -1 many.out)" "ok $CONNECTIONS failed 0" "all $CONNECTIONS cold connections got their own certificate and echo"
[ "$(head -1 many.out)" = "ok $CONNECTIONS failed 0" ] || cat many.out >&2
expect_eq "$(metric ccs_serve_cache_loads_total)" $((COLD + 1)) "one load per cold file (plus the hot one): concurrent handshakes shared them"
# The clients are gone; the server closes its side as it reads their end (later under ASan).
expect_eq "$(wait_metric ccs_serve_connections_active 0 10)" 0 "every connection closed (within 10 s of the clients' end)"

serve_finish
