# acme_lib.sh — a real Pebble (+ pebble-challtestsrv, + the fake ARI/profiles proxy) for the ACME
# end-to-end tests. Sourced AFTER lib.sh by tests/e2e/test_acme_*.sh:
#
#     E2E=$(cd "$(dirname "$0")" && pwd)    # before lib.sh: lib.sh cd's into the scratch directory
#     . "$E2E/lib.sh"
#     . "$E2E/acme_lib.sh"
#     challtestsrv_start                    # DNS first: Pebble resolves every name through it
#     pebble_start                          # or: pebble_start eab
#
# Also usable outside CTest (bench/): without lib.sh and without CCS_TEST_TMP it works in a fresh
# mktemp directory, removed at exit (set ACME_KEEP_TMP=1 to keep it). Set ACME_LIB_DIR to the
# directory holding this file when $0 is not a script in that directory.
#
# Functions (each one exits the script with a clear message and the failing process's log tail
# when something does not come up; call them directly, never in $(...) or a pipeline, since they
# export variables and record the processes they start):
#   challtestsrv_start      DNS_PORT, CHALLTEST_URL (http://127.0.0.1:PORT, its management API;
#                           the port alone: CHALLTEST_MGMT_PORT),
#                           CHALLTEST_STATE_DIR (used by acme/dns01-challtestsrv-hook)
#   pebble_start [eab]      ACME_URL, ACME_CA_BUNDLE, ACME_PORT, PEBBLE_MGMT_PORT, PEBBLE_MGMT_URL,
#                           HTTP01_PORT, TLSALPN_PORT, PEBBLE_LOG; with eab also EAB_KID, EAB_HMAC_FILE
#   challtest_txt NAME      the TXT values challtestsrv's DNS serves for NAME, one a line, sorted
#   pebble_stop             stops Pebble (all its state is lost; pebble_start again for a new one)
#   pebble_root_pem FILE [N]          every root (/roots/0 .. /roots/K, K = PEBBLE_ALTERNATE_ROOTS
#                                     as it was at pebble_start),
#                                     or only root N, into FILE
#   pebble_intermediate_pem FILE [N]  the same for /intermediates/N
#   pebble_cert_status SERIAL         JSON of /cert-status-by-serial/SERIAL (hex, any case, with or
#                                     without "serial=" and colons)
#   fake_ari_start [OPTIONS]          the FAKE ARI/profiles proxy in front of Pebble (options: see
#                                     acme/fake_ari_proxy.py --help): FAKE_ACME_URL, FAKE_LOG,
#                                     FAKE_PORT, FAKE_CONTROL_URL
#   fake_ari_stop
#   fake_ari_control WHAT JSON        POST JSON to the proxy's /_fake/WHAT (window, fault)
#   fake_log_eval EXPR [ARG...]       python3 expression over r = the proxy's log records (a list of
#                                     dicts), a = ARGs; prints like lib.sh's json_eval
#   acme_cert_id CERT_PEM             the RFC 9773 certificate identifier of CERT_PEM's first
#                                     certificate, computed with openssl (independent of the proxy)
#   acme_dump_logs [LINES]            the tail of every harness process's log, to stderr
#   acme_cleanup                      what the EXIT trap runs; call it from your own EXIT trap if
#                                     you set one (setting one replaces the harness's)
# Also set: ACME_HOOK (acme/dns01-challtestsrv-hook: uacme-style dns-01 hook for challtestsrv),
# ACME_FAILING_HOOK (acme/failing-hook: always exits 1), ACME_LIB_DIR (tests/e2e); in acme/ also
# mini_acme.py (a minimal independent ACME client, to probe the server side) and lego-exec-adaptor.
#
# Processes are killed at exit (also on failure, INT, TERM), only those the harness started (by pid,
# checked against their start time); a watchdog kills them within a second if the test shell dies
# without running its trap (SIGKILL by a CTest timeout). On a non-zero exit the logs' tails are
# printed (ACME_DUMP_ON_FAILURE=0 to silence). Everything listens on 127.0.0.1 only. Ports are picked
# at random below the kernel's ephemeral range, checked free, and reserved with mkdir under
# ${TMPDIR:-/tmp}/ccs-acme-ports.UID so parallel tests (ctest -j) never pick the same one.

if [ -z "${T:-}" ]; then
    if [ -n "${CCS_TEST_TMP:-}" ]; then
        rm -rf "$CCS_TEST_TMP"
        mkdir -p "$CCS_TEST_TMP"
        T=$CCS_TEST_TMP
    else
        T=$(mktemp -d "${TMPDIR:-/tmp}/ccs-acme.XXXXXX")
        ACME_OWN_TMP=1
    fi
