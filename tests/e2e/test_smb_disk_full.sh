#!/bin/sh
# test_smb_disk_full.sh — a share that fills up in the middle of a deploy (issue 10: errors say
# "disk full"). The store's folder on the share is a small tmpfs mounted (as root) under the
# test's smbd directory, with a filler file leaving room for a few files only; a 100-name
# certificate is deployed into it:
#   - exit 1, the message names the store and says "disk full", no password in the output;
#   - the files the store held before (three names, the last three of the new certificate, so
#     that their replacement is what runs out of space) are intact and open with OpenSSL; every
#     file there opens and holds the old or the new certificate, whole; no temp file is left;
#   - a full disk before the lock can be taken says "disk full" too, and leaves nothing behind;
#   - once the filler is removed, the same deploy completes: all 100 names, the new certificate.
#
# Root only: mounting a tmpfs needs it. As an ordinary user a tmpfs can be mounted only in a user
# namespace (unshare -Urm), and Samba 4.17's tools do not run there: pdbedit panics in tdb's
# mutex set-up as the namespace's root. The test then says so and exits 77 (CTest: skipped).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smb_lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED (as $(id -un)): a full share needs a small tmpfs mounted, which needs root; in a" \
        "user namespace (unshare -Urm) Samba's pdbedit/smbd do not run. Run as root (scripts/test does)."
    exit 77
fi

NAMES=100
# The tmpfs: room for the 100 files, the temp file and the lock file (a page each) with some left.
FS_KIB=1024
# Room left by the filler for the failing deploy: about 25 of the 4 KiB pages a file takes.
ROOM_KIB=100

smb_start
case $SMB_RW in
/tmp/ccs-smbd-e2e.*/rw) ;;
*)
    fail "smbd's share directory is not where smb_start puts it: [$SMB_RW]; not mounting anything"
    finish
    ;;
esac
FULL=$SMB_RW/full
mkdir -p "$FULL"
mount -t tmpfs -o "size=${FS_KIB}k,mode=0700" ccs-test-full "$FULL" || {
    fail "cannot mount a tmpfs on $FULL as root"
    finish
}
# smbd first (it holds the mount busy), then the mount, then smbd's directory
trap 'sh "$SMB_SERVER_SH" stop "$SMB_DIR"; umount "$FULL" || umount -l "$FULL" || true; smb_stop_all; touch "$T/.stop"' EXIT
chown "$SMB_USER" "$FULL"
STORE=$SMB_URL/rw/full
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")
make_password pw 'smb disk full store password'
STORE_PASSWORD=$(cat pw)

all_sans=""
i=1
while [ $i -le $NAMES ]; do
    all_sans="${all_sans}${all_sans:+,}DNS:n$i.example.com"
    i=$((i + 1))
done
make_ca ca
# old: three names, the last three of new's list; new expires later, so it replaces them
make_leaf old ca n98.example.com "DNS:n98.example.com,DNS:n99.example.com,DNS:n100.example.com" 60
make_leaf new ca n1.example.com "$all_sans" 90
tp_old=$(thumbprint old.pem)
tp_new=$(thumbprint new.pem)

