#!/bin/sh
# test_prune.sh — `ccs deploy --previous OLD.pem` removes the files of names the old certificate had
# and the new one lacks, but only where the file still holds the old certificate (by thumbprint):
# a file another certificate now owns, or one that cannot be opened, is kept. Without --previous
# nothing is ever removed.
. "$(dirname "$0")/lib.sh"

make_ca ca
make_leaf old ca a.example.com 'DNS:a.example.com,DNS:b.example.com,DNS:c.example.com' 60
make_leaf new ca a.example.com 'DNS:a.example.com,DNS:b.example.com' 90
make_leaf X ca c.example.com 'DNS:c.example.com' 120
make_password pw 'prune-store-pw'
make_password otherpw 'not the store password'
tp_old=$(thumbprint old.pem) tp_new=$(thumbprint new.pem) tp_x=$(thumbprint X.pem)

deploy() { # deploy EXIT OUT STORE CERT [ARGS...]
    _want=$1 _out=$2 _store=$3 _cert=$4
    shift 4
    run_ccs "$_want" "$_out" deploy --store "$_store" --cert "$_cert.pem" --key "$_cert.key" \
        --chain ca.pem --password-file pw "$@"
}

# ---- the dropped name is removed -------------------------------------------------------------------
mkdir p1
deploy 0 p1-old.out p1 old
expect_eq "$(store_files p1)" "a.example.com.pfx
b.example.com.pfx
c.example.com.pfx" "old certificate: a, b, c"
# A dry run plans the removal and removes nothing.
snapshot p1 >p1.before
deploy 0 p1-dry.out p1 new --previous old.pem --dry-run
expect_snapshot_unchanged p1.before p1 "--dry-run --previous: nothing removed"
if grep -E '^ *removed ' p1-dry.out | grep -qF c.example.com.pfx; then
    ok "--dry-run --previous: plans to remove c.example.com.pfx"
else
    fail "--dry-run --previous: no planned removal of c.example.com.pfx:"
    sed 's/^/    /' p1-dry.out >&2
fi
run_ccs_split 0 p1-new.json p1-new.err deploy --store p1 --cert new.pem --key new.key --chain ca.pem \
    --password-file pw --previous old.pem --json
expect_json p1-new.json "prune: --json parses"
expect_eq "$(store_files p1)" "a.example.com.pfx
b.example.com.pfx" "prune: c.example.com.pfx removed, a and b remain"
expect_eq "$(json_eval p1-new.json '[e["action"] for e in d["entries"] if e["file"] == "c.example.com.pfx"]')" \
    removed "prune: JSON reports c.example.com.pfx removed"
expect_eq "$(json_eval p1-new.json '[e["action"] for e in d["entries"] if e["file"] in ("a.example.com.pfx", "b.example.com.pfx")]')" \
    "written
written" "prune: a and b written"
expect_eq "$(pfx_thumbprint p1/a.example.com.pfx pw)" "$tp_new" "prune: a holds the new certificate"
expect_eq "$(json_eval p1-new.json 'd["changed"]')" 3 "prune: changed counts 2 writes + 1 removal"
# Again: c is gone, a and b unchanged: nothing to do.
deploy 2 p1-again.out p1 new --previous old.pem
expect_not_contains p1-again.out "c.example.com" "prune re-run: a file already gone is not reported"

# ---- without --previous nothing is removed ------------------------------------------------------------
mkdir p2
deploy 0 p2-old.out p2 old
deploy 0 p2-new.out p2 new
expect_eq "$(store_files p2)" "a.example.com.pfx
b.example.com.pfx
c.example.com.pfx" "no --previous: c.example.com.pfx not removed"
expect_eq "$(pfx_thumbprint p2/c.example.com.pfx pw)" "$tp_old" "no --previous: c still holds the old certificate"
expect_eq "$(grep -c '^ *removed ' p2-new.out || true)" 0 "no --previous: no removal reported"

# ---- a name another certificate now owns is kept ---------------------------------------------------------
mkdir p3
deploy 0 p3-old.out p3 old
deploy 0 p3-x.out p3 X
expect_eq "$(pfx_thumbprint p3/c.example.com.pfx pw)" "$tp_x" "precondition: X (newer) took c.example.com.pfx"
cp p3/c.example.com.pfx c-x.copy
run_ccs_split 0 p3-new.json p3-new.err deploy --store p3 --cert new.pem --key new.key --chain ca.pem \
    --password-file pw --previous old.pem --json
expect_eq "$(store_files p3)" "a.example.com.pfx
b.example.com.pfx
c.example.com.pfx" "owned by another: c.example.com.pfx survives"
expect_eq "$(pfx_thumbprint p3/c.example.com.pfx pw)" "$tp_x" "owned by another: c still holds X"
expect_same_file p3/c.example.com.pfx c-x.copy "owned by another: c.example.com.pfx untouched"
expect_eq "$(json_eval p3-new.json '[e["action"] for e in d["entries"] if e["file"] == "c.example.com.pfx"]')" \
    kept "owned by another: report says kept"
expect_eq "$(json_eval p3-new.json '[(a[0] in e["detail"]) for e in d["entries"] if e["file"] == "c.example.com.pfx"]' "$tp_x")" \
    true "owned by another: the detail names the owner's thumbprint"
if grep -F c.example.com.pfx p3-new.err | grep -qi kept; then
    ok "owned by another: warning on stderr"
else
    fail "owned by another: no 'kept' warning for c.example.com.pfx on stderr:"
    sed 's/^/    /' p3-new.err >&2
fi

# ---- a prune candidate that cannot be opened is kept -------------------------------------------------------
mkdir p4
deploy 0 p4-old.out p4 old
openssl pkcs12 -export -in old.pem -inkey old.key -certfile ca.pem -passout file:otherpw \
    -out p4/c.example.com.pfx 2>/dev/null
chmod 0640 p4/c.example.com.pfx
cp p4/c.example.com.pfx c-wrongpw.copy
run_ccs_split 0 p4-new.json p4-new.err deploy --store p4 --cert new.pem --key new.key --chain ca.pem \
    --password-file pw --previous old.pem --json
expect_same_file p4/c.example.com.pfx c-wrongpw.copy "unopenable: c.example.com.pfx kept as it was"
expect_eq "$(json_eval p4-new.json '[e["action"] for e in d["entries"] if e["file"] == "c.example.com.pfx"]')" \
    kept "unopenable: report says kept"
expect_eq "$(json_eval p4-new.json '[("wrong password" in e["detail"]) for e in d["entries"] if e["file"] == "c.example.com.pfx"]')" \
    true "unopenable: the detail says why (wrong password)"
expect_eq "$(pfx_thumbprint p4/a.example.com.pfx pw)" "$tp_new" "unopenable: a still written"

finish
