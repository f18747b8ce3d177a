# renew_lib.sh — a managed-certificate setup for the renewer's tests, on top of acme_lib.sh: a
# store, a password, and a config writer. Sourced after lib.sh and acme_lib.sh.

# renew_setup: a store and its 0600 password under $T, the hook log, exports for the hook.
renew_setup() {
    mkdir -p "$T/store" "$T/state" "$T/live" "$T/export"
    make_password "$T/store.pw" 'renew-Store-pw'
    HOOK_LOG=$T/hook.log
    export HOOK_LOG CHALLTEST_URL CHALLTEST_STATE_DIR
}

# write_config FILE [EXTRA_SECTIONS_FILE]: the [ccs] and [store] sections for the running Pebble,
# then EXTRA (certificates and tasks) appended.
write_config() {
    cat >"$1" <<CONF
; written by renew_lib.sh
[ccs]
state-dir = $T/state
server = $ACME_URL
ca-bundle = $ACME_CA_BUNDLE
contact = mailto:ops@example.test
agree-tos = yes
http-port = $HTTP01_PORT
live-dir = $T/live

[store "main"]
location = $T/store
password-file = $T/store.pw
format = compat
mode = 0640
CONF
    [ -z "${2:-}" ] || cat "$2" >>"$1"
}

# db_query SQL: run SQL against the state database (sqlite3 CLI, read-only).
db_query() {
    sqlite3 -readonly "$T/state/ccs.db" "$1"
}

# ---- kill tests: stopping ccs at a chosen point ---------------------------------------------------
# CCS_TEST_STOP_AT=POINT makes ccs stop itself (SIGSTOP) when it reaches the named point
# (src/util/testpoint.h); the test then sends SIGKILL, or SIGTERM/SIGINT followed by SIGCONT. The
# points the tests use:
#   task-start:CERT.TASK        just before a task runs (after the run decided to start it)
#   task-done:CERT.TASK         just after it returned, before its run is recorded
#   store-written:N             in a deploy-ccs task, after its Nth store file was renamed into place
#   export-renamed:CERT.TASK:N  in an export task, after its Nth rename
#   acme-poll:WHAT              before each look at an order's authorization (WHAT authorization),
#                               at the order before its finalize (order), after it (finalized-order)

# proc_state PID — the state letter of /proc/PID/stat (R, S, T, Z...), empty when PID is gone.
proc_state() {
    sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1
}

# wait_stopped PID [SECONDS] — wait until PID has stopped itself at its test point (state T).
# Returns 1 when it exits first, or does not stop within SECONDS (default 60).
wait_stopped() {
    ws_i=0
    while [ $ws_i -lt $((${2:-60} * 20)) ]; do
        case $(proc_state "$1") in
        T) return 0 ;;
        '' | Z) return 1 ;;
        esac
        sleep 0.05
        ws_i=$((ws_i + 1))
    done
    return 1
}

# leftover_temps DIR... — the temp files of atomic writes under the DIRs (ours: NAME.tmp-XXXXXX;
# the store's: .ccs-tmp-*), one a line.
leftover_temps() {
    find "$@" \( -name '*.tmp-*' -o -name '.ccs-tmp-*' \) -print 2>/dev/null | sort
}

# key_matches CERT_PEM KEY_PEM — the key is the certificate's.
key_matches() {
    [ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null | openssl sha256)" = \
      "$(openssl pkey -in "$2" -pubout 2>/dev/null | openssl sha256)" ]
}

# stop_timed PID [SIGNAL]: send SIGNAL (TERM) to a running ccs and wait for it to end; sets rc to
# its exit status and took_ms to the milliseconds from the signal to its end.
stop_timed() {
    st_start=$(date +%s%N)
    kill -"${2:-TERM}" "$1"
    set +e
    wait "$1"
    rc=$?
    set -e
    took_ms=$((($(date +%s%N) - st_start) / 1000000))
}
