#!/bin/sh
# test_smb_torn_reads.sh — readers on the share never get a torn or half-written PFX while ccs
# redeploys it, and how often they find no file at all is measured, not hidden.
#
# libsmbclient replaces a file in two steps (smbc_rename: rename fails on the existing target,
# unlink it, rename again; see src/store/backend_smb.c), so a reader may find the name missing for
# one round trip. That window is what this test reports. What must never happen: a fetched file
# that does not open (torn, half-written, wrong MAC) — 0 of those, or the test fails.
#
# Readers are the smbclient command (an independent SMB client): READERS sessions, each fetching
# the file GETS_PER_SESSION times to distinct local names, again and again until the deploys end.
# CCS_SMB_TORN_DEPLOYS overrides the number of redeploys (default 200), for experiments only.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smb_lib.sh"

DEPLOYS=${CCS_SMB_TORN_DEPLOYS:-200}
READERS=3
GETS_PER_SESSION=100
HOST=www.example.com
STOP=$T/stop

smb_start
smb_mkdir "$SMB_RW/certs"
STORE=$SMB_URL/rw/certs

make_ca ca
make_leaf one ca "$HOST" "DNS:$HOST"
make_leaf two ca "$HOST" "DNS:$HOST"
make_password pw 'smb torn-reads password'
tp_one=$(thumbprint one.pem)
tp_two=$(thumbprint two.pem)

run_ccs 0 deploy-0.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert one.pem \
    --key one.key --chain ca.pem --password-file pw

# reader N: sessions of GETS_PER_SESSION fetches into rN/, until STOP exists.
reader() {
    n=$1 session=0
    mkdir -p "r$n"
    while [ ! -e "$STOP" ]; do
        session=$((session + 1))
        cmds=""
        g=1
        while [ $g -le $GETS_PER_SESSION ]; do
            cmds="${cmds}get certs/$HOST.pfx r$n/s$session-$g.pfx;"
            g=$((g + 1))
        done
        smb_client rw -c "$cmds" >>"r$n.log" 2>&1 || true
    done
}

i=1
while [ $i -le $READERS ]; do
    reader $i &
    i=$((i + 1))
done

start=$(date +%s)
deploy_failures=0
i=1
while [ "$i" -le "$DEPLOYS" ]; do
    if [ $((i % 2)) -eq 1 ]; then last=two; else last=one; fi
    if ! "$CCS" deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert "$last.pem" \
        --key "$last.key" --chain ca.pem --password-file pw --force >deploy.out 2>&1; then
        deploy_failures=$((deploy_failures + 1))
        [ "$deploy_failures" -gt 3 ] || { echo "deploy $i failed:" >&2; sed 's/^/    /' deploy.out >&2; }
    fi
    i=$((i + 1))
done
elapsed=$(($(date +%s) - start))
touch "$STOP"
wait
echo "deploys done after ${elapsed}s; checking what the readers fetched"

# Every fetched file opens and is one of the two certificates. Each deploy encodes anew (a fresh
# salt), so files are opened once per distinct content: a torn file is a content of its own.
fetched=$(find . -path './r*/s*.pfx' | wc -l)
torn=0 distinct=0
find . -path './r*/s*.pfx' -exec sha256sum {} + | sort -k1,1 -u >distinct.txt
while read -r _ f; do
    distinct=$((distinct + 1))
    tp=$(pfx_thumbprint "$f" pw || true)
    if [ "$tp" != "$tp_one" ] && [ "$tp" != "$tp_two" ]; then
        torn=$((torn + $(grep -c "^$(sha256sum "$f" | cut -c1-64) " distinct.txt)))
        echo "torn read: $f ($(wc -c <"$f") octets)" >&2
    fi
done <distinct.txt
# A failed fetch is "no file" (between smbc_rename's unlink and its rename) or "busy" (the old
# file is being deleted: delete pending, a sharing violation); anything else is an error.
# (smbclient's stdout and stderr share its log, so a status may be cut by another line: a status
# that is the start of exactly one expected name is that name; "NT_STATUS_OBJECT" was seen.)
grep -ho 'NT_STATUS_[A-Z_]*' r*.log >statuses.txt || true
awk '
    function starts(full, s) { return length(s) > length("NT_STATUS_") && index(full, s) == 1 }
    starts("NT_STATUS_OBJECT_NAME_NOT_FOUND", $0) { print "missing"; next }
    starts("NT_STATUS_SHARING_VIOLATION", $0) || starts("NT_STATUS_DELETE_PENDING", $0) { print "busy"; next }
    { print "other " $0 }' statuses.txt >classes.txt
missing=$(grep -c '^missing$' classes.txt || true)
busy=$(grep -c '^busy$' classes.txt || true)
other=$(grep -c '^other ' classes.txt || true)
reads=$((fetched + missing + busy + other))
pct() { awk "BEGIN { printf \"%.2f\", $reads ? 100 * $1 / $reads : 0 }"; }
echo "smb torn reads: $DEPLOYS deploys in ${elapsed}s ($deploy_failures failed); $reads reads by" \
    "$READERS smbclient readers: $fetched fetched ($distinct distinct contents), $torn failed to" \
    "open; $missing found no file ($(pct $missing)%), $busy found it busy being replaced" \
    "($(pct $busy)%), $other other errors"
sed -n 's/^other //p' classes.txt | sort | uniq -c | head -5 >&2 || true

expect_eq "$deploy_failures" 0 "all $DEPLOYS redeploys succeeded"
expect_eq "$torn" 0 "no fetched file failed to open (torn, half-written or wrong MAC)"
expect_eq "$other" 0 "no fetch failed for another reason than a missing file"
# The scenario happened: the readers read while the file changed under them.
[ "$fetched" -gt "$DEPLOYS" ] && ok "the readers fetched $fetched files during the deploys" ||
    fail "only $fetched files fetched: the readers did not race the deploys"
seen_one=0 seen_two=0
while read -r _ f; do
    case $(pfx_thumbprint "$f" pw) in
    "$tp_one") seen_one=1 ;;
    "$tp_two") seen_two=1 ;;
    esac
    [ $seen_one -eq 1 ] && [ $seen_two -eq 1 ] && break
done <distinct.txt
expect_eq "$seen_one$seen_two" 11 "the readers saw both certificates"
expect_eq "$(smb_ls rw certs | tr '\n' ' ')" "$HOST.pfx " "no temp or lock file left on the share"

finish
