#!/bin/sh
# test_newer_only.sh — a stale renewer can never roll a site back: a file holding a certificate that
# expires later is skipped (exit 2, warning naming the file) unless --force; a file that does not open
# with the store password is replaced and the report says so; --dry-run plans the same actions and
# writes nothing.
. "$(dirname "$0")/lib.sh"

make_ca ca
make_leaf B ca a.example.com 'DNS:a.example.com,DNS:b.example.com' 90
make_leaf A ca a.example.com 'DNS:a.example.com,DNS:b.example.com' 30
make_leaf A3 ca a.example.com 'DNS:a.example.com,DNS:b.example.com,DNS:c.example.com' 30
make_password pw 'newer-only-pw'
make_password otherpw 'some other password'
tp_a=$(thumbprint A.pem) tp_b=$(thumbprint B.pem) tp_a3=$(thumbprint A3.pem)

# ---- newer-only ----------------------------------------------------------------------------------------
mkdir s1
run_ccs 0 d1.out deploy --store s1 --cert B.pem --key B.key --chain ca.pem --password-file pw
for n in a b; do
    expect_eq "$(pfx_thumbprint "s1/$n.example.com.pfx" pw)" "$tp_b" "$n.example.com.pfx holds B"
done
snapshot s1 >s1.before
run_ccs_split 2 d2.out d2.err deploy --store s1 --cert A.pem --key A.key --chain ca.pem --password-file pw
for n in a b; do
    if grep -F "$n.example.com.pfx" d2.err | grep -qi "skipped"; then
        ok "older A: warning on stderr names $n.example.com.pfx as skipped"
    else
        fail "older A: no skipped warning for $n.example.com.pfx on stderr:"
        sed 's/^/    /' d2.err >&2
    fi
    if grep -F "$n.example.com.pfx" d2.err | grep -qF "$tp_b"; then
        ok "older A: the warning names the newer certificate it keeps"
    else
        fail "older A: the warning for $n.example.com.pfx does not name $tp_b"
    fi
    expect_eq "$(pfx_thumbprint "s1/$n.example.com.pfx" pw)" "$tp_b" "older A: $n.example.com.pfx still holds B"
done
expect_eq "$(grep -c '^ *skipped ' d2.out || true)" 2 "older A: report shows two skipped files"
expect_snapshot_unchanged s1.before s1 "older A: store untouched"

run_ccs 0 d3.out deploy --store s1 --cert A.pem --key A.key --chain ca.pem --password-file pw --force
for n in a b; do
    expect_eq "$(pfx_thumbprint "s1/$n.example.com.pfx" pw)" "$tp_a" "--force: $n.example.com.pfx holds A"
done
expect_eq "$(grep -c '^ *written ' d3.out || true)" 2 "--force: report shows two written files"
# And back: B is newer than A, so no force needed.
run_ccs 0 d4.out deploy --store s1 --cert B.pem --key B.key --chain ca.pem --password-file pw
expect_eq "$(pfx_thumbprint s1/a.example.com.pfx pw)" "$tp_b" "newer B replaces older A without --force"

# ---- files that do not open with the store password ------------------------------------------------------
mkdir s2
# a: B's PFX under another password (a newer certificate: ccs cannot know, so it must replace it)
openssl pkcs12 -export -in B.pem -inkey B.key -certfile ca.pem -passout file:otherpw \
    -out s2/a.example.com.pfx 2>/dev/null
# b: garbage
{ printf "garbage:"; head -c 3000 /dev/urandom; } >s2/b.example.com.pfx
chmod 0640 s2/*.pfx
run_ccs_split 0 d5.json d5.err deploy --store s2 --cert A.pem --key A.key --chain ca.pem \
    --password-file pw --json
expect_json d5.json "unopenable: --json parses"
for n in a b; do
    expect_eq "$(json_eval d5.json '[e["action"] for e in d["entries"] if e["file"] == a[0]]' "$n.example.com.pfx")" \
        written "unopenable $n.example.com.pfx is replaced"
    expect_eq "$(json_eval d5.json '[("could not be opened" in e["detail"]) for e in d["entries"] if e["file"] == a[0]]' "$n.example.com.pfx")" \
        true "report says $n.example.com.pfx could not be opened"
    expect_eq "$(pfx_thumbprint "s2/$n.example.com.pfx" pw)" "$tp_a" "$n.example.com.pfx now holds A under the store password"
done
expect_eq "$(json_eval d5.json '[("wrong password" in e["detail"]) for e in d["entries"] if e["file"] == "a.example.com.pfx"]')" \
    true "the file under another password: detail says wrong password"
expect_eq "$(json_eval d5.json '[("not PKCS#12" in e["detail"]) for e in d["entries"] if e["file"] == "b.example.com.pfx"]')" \
    true "the garbage file: detail says not PKCS#12"

# ---- --dry-run ---------------------------------------------------------------------------------------------
# s3: a = newer B (skipped), b = garbage (written: cannot be opened), c = missing (written: new file).
mkdir s3
run_ccs 0 d6.out deploy --store s3 --cert B.pem --key B.key --chain ca.pem --password-file pw
printf 'not a pfx\n' >s3/b.example.com.pfx
chmod 0640 s3/b.example.com.pfx
snapshot s3 >s3.before
run_ccs_split 0 dry.json dry.err deploy --store s3 --cert A3.pem --key A3.key --chain ca.pem \
    --password-file pw --json --dry-run
expect_snapshot_unchanged s3.before s3 "--dry-run: store unchanged"
expect_json dry.json "--dry-run --json parses"
expect_eq "$(json_eval dry.json 'd["dry_run"]')" true "--dry-run: JSON says dry_run"
plan=$(json_eval dry.json '["%s %s" % (e["file"], e["action"]) for e in d["entries"]]')
expect_eq "$plan" "a.example.com.pfx skipped
b.example.com.pfx written
c.example.com.pfx written" "--dry-run: plan is skip a (newer), write b (unopenable), write c (new)"
run_ccs 0 dry.out deploy --store s3 --cert A3.pem --key A3.key --chain ca.pem --password-file pw --dry-run
expect_snapshot_unchanged s3.before s3 "--dry-run (text): store unchanged"
expect_contains dry.out "dry run" "--dry-run: text output says it is a dry run"
expect_eq "$(grep -c '^ *written ' dry.out || true)" 2 "--dry-run text: two files would be written"
expect_eq "$(grep -c '^ *skipped ' dry.out || true)" 1 "--dry-run text: one file would be skipped"
run_ccs_split 0 real.json real.err deploy --store s3 --cert A3.pem --key A3.key --chain ca.pem \
    --password-file pw --json
expect_eq "$(json_eval real.json '["%s %s" % (e["file"], e["action"]) for e in d["entries"]]')" "$plan" \
    "the real run does what the dry run planned"
expect_eq "$(json_eval real.json 'd["dry_run"]')" false "real run: JSON says not dry_run"
expect_eq "$(pfx_thumbprint s3/a.example.com.pfx pw)" "$tp_b" "after the real run a still holds B"
expect_eq "$(pfx_thumbprint s3/b.example.com.pfx pw)" "$tp_a3" "after the real run b holds A3"
expect_eq "$(pfx_thumbprint s3/c.example.com.pfx pw)" "$tp_a3" "after the real run c holds A3"
# A dry run with nothing to do exits 2, like the real one.
run_ccs 2 dry2.out deploy --store s3 --cert A3.pem --key A3.key --chain ca.pem --password-file pw --dry-run

finish
