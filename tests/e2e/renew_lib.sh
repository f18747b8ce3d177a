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