fi

if [ -z "${ACME_LIB_DIR:-}" ]; then
    for _d in "${E2E:-}" "$(dirname "$0")" "${OLDPWD:-}/$(dirname "$0")"; do
        if [ -n "$_d" ] && [ -f "$_d/acme/fake_ari_proxy.py" ]; then
            ACME_LIB_DIR=$(cd "$_d" && pwd)
            break
        fi
    done
fi
if [ -z "${ACME_LIB_DIR:-}" ] || [ ! -f "$ACME_LIB_DIR/acme/fake_ari_proxy.py" ]; then
    echo "acme_lib.sh: cannot find tests/e2e (with acme/fake_ari_proxy.py): set ACME_LIB_DIR," \
        "or set E2E=\$(cd \"\$(dirname \"\$0\")\" && pwd) before sourcing lib.sh" >&2
    exit 1
fi
# The hooks run as whoever runs ccs — in some tests another user (nobody), who may not be able to
# enter the source tree (a clone in a 0700 home): run copies from the scratch directory.
mkdir -p "$T/.acme-hooks"
cp "$ACME_LIB_DIR/acme/dns01-challtestsrv-hook" "$ACME_LIB_DIR/acme/failing-hook" "$T/.acme-hooks/"
chmod 0755 "$T/.acme-hooks" "$T/.acme-hooks/dns01-challtestsrv-hook" "$T/.acme-hooks/failing-hook"
ACME_HOOK=$T/.acme-hooks/dns01-challtestsrv-hook
ACME_FAILING_HOOK=$T/.acme-hooks/failing-hook

# What the harness exports belongs to the harness: a nested harness (a test started from a test)
# must not take its parent's for its own.
unset DNS_PORT CHALLTEST_MGMT_PORT CHALLTEST_URL CHALLTEST_STATE_DIR CHALLTEST_PID ACME_URL \
    ACME_CA_BUNDLE ACME_PORT PEBBLE_MGMT_PORT PEBBLE_MGMT_URL HTTP01_PORT TLSALPN_PORT PEBBLE_LOG EAB_KID EAB_HMAC_FILE \
    FAKE_ACME_URL FAKE_LOG FAKE_PORT FAKE_CONTROL_URL

ACME_RUN=$T/.acme # challtestsrv hook state, scratch files
mkdir -p "$ACME_RUN"
# The processes started, "pid:starttime:name" words, newest last, and the port reservations held:
# kept in the shell's memory, not in files, so that cleanup works even if $T is removed under us.
ACME_PROCS=""
ACME_PORT_DIR=${TMPDIR:-/tmp}/ccs-acme-ports.$(id -u)
ACME_PORTS_HELD=""
ACME_WATCHDOG_PID=""
ACME_PEBBLE_PID=""
ACME_FAKE_PID=""
ACME_PEBBLE_STARTS=0
ACME_FAKE_STARTS=0

acme_die() {
    echo "acme_lib: $*" >&2
    exit 1
}

for _tool in openssl curl python3 od; do
    command -v "$_tool" >/dev/null 2>&1 || acme_die "needs $_tool (scripts/setup installs it)"
done

# --- processes -------------------------------------------------------------------------------------