deploy() { # deploy CERT OUT
    set +e
    "$CCS" deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert "$1.pem" --key "$1.key" \
        --chain ca.pem --password-file pw >"$2" 2>&1
    rc=$?
    set -e
}
no_secrets() { # no_secrets OUT WHAT
    expect_not_contains "$1" "$PASSWORD" "$2: the share password is not in the output"
    expect_not_contains "$1" "$STORE_PASSWORD" "$2: the store password is not in the output"
}
temps() {
    ls -A "$FULL" | grep -c '^\.ccs-' || true
}
# count_certs: n_old, n_new = the *.pfx holding each certificate; bad = those that hold neither
count_certs() {
    n_old=0 n_new=0 bad=0
    for f in "$FULL"/*.pfx; do
        [ -e "$f" ] || continue
        case $(pfx_thumbprint "$f" pw || true) in
        "$tp_old") n_old=$((n_old + 1)) ;;
        "$tp_new") n_new=$((n_new + 1)) ;;
        *)
            echo "does not open, or holds neither certificate: $f" >&2
            bad=$((bad + 1))
            ;;
        esac
    done
}

deploy old first.out
expect_eq "$rc" 0 "the first deploy (3 names) fits"

# ---- the share fills up in the middle of the 100-name deploy ----------------------------------
avail=$(df -k --output=avail "$FULL" | tail -1 | tr -d ' ')
dd if=/dev/zero of="$FULL/filler" bs=1k count=$((avail - ROOM_KIB)) 2>/dev/null
deploy new full.out
expect_eq "$rc" 1 "the deploy that fills the share exits 1"
expect_contains full.out "disk full" "the message says \"disk full\""
expect_contains full.out "store $STORE: " "the message names the store"
no_secrets full.out "disk full mid-deploy"
written=$(sed -n 's/^\([0-9]*\) written,.*/\1/p' full.out)
failed=$(sed -n 's/.* \([0-9]*\) failed$/\1/p' full.out)
if [ "${written:-0}" -gt 0 ] && [ "${failed:-0}" -gt 0 ]; then
    ok "the share filled in the middle of the deploy ($written written, $failed failed)"
else
    fail "the share did not fill in the middle of the deploy (written ${written:-?}, failed ${failed:-?}):"
    sed 's/^/    /' full.out >&2
fi
expect_eq "$(temps)" 0 "no temp file (and no lock file) left on the full share"
count_certs
expect_eq "$bad" 0 "after the failed deploy every file opens and holds the old or the new certificate"
expect_eq "$n_old" 3 "the three files the store held are still the old certificate (their replacement ran out of space)"
for n in 98 99 100; do
    got=$(pfx_thumbprint "$FULL/n$n.example.com.pfx" pw || true)
    expect_eq "$got" "$tp_old" "n$n.example.com.pfx is intact and opens with OpenSSL"
done

# ---- no room even for the lock file -----------------------------------------------------------
avail=$(df -k --output=avail "$FULL" | tail -1 | tr -d ' ')
[ "$avail" -eq 0 ] || dd if=/dev/zero of="$FULL/filler2" bs=1k count="$avail" 2>/dev/null || true
snapshot "$FULL" >stuck.snap
deploy new nolock.out
expect_eq "$rc" 1 "a deploy to a share with no room at all exits 1"
expect_contains nolock.out "disk full" "no room at all: the message says \"disk full\""
expect_contains nolock.out "store $STORE: " "no room at all: the message names the store"
no_secrets nolock.out "no room at all"
snapshot "$FULL" >stuck-after.snap
if cmp -s stuck.snap stuck-after.snap; then ok "no room at all: the share is unchanged"; else
    fail "no room at all: the share changed:"
    diff stuck.snap stuck-after.snap | sed 's/^/    /' >&2
fi

# ---- space freed: the same deploy completes -----------------------------------------------------
rm -f "$FULL/filler" "$FULL/filler2"
deploy new after.out
expect_eq "$rc" 0 "after space is freed the deploy succeeds"
expect_not_contains after.out "failed    " "after space is freed: no name fails"
no_secrets after.out "after space is freed"
count_certs
expect_eq "$bad/$n_old/$n_new" "0/0/$NAMES" "after space is freed all $NAMES files hold the new certificate and open"
expect_eq "$(temps)" 0 "after space is freed: no temp or lock file left"
some=n42.example.com.pfx
rm -f got.pfx
smb_get rw "full/$some" got.pfx || fail "smbclient cannot fetch $some"
expect_eq "$(pfx_thumbprint got.pfx pw)" "$tp_new" "$some fetched by smbclient opens with OpenSSL"

finish
