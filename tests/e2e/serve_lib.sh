# serve_lib.sh — for tests/e2e/test_serve_*.sh: a store of test certificates, ccs.conf with a
# [serve] section, `ccs serve` itself, backends, and what real clients (openssl s_client, curl,
# gnutls-cli) are served. Sourced after lib.sh and acme_lib.sh:
#
#     E2E=$(cd "$(dirname "$0")" && pwd)
#     . "$E2E/lib.sh"
#     . "$E2E/acme_lib.sh"     # its port reservation and process tracking (nothing ACME starts)
#     . "$E2E/serve_lib.sh"
#
# Ports are acme_lib.sh's: random, below the ephemeral range, checked free, reserved for this test;
# processes are tracked by pid and start time and killed at exit (a watchdog does it if the shell
# is SIGKILLed). Everything listens on loopback only.
#
#   serve_store_init              CA "ca" (ca.pem), store password file pw, an empty store/
#   serve_cert NAME CN SANS [DAYS] [KEYSPEC]
#                                 a leaf NAME.pem signed by ca, deployed into store/ (one file per
#                                 name); its SHA-1 thumbprint in NAME.tp
#   echo_backend_start VAR        a TCP echo backend (backend.py echo); its port in VAR
#   serve_conf [LINE...]          write ccs.conf: [store "main"], then [serve] with listen (IPv4 and
#                                 IPv6 loopback on SERVE_PORT), store, backend (ECHO_PORT), admin
#                                 (ADMIN_PORT), workers = 2, and each LINE; SERVE_EXTRA is appended
#                                 after [serve] (other sections). Ports are reserved on first use.
#   serve_start [VAR=VALUE...]    start `ccs serve` (env VAR=VALUE) on ccs.conf, wait until /healthz
#                                 answers; SERVE_PID, SERVE_LOG. A port taken meanwhile: new ports.
#   serve_stop                    SIGTERM, wait (at most 5 s, then KILL)
#   serve_finish                  serve_stop, fail on a sanitizer report in any server log, finish
#   served SNI [OPTS...]          what openssl s_client is served for SNI ("-" for none): the leaf's
#                                 thumbprint, or "alert N" / "failed" when the handshake fails
#   metric NAME                   the value of NAME (with its labels, exactly) in /metrics
#   wait_served SNI TP MS         poll `served` until it prints TP; prints the milliseconds it took,
#                                 or "never" after MS

SERVE_E2E_DIR=${E2E:-$ACME_LIB_DIR}
SERVE_RUNS=0
SERVE_PID=""
SERVE_LOG=""
SERVE_EXTRA=${SERVE_EXTRA:-}

serve_die() {
    echo "serve_lib: $*" >&2
    exit 1
}

serve_store_init() {
    make_ca ca
    make_password pw 'serve-store-password'
    mkdir -p store
}

serve_cert() {
    make_leaf "$1" ca "$2" "$3" "${4:-90}" "${5:-ec:P-256}"
    "$CCS" deploy --store store --cert "$1.pem" --key "$1.key" --chain ca.pem --password-file pw \
        >"$1.deploy.log" 2>&1 || {
        cat "$1.deploy.log" >&2
        serve_die "cannot deploy $1"
    }
    thumbprint "$1.pem" >"$1.tp"
}

echo_backend_start() {
    _var=$1
    acme__reserve_port "$_var"
    eval "_port=\$$_var"
    python3 "$SERVE_E2E_DIR/serve/backend.py" echo "$_port" >"$T/echo.$_port.log" 2>&1 &
    acme__track "echo-backend-$_port" $!
    _i=0
    until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$_port" 2>/dev/null; do
        _i=$((_i + 1))
        [ $_i -lt 50 ] || serve_die "echo backend on $_port did not start"
        sleep 0.1
    done
}

serve_conf() {
    [ -n "${SERVE_PORT:-}" ] || acme__reserve_port SERVE_PORT
    [ -n "${ADMIN_PORT:-}" ] || acme__reserve_port ADMIN_PORT
    SERVE_CONF_LINES=""
    for _l in "$@"; do
        SERVE_CONF_LINES="$SERVE_CONF_LINES$_l
"
    done
    serve__write_conf
}