# acme__starttime PID — the process's start time in clock ticks (field 22 of /proc/PID/stat), or
# nothing if it is gone. With the pid it names one process for good: pids are reused, this pair not.
acme__starttime() {
    [ -r "/proc/$1/stat" ] || return 0
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# acme__running PID — the process exists and is not a zombie
acme__running() {
    [ -r "/proc/$1/stat" ] || return 1
    _st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# acme__track NAME PID — remember a process the harness started (for cleanup and the watchdog)
acme__track() {
    ACME_PROCS="$ACME_PROCS $2:$(acme__starttime "$2"):$1"
    acme__start_watchdog # (re)started with the lists as they are now
}

# acme__forget PID — drop PID from ACME_PROCS
acme__forget() {
    _keep=""
    for _w in $ACME_PROCS; do
        [ "${_w%%:*}" = "$1" ] || _keep="$_keep $_w"
    done
    ACME_PROCS=$_keep
}

# acme__kill PID — TERM, up to 5 s for it to go, then KILL; reaps it. Only if it is still the
# process we recorded (same start time).
acme__kill() {
    _pid=$1
    _want=""
    for _w in $ACME_PROCS; do
        if [ "${_w%%:*}" = "$_pid" ]; then
            _want=${_w#*:}
            _want=${_want%%:*}
        fi
    done
    if [ -n "$_want" ] && acme__running "$_pid" && [ "$(acme__starttime "$_pid")" = "$_want" ]; then
        kill -TERM "$_pid" 2>/dev/null || true
        _i=0
        while acme__running "$_pid" && [ $_i -lt 50 ]; do
            sleep 0.1
            _i=$((_i + 1))
        done
        if acme__running "$_pid"; then
            echo "acme_lib: pid $_pid ignored TERM for 5 s, sending KILL" >&2
            kill -KILL "$_pid" 2>/dev/null || true
        fi
    fi
    wait "$_pid" 2>/dev/null || true
    acme__forget "$_pid"
}

# The watchdog: a subshell that sleeps while the test shell lives; if the shell vanishes without
# cleaning up (SIGKILL), it kills the recorded processes (pid + start time must still match) and
# drops the port reservations. It gets the lists as they are when it starts: acme__track restarts
# it after each new process.
acme__start_watchdog() {
    acme__stop_watchdog
    _parent=$$
    _pstart=$(acme__starttime $$)
    (
        trap 'exit 0' TERM # interrupts the wait; the sleep ends within a second by itself
        while acme__running "$_parent" && [ "$(acme__starttime "$_parent")" = "$_pstart" ]; do
            sleep 1 &
            wait $!
        done
        for _w in $ACME_PROCS; do
            _p=${_w%%:*} _s=${_w#*:}
            [ "$(acme__starttime "$_p")" = "${_s%%:*}" ] && kill -TERM "$_p" 2>/dev/null
        done
        _i=0
        while [ $_i -lt 20 ]; do
            _alive=0
            for _w in $ACME_PROCS; do
                _p=${_w%%:*} _s=${_w#*:}
                [ "$(acme__starttime "$_p")" = "${_s%%:*}" ] && _alive=1
            done
            [ $_alive = 1 ] || break
            sleep 0.1
            _i=$((_i + 1))
        done
        for _w in $ACME_PROCS; do
            _p=${_w%%:*} _s=${_w#*:}
            [ "$(acme__starttime "$_p")" = "${_s%%:*}" ] && kill -KILL "$_p" 2>/dev/null
        done
        for _port in $ACME_PORTS_HELD; do
            rm -rf "${ACME_PORT_DIR:?}/$_port"
        done
    ) </dev/null >/dev/null 2>&1 &
    ACME_WATCHDOG_PID=$!
}

acme__stop_watchdog() {
    [ -n "$ACME_WATCHDOG_PID" ] || return 0
    kill -TERM "$ACME_WATCHDOG_PID" 2>/dev/null || true
    wait "$ACME_WATCHDOG_PID" 2>/dev/null || true
    ACME_WATCHDOG_PID=""
}

# acme_dump_logs [LINES] — the tail of every harness log to stderr
acme_dump_logs() {
    for _log in "$T"/challtestsrv*.log "$T"/pebble*.log "$T"/fake_ari*.log; do
        [ -f "$_log" ] || continue
        echo "---- $_log (last ${1:-40} lines) ----" >&2
        tail -n "${1:-40}" "$_log" | sed 's/^/    /' >&2
    done
}

acme_cleanup() {
    _rc=${1:-$?}
    trap - EXIT
    if [ "$_rc" -ne 0 ] && [ "${ACME_DUMP_ON_FAILURE:-1}" != 0 ]; then
        echo "acme_lib: exit status $_rc; harness logs follow" >&2
        acme_dump_logs 40
    fi
    acme__stop_watchdog
    # newest first: the proxy before Pebble before challtestsrv
    _rev=""
    for _w in $ACME_PROCS; do
        _rev="${_w%%:*} $_rev"
    done
    for _p in $_rev; do
        acme__kill "$_p"
    done
    acme__release_ports
    if [ "${ACME_OWN_TMP:-0}" = 1 ] && [ "${ACME_KEEP_TMP:-0}" != 1 ]; then
        cd / && rm -rf "$T"
    fi
    return "$_rc"
}

trap 'acme_cleanup $?' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports -----------------------------------------------------------------------------------------

# acme__port_bindable PORT PROTO... — nobody holds PORT on 127.0.0.1 for each PROTO (tcp, udp)
acme__port_bindable() {
    python3 - "$@" <<'PY'
import socket, sys
port = int(sys.argv[1])
for proto in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

# acme__reserve_port VAR [PROTO...] — sets VAR to a random free port below the ephemeral range,
# reserved for this test (mkdir is atomic: two tests never get the same one). PROTO: tcp (default),
# udp, or both.
acme__reserve_port() {
    _var=$1
    shift
    [ $# -gt 0 ] || set -- tcp
    mkdir -p "$ACME_PORT_DIR"
    _eph_lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    _lo=20000 _hi=$_eph_lo
    if [ "$_hi" -le $((_lo + 1000)) ]; then _lo=10000; fi
    if [ "$_hi" -le $((_lo + 1000)) ]; then
        _lo=$(($(cut -f2 /proc/sys/net/ipv4/ip_local_port_range) + 1)) _hi=65535
    fi
    # the harness's own test forces a taken port once: ACME_FORCE_PORT_<VAR>=PORT
    eval "_forced=\${ACME_FORCE_PORT_$_var:-}"
    if [ -n "$_forced" ]; then
        unset "ACME_FORCE_PORT_$_var"
        eval "$_var=\$_forced"
        return 0
    fi
    _tries=0
    while [ $_tries -lt 200 ]; do
        _tries=$((_tries + 1))
        _r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        _port=$((_lo + _r % (_hi - _lo)))
        if ! mkdir "$ACME_PORT_DIR/$_port" 2>/dev/null; then
            # held: by a live test, or left by one that died (owner gone or a different process)
            read -r _op _os <"$ACME_PORT_DIR/$_port/owner" 2>/dev/null || continue
            [ "$(acme__starttime "$_op")" = "$_os" ] && continue
            rm -rf "${ACME_PORT_DIR:?}/$_port"
            mkdir "$ACME_PORT_DIR/$_port" 2>/dev/null || continue
        fi
        echo "$$ $(acme__starttime $$)" >"$ACME_PORT_DIR/$_port/owner"
        ACME_PORTS_HELD="$ACME_PORTS_HELD $_port"
        if acme__port_bindable "$_port" "$@"; then
            eval "$_var=\$_port"
            return 0
        fi
        # in use by something else: keep it reserved (so we do not retry it), pick another
    done
    acme_die "no free port found for $_var after 200 tries (in $_lo..$_hi)"
}

acme__release_ports() {
    for _port in $ACME_PORTS_HELD; do
        rm -rf "${ACME_PORT_DIR:?}/$_port"
    done
    ACME_PORTS_HELD=""
}

# --- waiting ---------------------------------------------------------------------------------------

# acme__wait_ready NAME PID LOG SECONDS CMD... — poll CMD every 0.1 s until it succeeds. Returns 0
# when ready, 2 when the process logged "address already in use" (it is stopped; the caller
# retries with new ports: pebble-challtestsrv logs a failed bind and keeps running without that
# listener); dies with the log tail if the process died otherwise or SECONDS passed.
acme__wait_ready() {
    _name=$1 _wpid=$2 _wlog=$3 _secs=$4
    shift 4
    _n=0
    while [ $_n -lt $((_secs * 10)) ]; do
        if grep -qi 'address already in use' "$_wlog" 2>/dev/null; then
            echo "acme_lib: $_name: a port was taken meanwhile; retrying with others" >&2
            acme__kill "$_wpid"
            return 2
        fi
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! acme__running "$_wpid"; then
            wait "$_wpid" 2>/dev/null && _st=0 || _st=$?
            acme__forget "$_wpid"
            if grep -qi 'address already in use' "$_wlog" 2>/dev/null; then
                echo "acme_lib: $_name: a port was taken meanwhile; retrying with others" >&2
                return 2
            fi
            echo "acme_lib: $_name (pid $_wpid) exited with status $_st before it was ready; $_wlog:" >&2
            tail -n 30 "$_wlog" | sed 's/^/    /' >&2
            exit 1
        fi
        sleep 0.1
        _n=$((_n + 1))
    done
    echo "acme_lib: $_name (pid $_wpid) not ready after $_secs s (waiting for: $*); $_wlog:" >&2
    tail -n 30 "$_wlog" | sed 's/^/    /' >&2
    exit 1
}

# acme__dns_answers PORT — challtestsrv's DNS answers an A query over UDP
acme__dns_answers() {
    python3 - "$1" <<'PY'
import random, socket, struct, sys
tid = random.randrange(65536)
q = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + b"\x05probe\x07example\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
data, _ = s.recvfrom(512)
sys.exit(0 if data[:2] == q[:2] else 1)
PY
}

acme__challtest_ready() {
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$1/" && acme__dns_answers "$2"
}

# --- certificates for the harness's own HTTPS ----------------------------------------------------

# acme__harness_ca — once per test directory: a CA, and an HTTPS server certificate for localhost
# and 127.0.0.1 (::1 too) signed by it. Pebble and the fake proxy both present it; ACME_CA_BUNDLE
# is the CA.
acme__harness_ca() {
    _d=$T/pebble
    [ -s "$_d/ca.pem" ] && [ -s "$_d/server.pem" ] && [ -s "$_d/server.key" ] && return 0
    mkdir -p "$_d"
    if ! {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$_d/ca.key" -out "$_d/ca.pem" -subj "/CN=ccs test harness CA for Pebble" \
            -days 30 -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign &&
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$_d/server.key" -out "$_d/server.csr" -subj "/CN=localhost" &&
            printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' \
                'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
                'extendedKeyUsage=serverAuth' >"$_d/server.ext" &&
            openssl x509 -req -in "$_d/server.csr" -CA "$_d/ca.pem" -CAkey "$_d/ca.key" \
                -CAcreateserial -days 30 -extfile "$_d/server.ext" -out "$_d/server.pem"
    } >"$_d/openssl.log" 2>&1; then
        cat "$_d/openssl.log" >&2
        acme_die "could not make the harness CA and HTTPS certificate in $_d"
    fi
    chmod 600 "$_d/ca.key" "$_d/server.key"
}

# --- pebble-challtestsrv ---------------------------------------------------------------------------

challtestsrv_start() {
    command -v pebble-challtestsrv >/dev/null 2>&1 ||
        acme_die "pebble-challtestsrv not found (Debian package pebble; scripts/setup installs it)"
    [ -z "${CHALLTEST_PID:-}" ] || acme_die "challtestsrv_start: already running (pid $CHALLTEST_PID)"
    _log=$T/challtestsrv.log
    _attempt=0
    while :; do
        _attempt=$((_attempt + 1))
        acme__reserve_port DNS_PORT tcp udp
        acme__reserve_port CHALLTEST_MGMT_PORT tcp
        # its own http-01, https-01 and tls-alpn-01 responders are off: the client under test
        # answers those. (2.4 has no DoH listener, so no -doh flag.)
        pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -management "127.0.0.1:$CHALLTEST_MGMT_PORT" \
            -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
            </dev/null >"$_log" 2>&1 &
        CHALLTEST_PID=$!
        acme__track challtestsrv "$CHALLTEST_PID"
        _rc=0
        # ready: the management API answers (any HTTP status) and so does the DNS
        acme__wait_ready pebble-challtestsrv "$CHALLTEST_PID" "$_log" 20 \
            acme__challtest_ready "$CHALLTEST_MGMT_PORT" "$DNS_PORT" || _rc=$?
        if [ $_rc -eq 2 ] && [ $_attempt -lt 5 ]; then
            CHALLTEST_PID=""
            continue
        fi
        [ $_rc -eq 0 ] || {
            tail -n 30 "$_log" >&2
            acme_die "pebble-challtestsrv could not bind its ports after $_attempt tries"
        }
        break
    done
    CHALLTEST_URL=http://127.0.0.1:$CHALLTEST_MGMT_PORT
    CHALLTEST_STATE_DIR=$ACME_RUN/challtest-txt
    mkdir -p "$CHALLTEST_STATE_DIR"
    export DNS_PORT CHALLTEST_MGMT_PORT CHALLTEST_URL CHALLTEST_STATE_DIR
}

# challtest_txt NAME — the TXT values challtestsrv's DNS serves for NAME (e.g.
# _acme-challenge.x.example), one a line, sorted; nothing when there are none.
challtest_txt() {
    [ -n "${DNS_PORT:-}" ] || acme_die "challtest_txt: challtestsrv_start first"
    python3 - "$DNS_PORT" "$1" <<'PY'
import random, socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2].rstrip(".")
tid = random.randrange(65536)
q = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 16, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("127.0.0.1", port))
d, _ = s.recvfrom(4096)
if d[:2] != q[:2]:
    sys.exit("challtest_txt: answer to another query")
count, i = struct.unpack(">H", d[6:8])[0], len(q)
out = []
for _ in range(count):
    if d[i] & 0xC0 == 0xC0:
        i += 2
    else:
        while d[i]:
            i += d[i] + 1
        i += 1
    rtype, _, _, rdlen = struct.unpack(">HHIH", d[i:i + 10])
    i += 10
    rd, i = d[i:i + rdlen], i + rdlen
    if rtype == 16:
        j, val = 0, b""
        while j < len(rd):
            val += rd[j + 1:j + 1 + rd[j]]
            j += 1 + rd[j]
        out.append(val.decode())
for v in sorted(out):
    print(v)
PY
}

# --- Pebble ----------------------------------------------------------------------------------------

# pebble_start [eab]
pebble_start() {
    command -v pebble >/dev/null 2>&1 || acme_die "pebble not found (Debian package pebble; scripts/setup installs it)"
    [ -n "${DNS_PORT:-}" ] ||
        acme_die "pebble_start: call challtestsrv_start first (Pebble resolves names through its DNS)"
    [ -z "$ACME_PEBBLE_PID" ] || acme_die "pebble_start: Pebble already running (pid $ACME_PEBBLE_PID); pebble_stop first"
    _eab=false
    case "${1:-}" in
    "") ;;
    eab) _eab=true ;;
    *) acme_die "pebble_start: unknown argument [$1] (only: eab)" ;;
    esac
    acme__harness_ca
    ACME_CA_BUNDLE=$T/pebble/ca.pem
    ACME_PEBBLE_ALT_ROOTS=${PEBBLE_ALTERNATE_ROOTS:-0}
    case $ACME_PEBBLE_ALT_ROOTS in
    *[!0-9]* | "") acme_die "PEBBLE_ALTERNATE_ROOTS=[$ACME_PEBBLE_ALT_ROOTS] is not a number" ;;
    esac
    ACME_PEBBLE_STARTS=$((ACME_PEBBLE_STARTS + 1))
    if [ $ACME_PEBBLE_STARTS -eq 1 ]; then PEBBLE_LOG=$T/pebble.log; else PEBBLE_LOG=$T/pebble.$ACME_PEBBLE_STARTS.log; fi
    _cfg=$T/pebble/pebble-config.$ACME_PEBBLE_STARTS.json
    _eab_json=""
    if [ $_eab = true ]; then
        EAB_KID=kid-ccs-test-$ACME_PEBBLE_STARTS
        EAB_HMAC_FILE=$T/pebble/eab-hmac.$ACME_PEBBLE_STARTS
        # 48 random bytes, base64url without padding (the form of Pebble's example keys, and what
        # Pebble decodes)
        (umask 077 && openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_' >"$EAB_HMAC_FILE" &&
            echo >>"$EAB_HMAC_FILE")
        _eab_json=", \"externalAccountMACKeys\": {\"$EAB_KID\": \"$(cat "$EAB_HMAC_FILE")\"}"
    fi
    if [ "${PEBBLE_VA_ALWAYS_VALID:-0}" != 0 ]; then
        echo "acme_lib: note: PEBBLE_VA_ALWAYS_VALID=$PEBBLE_VA_ALWAYS_VALID is set: Pebble will not validate challenges" >&2
    fi
    _attempt=0
    while :; do
        _attempt=$((_attempt + 1))
        acme__reserve_port ACME_PORT
        acme__reserve_port PEBBLE_MGMT_PORT
        acme__reserve_port HTTP01_PORT
        acme__reserve_port TLSALPN_PORT
        cat >"$_cfg" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
    "certificate": "$T/pebble/server.pem",
    "privateKey": "$T/pebble/server.key",
    "httpPort": $HTTP01_PORT,
    "tlsPort": $TLSALPN_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": $_eab$_eab_json
  }
}
EOF
        PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP-1} pebble -config "$_cfg" -dnsserver "127.0.0.1:$DNS_PORT" \
            </dev/null >"$PEBBLE_LOG" 2>&1 &
        ACME_PEBBLE_PID=$!
        acme__track pebble "$ACME_PEBBLE_PID"
        _rc=0
        acme__wait_ready pebble "$ACME_PEBBLE_PID" "$PEBBLE_LOG" 30 \
            sh -c "curl -sf -m 2 -o /dev/null --cacert '$ACME_CA_BUNDLE' https://127.0.0.1:$ACME_PORT/dir &&
                   curl -sf -m 2 -o /dev/null --cacert '$ACME_CA_BUNDLE' https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0" ||
            _rc=$?
        if [ $_rc -eq 2 ] && [ $_attempt -lt 5 ]; then
            ACME_PEBBLE_PID=""
            continue
        fi
        [ $_rc -eq 0 ] || { tail -n 30 "$PEBBLE_LOG" >&2; acme_die "pebble could not bind its ports after $_attempt tries"; }
        break
    done
    ACME_URL=https://127.0.0.1:$ACME_PORT/dir
    PEBBLE_MGMT_URL=https://127.0.0.1:$PEBBLE_MGMT_PORT
    export ACME_URL ACME_CA_BUNDLE ACME_PORT PEBBLE_MGMT_PORT PEBBLE_MGMT_URL HTTP01_PORT TLSALPN_PORT PEBBLE_LOG
    if [ $_eab = true ]; then export EAB_KID EAB_HMAC_FILE; fi
}

