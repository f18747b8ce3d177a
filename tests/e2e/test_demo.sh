#!/bin/sh
# test_demo.sh — scripts/demo explains itself (issue 9, item 2). It runs the real script (its setup
# call, its build of the binary under test's build directory, a real Pebble, ccs renew, ccs serve)
# and checks what it prints, as a new user would use it:
#   - it exits 0 and its output fits on two screens: at most 48 rows of an 80-column terminal
#     (a longer line counts once per 80 columns it takes);
#   - the package line names the setup log, which exists and holds scripts/setup's output;
#   - the summary: "Created in DIR" naming ccs.conf, store-password, state/ and store/, which exist
#     (the password file 0600), both certificates with their expiry, and three "next" commands;
#   - every printed command works when copied: each step command (run in the directory of the
#     printed "cd", while the --keep run's servers are up), each "next" command (from /, after
#     the default run stopped everything), and each printed server command ("... &"), started
#     again from its copy after the servers were stopped, comes up and serves (the copied curl
#     through the copied ccs serve and backend; the copied Pebble's and challtestsrv's APIs);
#   - --keep leaves the CA (Pebble, pebble-challtestsrv), the backend and ccs serve running, and
#     the printed stop command stops all four; without --keep the demo says it stopped them, and
#     none of them runs.
# CCS_DEMO_SCRIPT overrides the script run (a broken copy, to see these checks fail).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"

top=$(cd "$E2E/../.." && pwd)
build=$(cd "$(dirname "$CCS")" && pwd)
script=${CCS_DEMO_SCRIPT:-$top/scripts/demo}
# The demo's directory: a short path, as the default one is (BUILD/demo: /root/ccs/build/demo in a
# clone in /root): the printed paths count in the output's length.
demo=$(mktemp -d "${TMPDIR:-/tmp}/ccs-demo.XXXXXX")

# alive PID — the process runs (a zombie does not count)
alive() {
    case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) in
    Z | X | "") return 1 ;;
    esac
}
# Whatever a run left (a failed check, a kill of this test): the pids the demo recorded, with
# their start times, and the servers this test started itself.
mine=""
cleanup() {
    if [ -f "$demo/pids" ]; then
        while read -r pid st _n; do
            [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)" = "$st" ] &&
                kill -TERM "$pid" 2>/dev/null
        done <"$demo/pids"
    fi
    for pid in $mine; do kill -TERM "$pid" 2>/dev/null; done
    rm -rf "$demo"
    return 0
}
trap 'cleanup' EXIT
trap 'exit 1' INT TERM

# run_demo OUT [OPTION] — scripts/demo into $demo with the binary under test's build directory
run_demo() {
    set +e
    CCS_DEMO_BUILD=$build CCS_DEMO_DIR=$demo sh "$script" ${2:+"$2"} </dev/null >"$1" 2>&1
    demo_rc=$?
    set -e
}