serve__write_conf() {
    {
        printf '[store "main"]\nlocation = %s/store\npassword-file = %s/pw\n\n' "$T" "$T"
        printf '[serve]\nlisten = 127.0.0.1:%s, [::1]:%s\nstore = main\n' "$SERVE_PORT" "$SERVE_PORT"
        printf 'backend = 127.0.0.1:%s\nadmin = 127.0.0.1:%s\nworkers = 2\n' "${ECHO_PORT:-9}" "$ADMIN_PORT"
        printf '%s' "$SERVE_CONF_LINES"
        printf '\n%s\n' "$SERVE_EXTRA"
    } >"$T/ccs.conf"
}

serve__healthy() {
    curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz" | grep -q 200
}

serve_start() {
    _attempt=0
    while :; do
        _attempt=$((_attempt + 1))
        SERVE_RUNS=$((SERVE_RUNS + 1))
        SERVE_LOG=$T/serve.$SERVE_RUNS.log
        env "$@" "$CCS" serve --config "$T/ccs.conf" </dev/null >"$SERVE_LOG" 2>&1 &
        SERVE_PID=$!
        acme__track ccs-serve "$SERVE_PID"
        _rc=0
        acme__wait_ready "ccs serve" "$SERVE_PID" "$SERVE_LOG" 20 serve__healthy || _rc=$?
        [ $_rc -eq 0 ] && return 0
        [ $_attempt -lt 5 ] || serve_die "ccs serve could not bind its ports after $_attempt tries"
        # a port was taken between the reservation and the bind: new ones
        acme__reserve_port SERVE_PORT
        acme__reserve_port ADMIN_PORT
        serve__write_conf
    done
}

serve_stop() {
    [ -n "$SERVE_PID" ] || return 0
    acme__kill "$SERVE_PID"
    SERVE_PID=""
}

# serve_finish — stop the server, then fail on any sanitizer report in any of its logs (ASan,
# UBSan, LeakSanitizer, TSan: their reports reach stderr, which the logs hold), then finish.
serve_finish() {
    serve_stop
    for _log in "$T"/serve.*.log; do
        [ -f "$_log" ] || continue
        if grep -q -E 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$_log"; then
            fail "$(basename "$_log"): a sanitizer report:"
            sed 's/^/    /' "$_log" >&2
        fi
    done
    finish
}

# served SNI [S_CLIENT OPTIONS...]
served() {
    _sni=$1
    shift
    if [ "$_sni" = - ]; then set -- -noservername "$@"; else set -- -servername "$_sni" "$@"; fi
    _out=$T/.served.$$
    # -brief prints the handshake's outcome; -showcerts the chain (the leaf first)
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -showcerts "$@" \
        >"$_out.txt" 2>"$_out.err" || true
    if grep -q 'BEGIN CERTIFICATE' "$_out.txt"; then
        sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$_out.txt" | sed '/END CERTIFICATE/q' \
            >"$_out.pem"
        thumbprint "$_out.pem"
    elif _alert=$(sed -n 's/.*alert number \([0-9]*\).*/\1/p' "$_out.err" | head -1) && [ -n "$_alert" ]; then
        echo "alert $_alert"
    else
        echo failed
    fi
}

metric() {
    curl -s -m 5 "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# wait_metric NAME VALUE SECONDS — print NAME's value once it is VALUE, or its last value after
# SECONDS: for what the server does after a client has gone (closing its side of a connection).
wait_metric() {
    wm_end=$(($(date +%s) + $3))
    while :; do
        wm_value=$(metric "$1")
        [ "$wm_value" = "$2" ] || [ "$(date +%s)" -ge $wm_end ] && break
        sleep 0.1
    done
    echo "$wm_value"
}

# now_ms — a monotonic-enough clock in milliseconds
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# wait_served SNI TP MS — prints the milliseconds until SNI was served TP, or "never" after MS
wait_served() {
    _start=$(now_ms)
    while :; do
        if [ "$(served "$1")" = "$2" ]; then
            echo $(($(now_ms) - _start))
            return 0
        fi
        if [ $(($(now_ms) - _start)) -gt "$3" ]; then
            echo never
            return 0
        fi
        sleep 0.02
    done
}