pebble_stop() {
    [ -n "$ACME_PEBBLE_PID" ] || return 0
    acme__kill "$ACME_PEBBLE_PID"
    ACME_PEBBLE_PID=""
}

# acme__mgmt_get PATH OUTFILE — GET from Pebble's management API, dies on any error
acme__mgmt_get() {
    [ -n "${PEBBLE_MGMT_URL:-}" ] || acme_die "Pebble's management API: pebble_start first"
    if ! curl -sS -f -m 30 --cacert "$ACME_CA_BUNDLE" -o "$2" "$PEBBLE_MGMT_URL$1" 2>"$2.err"; then
        cat "$2.err" >&2
        acme_die "GET $PEBBLE_MGMT_URL$1 failed"
    fi
    rm -f "$2.err"
}

# acme__mgmt_pems KIND FILE [N] — roots or intermediates, all (0..PEBBLE_ALTERNATE_ROOTS) or N
acme__mgmt_pems() {
    _kind=$1 _out=$2
    if [ -n "${3:-}" ]; then
        acme__mgmt_get "/$_kind/$3" "$_out"
        return 0
    fi
    : >"$_out.all"
    _i=0
    while [ $_i -le "$ACME_PEBBLE_ALT_ROOTS" ]; do
        acme__mgmt_get "/$_kind/$_i" "$_out.one"
        cat "$_out.one" >>"$_out.all"
        _i=$((_i + 1))
    done
    rm -f "$_out.one"
    mv "$_out.all" "$_out"
}