# rows FILE — the rows FILE takes on an 80-column terminal
rows() {
    python3 -c '
import sys
print(sum(max(1, -(-len(l.rstrip("\n")) // 80)) for l in open(sys.argv[1], encoding="utf-8")))' "$1"
}

# section FILE FROM TO — the lines after the first line starting with FROM, up to (not including)
# the first one starting with TO after it
section() {
    awk -v from="$2" -v to="$3" '
        on && index($0, to) == 1 { exit }
        on { print }
        !on && index($0, from) == 1 { on = 1 }' "$1"
}

# check_output FILE WHAT — the checks both runs share
check_output() {
    out=$1 what=$2
    n=$(rows "$out")
    if [ "$n" -le 48 ]; then ok "$what: fits on two screens ($n rows at 80 columns)"; else
        fail "$what: $n rows at 80 columns, more than 48:"
        sed 's/^/    /' "$out" >&2
    fi
    log=$(sed -n 's/^Packages: .*, log: \(.*\)$/\1/p' "$out")
    if [ -n "$log" ] && [ -f "$log" ] && grep -q '^setup: ' "$log"; then
        ok "$what: the package line names the setup log ($log), which holds scripts/setup's output"
    else
        fail "$what: no 'Packages: ..., log: FILE' line naming scripts/setup's log (got [$log])"
    fi
    if grep -q '^setup:\|^Reading package\|^Get:' "$out"; then
        fail "$what: package installation output on the terminal, not in the log"
    else ok "$what: no package installation output on the terminal"; fi

    expect_contains "$out" "== Done. Created in $demo:" "$what: the summary says where it created its files"
    created=$(section "$out" "== Done. Created in" "Certificates issued")
    for f in ccs.conf store-password state/ store/; do
        if printf '%s\n' "$created" | grep -qF "$f" && [ -e "$demo/$f" ]; then
            ok "$what: the summary names $f, which exists in $demo"
        else
            fail "$what: the summary does not name $f, or $demo/$f does not exist:"
            printf '%s\n' "$created" | sed 's/^/    /' >&2
        fi
    done
    expect_eq "$(file_mode "$demo/store-password")" 600 "$what: the password file is 0600"
    certs=$(section "$out" "Certificates issued" "Try next")
    for c in "www       www.example.test, example.test, shop.example.test; expires 20" \
        "wildcard  *.apps.example.test, apps.example.test; expires 20"; do
        if printf '%s\n' "$certs" | grep -qF "$c"; then ok "$what: the summary lists [$c...]"; else
            fail "$what: the summary does not list [$c...]:"
            printf '%s\n' "$certs" | sed 's/^/    /' >&2
        fi
    done
    # the "$ " lines right after "Try next"
    awk 'on && !/^\$ / { exit } on { print substr($0, 3) } /^Try next/ { on = 1 }' "$out" >"$out.next"
    expect_eq "$(wc -l <"$out.next")" 3 "$what: three commands to try next"
}

# run_copied WHAT DIR COMMAND — COMMAND as a user pasting it into sh in DIR; must exit 0 (or, for
# a ccs renew run again, 2 with nothing due: ccs-renew(1)'s "nothing to do", a success)
run_copied() {
    set +e
    (cd "$2" && sh -c "$3") </dev/null >"$T/copied.out" 2>&1
    rc=$?
    set -e
    case $rc:$3 in
    2:*"/ccs renew --config "*) grep -q ' 0 failed, 2 not due$' "$T/copied.out" && rc=0 ;;
    esac
    if [ "$rc" = 0 ]; then ok "$1 works as printed: $3"; else
        fail "$1 exits $rc as printed: $3"
        sed 's/^/    /' "$T/copied.out" >&2
    fi
}

# --- scripts/demo --keep -------------------------------------------------------------------------
run_demo keep.out --keep
expect_eq "$demo_rc" 0 "scripts/demo --keep exits 0"
[ "$demo_rc" = 0 ] || sed 's/^/    /' keep.out >&2
check_output keep.out "--keep"

section keep.out "== 1." "== Done" >steps
cwd=$(sed -n 's/^\$ cd //p' steps | head -n1)
expect_eq "$cwd" "$demo" "the steps start with a cd into the demo directory"
if grep -q -- '--password-file store-password' steps; then
    ok "the store command is printed with its --password-file"
else fail "no step prints --password-file:"; sed 's/^/    /' steps >&2; fi
sed -n 's/^\$ //p' steps | grep -v '^cd ' | grep -v ' &$' >steps.fg || true
sed -n 's/^\$ //p' steps | grep ' &$' >steps.bg || true
expect_eq "$(wc -l <steps.fg)" 6 "6 foreground step commands (config check, renew, store check, curl, renew www, curl)"
expect_eq "$(wc -l <steps.bg)" 4 "4 server commands (challtestsrv, pebble, backend, ccs serve)"
while IFS= read -r cmd; do
    run_copied "step command" "$cwd" "$cmd"
done <steps.fg
while IFS= read -r cmd; do
    run_copied "next command" / "$cmd"
done <keep.out.next

stop=$(sed -n 's/^\$ \(kill [0-9 ]*\)$/\1/p' keep.out | tail -n1)
pids=${stop#kill }
expect_eq "$(echo "$pids" | wc -w)" 4 "--keep prints a stop command for 4 processes: [$stop]"
names=""
for pid in $pids; do
    if alive "$pid"; then names="$names $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-80)|"; else
        fail "pid $pid (in the stop command) is not running after scripts/demo --keep"
    fi
done
for want in "pebble-challtestsrv " "pebble " "-m http.server" "ccs serve "; do
    case $names in
    *"$want"*) ok "--keep leaves [$want] running" ;;
    *) fail "--keep: no [$want] among the processes of the stop command:$names" ;;
    esac
done
run_copied "the stop command" / "$stop"
i=0
while [ $i -lt 100 ]; do
    left=""
    for pid in $pids; do alive "$pid" && left="$left $pid"; done
    [ -n "$left" ] || break
    sleep 0.1
    i=$((i + 1))
done
expect_eq "$left" "" "the printed stop command stopped every kept process"

# The server commands, copied, start their servers again (the demo's are stopped: ports free).
while IFS= read -r cmd; do
    (cd "$cwd" && exec sh -c "exec ${cmd% &}") </dev/null >/dev/null 2>&1 &
    mine="$mine $!"
done <steps.bg
curl_cmd=$(grep '^curl ' steps.fg | head -n1)
mgmt=$(sed -n 's/.*-management \(127\.0\.0\.1:[0-9]*\).*/\1/p' steps.bg)
acme=$(sed -n 's/^server = //p' "$demo/ccs.conf")
i=0
until (cd "$cwd" && sh -c "$curl_cmd") >/dev/null 2>&1 &&
    curl -sf -m 2 -o /dev/null --cacert "$demo/pebble/ca.pem" "$acme" &&
    curl -s -m 2 -o /dev/null "http://$mgmt/"; do
    i=$((i + 1))
    [ $i -lt 200 ] || break
    sleep 0.1
done
if [ $i -lt 200 ]; then
    ok "the 4 copied server commands start their servers: the copied curl gets through the copied ccs serve, Pebble and challtestsrv answer"
else
    fail "the copied server commands did not all come up within 20 s (curl through ccs serve, $acme, http://$mgmt/)"
fi
for pid in $mine; do
    alive "$pid" || fail "a copied server command exited (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
mine=""

# --- scripts/demo (default: everything stopped at the end) ----------------------------------------
run_demo default.out
expect_eq "$demo_rc" 0 "scripts/demo exits 0"
[ "$demo_rc" = 0 ] || sed 's/^/    /' default.out >&2
check_output default.out "default"
expect_contains default.out "Stopped the 4 servers" "without --keep it says it stopped the servers"
expect_not_contains default.out '$ kill ' "without --keep there is no stop command"
left=""
while read -r pid _st _n; do
    alive "$pid" && left="$left $pid"
done <"$demo/pids"
expect_eq "$left" "" "without --keep none of the demo's servers runs after it"
while IFS= read -r cmd; do
    run_copied "next command (after the demo)" / "$cmd"
done <default.out.next

finish
