#!/bin/sh
# test_rekey.sh — `ccs store rekey` changes the store password: a dry run writes nothing; every
# file under the old password is rewritten under the new one (OpenSSL opens it with the new one,
# not the old), in its own format; a file under a third password is left alone, byte for byte, and
# makes the exit 1; a rekey killed after its first write (test point rekey-written:1) leaves a
# mixed store that a rerun finishes; a rekey waits while another writer holds the store lock; a
# rerun after that has nothing to do (exit 2).
. "$(dirname "$0")/lib.sh"

make_ca ca
make_password old 'old-store-password'
make_password new 'new-store-password'
make_password third 'someone-elses-password'
mkdir s
for h in a b c; do
    make_leaf "$h" ca "$h.example" "DNS:$h.example" 90
    run_ccs 0 "d-$h.out" deploy --store s --cert "$h.pem" --key "$h.key" --chain ca.pem \
        --password-file old
done
run_ccs 0 d-aes.out deploy --store s --cert c.pem --key c.key --chain ca.pem --password-file old \
    --format aes256 --force
make_leaf x ca x.example 'DNS:x.example' 90
mkdir other
run_ccs 0 d-x.out deploy --store other --cert x.pem --key x.key --chain ca.pem --password-file third
cp other/x.example.pfx s/
snapshot s >before
# exit 1: the third-password file would be left under another password

run_ccs_split 1 dry.json dry.err store rekey --store s --password-file old --new-password-file new \
    --dry-run --json
expect_snapshot_unchanged before s "dry run: store untouched"
expect_eq "$(json_eval dry.json 'd["rewritten"]')" 3 "dry run: three files to rewrite"
expect_eq "$(json_eval dry.json '[f["action"] for f in d["files"] if f["file"] == "x.example.pfx"]')" \
    left "dry run: the third-password file would be left"

# A rekey killed after its first file.
set +e
CCS_TEST_STOP_AT=rekey-written:1 "$CCS" store rekey --store s --password-file old \
    --new-password-file new >killed.out 2>&1 &
pid=$!
set -e
stopped=0
for _ in $(seq 1 300); do
    if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ]; then
        stopped=1
        break
    fi
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
expect_eq "$stopped" 1 "the rekey stopped after its first write"
under_new=0
for f in s/a.example.pfx s/b.example.pfx s/c.example.pfx; do
    if openssl pkcs12 -in "$f" -passin file:new -noout 2>/dev/null; then under_new=$((under_new + 1)); fi
done
expect_eq "$under_new" 1 "killed: one file under the new password, the others still old"

# The rerun finishes the job; the third-password file makes the exit 1 and is left alone.
run_ccs_split 1 rerun.out rerun.err store rekey --store s --password-file old --new-password-file new
expect_contains rerun.out "2 rewritten, 1 already done, 1 left alone, 0 failed" "rerun: finishes the job"
expect_contains rerun.err "x.example.pfx" "rerun: warns about the file left alone"
for f in a b c; do
    if openssl pkcs12 -in "s/$f.example.pfx" -passin file:new -noout 2>/dev/null &&
        ! openssl pkcs12 -in "s/$f.example.pfx" -passin file:old -noout 2>/dev/null; then
        ok "$f.example.pfx opens with the new password only"
    else
        fail "$f.example.pfx does not open with the new password only"
    fi
done
openssl pkcs12 -in s/c.example.pfx -passin file:new -info -noout >c-info.txt 2>&1 || true
expect_contains c-info.txt "AES-256-CBC" "the aes256 file stays aes256"
expect_eq "$(pfx_thumbprint s/a.example.pfx new)" "$(thumbprint a.pem)" "a.example.pfx holds its certificate"
expect_same_file s/x.example.pfx other/x.example.pfx "the third-password file is byte-identical"
expect_eq "$(file_mode s/a.example.pfx)" 640 "mode kept"

# Under the store lock: while another writer holds it (flock on the directory, as a deploy does),
# the rekey writes nothing and waits; released, it finishes.
rm s/x.example.pfx
make_password newer 'newer-store-password'
exec 9<s
flock -n 9 || fail "could not take the store lock for the test"
snapshot s >held
timeout 60 "$CCS" store rekey --store s --password-file new --new-password-file newer >held.out 2>&1 9<&- &
pid=$!
sleep 1
if kill -0 "$pid" 2>/dev/null; then ok "the rekey waits for the store lock"; else fail "the rekey did not wait for the store lock"; fi
expect_snapshot_unchanged held s "nothing written while another writer holds the lock"
exec 9<&-
set +e
wait "$pid"
rc=$?
set -e
expect_eq "$rc" 0 "the lock released, the rekey finishes (exit 0)"
expect_eq "$(pfx_thumbprint s/a.example.pfx newer)" "$(thumbprint a.pem)" "a.example.pfx under the newer password"
cp newer new

# Nothing left to do, once the odd file is gone.
snapshot s >after
run_ccs 2 again.out store rekey --store s --password-file old --new-password-file new
expect_snapshot_unchanged after s "rerun with nothing to do: store untouched"
expect_contains again.out "Set-IISCentralCertProvider" "the report says what to change on IIS"
run_ccs 0 check.out store check --store s --password-file new
run_ccs 1 same.out store rekey --store s --password-file new --new-password-file new
expect_contains same.out "the new password is the old one" "the same password twice is refused"

finish