pebble_root_pem() {
    [ -n "${1:-}" ] || acme_die "usage: pebble_root_pem FILE [N]"
    acme__mgmt_pems roots "$1" "${2:-}"
}

pebble_intermediate_pem() {
    [ -n "${1:-}" ] || acme_die "usage: pebble_intermediate_pem FILE [N]"
    acme__mgmt_pems intermediates "$1" "${2:-}"
}

# pebble_cert_status SERIALHEX — prints Pebble's JSON ({"Status": "Valid"|"Revoked", "Serial",
# "Certificate", "Reason", "RevokedAt"}). Pebble wants lower-case hex without leading zeros.
pebble_cert_status() {
    [ -n "${1:-}" ] || acme_die "usage: pebble_cert_status SERIALHEX"
    _s=$(printf '%s' "$1" | sed 's/^serial=//; s/://g' | tr 'A-F' 'a-f' | sed 's/^0*//')
    acme__mgmt_get "/cert-status-by-serial/${_s:-0}" "$ACME_RUN/cert-status.json"
    cat "$ACME_RUN/cert-status.json"
}

# --- the FAKE ARI / profiles proxy -----------------------------------------------------------------

# fake_ari_start [fake_ari_proxy.py OPTIONS...]
fake_ari_start() {
    [ -n "${ACME_PORT:-}" ] || acme_die "fake_ari_start: pebble_start first (the proxy fronts it)"
    [ -z "$ACME_FAKE_PID" ] || acme_die "fake_ari_start: already running (pid $ACME_FAKE_PID); fake_ari_stop first"
    _d=$T/pebble
    if [ ! -s "$_d/fake.pem" ]; then
        if ! {
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$_d/fake.key" -out "$_d/fake.csr" -subj "/CN=fake ARI proxy" &&
                openssl x509 -req -in "$_d/fake.csr" -CA "$_d/ca.pem" -CAkey "$_d/ca.key" \
                    -CAcreateserial -days 30 -extfile "$_d/server.ext" -out "$_d/fake.pem"
        } >"$_d/openssl-fake.log" 2>&1; then
            cat "$_d/openssl-fake.log" >&2
            acme_die "could not make the fake proxy's HTTPS certificate"
        fi
        chmod 600 "$_d/fake.key"
    fi
    ACME_FAKE_STARTS=$((ACME_FAKE_STARTS + 1))
    if [ $ACME_FAKE_STARTS -eq 1 ]; then _sfx=""; else _sfx=.$ACME_FAKE_STARTS; fi
    _log=$T/fake_ari$_sfx.log
    FAKE_LOG=$T/fake_ari$_sfx.jsonl
    : >"$FAKE_LOG"
    _attempt=0
    while :; do
        _attempt=$((_attempt + 1))
        acme__reserve_port FAKE_PORT
        python3 "$ACME_LIB_DIR/acme/fake_ari_proxy.py" --listen "127.0.0.1:$FAKE_PORT" \
            --upstream "https://127.0.0.1:$ACME_PORT" --upstream-ca "$ACME_CA_BUNDLE" \
            --cert "$_d/fake.pem" --key "$_d/fake.key" --log "$FAKE_LOG" "$@" \
            </dev/null >"$_log" 2>&1 &
        ACME_FAKE_PID=$!
        acme__track fake_ari_proxy "$ACME_FAKE_PID"
        _rc=0
        acme__wait_ready fake_ari_proxy "$ACME_FAKE_PID" "$_log" 20 \
            curl -sf -m 2 -o /dev/null --cacert "$ACME_CA_BUNDLE" "https://127.0.0.1:$FAKE_PORT/_fake/ping" || _rc=$?
        if [ $_rc -eq 2 ] && [ $_attempt -lt 5 ]; then
            ACME_FAKE_PID=""
            continue
        fi
        [ $_rc -eq 0 ] || { tail -n 30 "$_log" >&2; acme_die "fake_ari_proxy could not bind a port after $_attempt tries"; }
        break
    done
    FAKE_ACME_URL=https://127.0.0.1:$FAKE_PORT/dir
    FAKE_CONTROL_URL=https://127.0.0.1:$FAKE_PORT/_fake
    export FAKE_ACME_URL FAKE_LOG FAKE_PORT FAKE_CONTROL_URL
}

