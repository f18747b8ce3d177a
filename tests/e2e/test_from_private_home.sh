#!/bin/sh
# test_from_private_home.sh — the tests that drop privileges pass when root runs them from a
# clone in a 0700 home directory (issue 9, item 1), as on a fresh machine with the clone in
# /root. A clone is simulated: the binary under test and tests/e2e copied into a fresh 0700
# directory. test_bad_input.sh, which deploys as nobody, runs from there:
#   - with CCS_SCRATCH_ROOT, a world-searchable directory under /tmp made as scripts/test makes
#     it: it must pass, with its scratch there and its nobody part run;
#   - without it (its scratch inside the 0700 directory, as before scripts/test had a scratch
#     root): it must fail, because nobody cannot reach its files. That proves the scenario is the
#     one that broke, so a pass above means the scratch root fixed it.
# Root only: the scenario is root running tests that switch to nobody (as another user those
# tests run nothing as nobody). As another user it exits 77 (CTest: skipped), saying so.
e2e=$(cd "$(dirname "$0")" && pwd)
. "$e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root: the scenario is root running, from a 0700 home, tests that switch to"
    echo "      nobody (setpriv); as another user those tests switch to no one"
    exit 77
fi

home=$T/home
clone=$home/ccs
mkdir -p "$clone/build" "$clone/tests"
chmod 0700 "$home"
cp "$CCS" "$clone/build/ccs"
cp -R "$e2e" "$clone/tests/e2e"
if setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$clone/build/ccs"; then
    fail "nobody can reach $clone: the 0700 directory does not shut it out"
else
    ok "nobody cannot reach the clone in the 0700 directory"
fi

# The scratch root as scripts/test makes it: mktemp under /tmp, made world-searchable, one
# directory per stage; removed at the end.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ccs-test.XXXXXX")
chmod 0755 "$scratch"
mkdir "$scratch/plain"
trap 'rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM

# run_from_clone OUT [VAR=VALUE...] — test_bad_input.sh from the clone, as CTest runs it there.
run_from_clone() {
    out=$1
    shift
    set +e
    env -u CCS_SCRATCH_ROOT CCS="$clone/build/ccs" \
        CCS_TEST_TMP="$clone/build/tests/e2e-tmp/bad_input" "$@" \
        sh "$clone/tests/e2e/test_bad_input.sh" >"$out" 2>&1
    rc=$?
    set -e
}

run_from_clone with-root.out CCS_SCRATCH_ROOT="$scratch/plain"
if [ "$rc" = 0 ]; then
    ok "with CCS_SCRATCH_ROOT: test_bad_input.sh passes from the 0700 clone"
else
    fail "with CCS_SCRATCH_ROOT: test_bad_input.sh exited $rc from the 0700 clone:"
    grep -E '^FAIL|checks passed' with-root.out | sed 's/^/    /' >&2
fi
# Its part as nobody got as far as writing the store (and was refused there, as it expects).
expect_contains with-root.out "ok: unwritable store: names the file it could not write" \
    "with CCS_SCRATCH_ROOT: its part as nobody ran"
if [ -f "$scratch/plain/bad_input/store/good.example.com.pfx" ]; then
    ok "with CCS_SCRATCH_ROOT: its scratch is under the scratch root"
else
    fail "with CCS_SCRATCH_ROOT: no $scratch/plain/bad_input/store/good.example.com.pfx"
fi

run_from_clone without-root.out
if [ "$rc" != 0 ]; then
    ok "without CCS_SCRATCH_ROOT: test_bad_input.sh fails from the 0700 clone"
else
    fail "without CCS_SCRATCH_ROOT: test_bad_input.sh passed from the 0700 clone:" \
        "the scenario did not happen"
fi
expect_contains without-root.out "nobody cannot reach $clone/build/tests/e2e-tmp/bad_input" \
    "without CCS_SCRATCH_ROOT: it fails because nobody cannot reach its scratch"

finish