fake_ari_stop() {
    [ -n "$ACME_FAKE_PID" ] || return 0
    acme__kill "$ACME_FAKE_PID"
    ACME_FAKE_PID=""
}

# fake_ari_control WHAT JSON — e.g. fake_ari_control window '{"start": "-60", "end": "+60"}',
# fake_ari_control fault '{"status": 429, "match": "/order-plz"}'. Prints the proxy's answer.
fake_ari_control() {
    [ -n "${FAKE_CONTROL_URL:-}" ] || acme_die "fake_ari_control: fake_ari_start first"
    if ! curl -sS -f -m 30 --cacert "$ACME_CA_BUNDLE" -H 'Content-Type: application/json' \
        --data-binary "$2" "$FAKE_CONTROL_URL/$1" >"$ACME_RUN/control.out" 2>&1; then
        cat "$ACME_RUN/control.out" >&2
        acme_die "fake_ari_control $1 $2 failed"
    fi
    cat "$ACME_RUN/control.out"
    echo
}

# fake_log_eval EXPR [ARG...] — evaluate EXPR with r = list of the proxy's log records, a = ARGs.
# Record keys: seq, time, method, path, endpoint (newNonce, newAccount, newOrder, order, authz,
# challenge, finalize, certificate, renewalInfo, directory, revokeCert, keyChange, account, ...),
# status, problem (error answers' type), kind (forward, directory, ari, fault, reject, control); for JWS POSTs: protected, payload
# ("" for POST-as-GET); newOrder: profile, replaces, replaces_known; ari: cert_id, known;
# certificate downloads: cert_id. A list prints one item a line; dicts, lists and tuples print as
# JSON (a tuple as a JSON array). Example: fake_log_eval 'sum(x["endpoint"] == "renewalInfo" for x in r)'
fake_log_eval() {
    [ -n "${FAKE_LOG:-}" ] || acme_die "fake_log_eval: fake_ari_start first"
    python3 - "$FAKE_LOG" "$@" <<'PY'
import json, sys
r = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if line:
        r.append(json.loads(line))
a = sys.argv[3:]
try:
    v = eval(sys.argv[2])
except Exception as e:
    print("<error: %r>" % e)
    sys.exit(0)
def show(x):
    if isinstance(x, (dict, list, tuple)):
        print(json.dumps(x, sort_keys=True))
    else:
        print("true" if x is True else "false" if x is False else "null" if x is None else x)
if isinstance(v, (list, tuple)):
    for x in v:
        show(x)
else:
    show(v)
PY
}

# acme_cert_id CERT_PEM — RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial's DER
# content octets, i.e. with a leading 00 when the high bit is set), no padding. Uses openssl only.
acme_cert_id() {
    _aki=$(openssl x509 -in "$1" -noout -ext authorityKeyIdentifier 2>/dev/null |
        sed -n '2,$p' | tr -d ' \n' | sed 's/^keyid://; s/,.*//; s/://g')
    _ser=$(openssl x509 -in "$1" -noout -serial | sed 's/^serial=//')
    [ -n "$_aki" ] && [ -n "$_ser" ] || acme_die "acme_cert_id: no AKI keyIdentifier or serial in $1"
    python3 - "$_aki" "$_ser" <<'PY'
import base64, sys
aki = bytes.fromhex(sys.argv[1])
s = sys.argv[2]
if len(s) % 2:
    s = "0" + s
ser = bytes.fromhex(s)
while len(ser) > 1 and ser[0] == 0 and ser[1] < 0x80:  # minimal two's complement
    ser = ser[1:]
if ser[0] >= 0x80:
    ser = b"\0" + ser
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
print(b(aki) + "." + b(ser))
PY
}
