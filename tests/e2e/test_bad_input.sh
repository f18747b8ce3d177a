#!/bin/sh
# test_bad_input.sh — every bad input fails cleanly: exit 1, an error naming the file or option at
# fault, and the store untouched (existing files still open). Also: the store password comes from
# --password-file, else $CCS_PFX_PASSWORD_FILE, else the systemd credential ccs-pfx-password, and no
# password ever appears in any output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages_lib.sh"

STORE_PW='S7ore-Secret-Value-91'
INPFX_PW='InPfx-Secret-Value-37'
ENV_PW='Env-Secret-Value-55'
CRED_PW='Cred-Secret-Value-73'
WRONG_PW='Wrong-Secret-Value-12'
make_password pw "$STORE_PW"
make_password inpfx.pw "$INPFX_PW"
make_password env.pw "$ENV_PW"
mkdir creds
make_password creds/ccs-pfx-password "$CRED_PW"
make_password wrong.pw "$WRONG_PW"

make_ca ca
make_leaf good ca good.example.com 'DNS:good.example.com' 90
make_leaf fresh ca good.example.com 'DNS:good.example.com,DNS:new.example.com' 120
make_leaf expired ca good.example.com 'DNS:good.example.com' -3
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key
tp_good=$(thumbprint good.pem)

mkdir store
run_ccs 0 setup.out deploy --store store --cert good.pem --key good.key --chain ca.pem --password-file pw
snapshot store >store.snap

# bad_case WHAT NEEDLE... -- DEPLOY-ARGS... — `ccs deploy --store store DEPLOY-ARGS` (a fresher
# certificate by default, so a working deploy would change the store) must exit 1 naming every
# NEEDLE, and leave the store as it was.
n=0
bad_case() {
    what=$1
    shift
    needles=
    while [ "$1" != -- ]; do
        needles="$needles
$1"
        shift
    done
    shift
    n=$((n + 1))
    run_ccs 1 "bad$n.out" deploy --store store "$@"
    while IFS= read -r needle; do
        [ -n "$needle" ] || continue
        expect_contains "bad$n.out" "$needle" "$what: error names [$needle]"
    done <<NEEDLES
$needles
NEEDLES
    expect_contains "bad$n.out" "error" "$what: says error"
    expect_snapshot_unchanged store.snap store "$what: store unchanged"
}

# Inputs.
head -c 300 fresh.pem >trunc.pem
{ cat fresh.pem; head -c 1100000 /dev/zero | tr '\0' '#'; } >big.pem
openssl x509 -in fresh.pem -outform DER -out fresh.der
openssl pkey -in fresh.key -aes256 -passout file:wrong.pw -out enc.key
: >afile
openssl pkcs12 -export -in fresh.pem -inkey fresh.key -certfile ca.pem -passout file:inpfx.pw \
    -out in.pfx 2>/dev/null
certtool --to-p12 --load-certificate fresh.pem --load-privkey other.key --outder --outfile km.pfx \
    --password "$INPFX_PW" --p12-name km >certtool.log 2>&1

bad_case "truncated PEM certificate" trunc.pem truncated -- \
    --cert trunc.pem --key fresh.key --password-file pw
bad_case "oversized certificate (> 1 MiB)" big.pem "too large" -- \
    --cert big.pem --key fresh.key --password-file pw
bad_case "oversized chain (> 1 MiB)" big.pem "too large" -- \
    --cert fresh.pem --key fresh.key --chain big.pem --password-file pw
bad_case "DER (not PEM) certificate" fresh.der PEM -- \
    --cert fresh.der --key fresh.key --password-file pw
bad_case "key does not match the certificate" other.key "does not match" -- \
    --cert fresh.pem --key other.key --password-file pw
bad_case "encrypted key" enc.key encrypted -- \
    --cert fresh.pem --key enc.key --password-file pw
bad_case "missing certificate file" no-such-cert.pem -- \
    --cert no-such-cert.pem --key fresh.key --password-file pw
bad_case "missing password file" no-such.pw -- \
    --cert fresh.pem --key fresh.key --password-file no-such.pw
bad_case "bad --format" --format des -- \
    --cert fresh.pem --key fresh.key --password-file pw --format des
bad_case "bad --mode" --mode 999 -- \
    --cert fresh.pem --key fresh.key --password-file pw --mode 999
bad_case "unknown --group" ccs-no-such-group -- \
    --cert fresh.pem --key fresh.key --password-file pw --group ccs-no-such-group
bad_case "--pfx with the wrong --pfx-password-file" in.pfx "wrong password" -- \
    --pfx in.pfx --pfx-password-file wrong.pw --password-file pw
# The wrong password is the input PFX's own, not the store's: the message must not blame the store
# password (which the user got right).
expect_not_contains "bad$n.out" "store password" "--pfx wrong password: does not blame the store password"
bad_case "--pfx whose key does not match" km.pfx "does not match" -- \
    --pfx km.pfx --pfx-password-file inpfx.pw --password-file pw
bad_case "--pfx without --pfx-password-file" --pfx-password-file -- \
    --pfx in.pfx --password-file pw
bad_case "missing --previous" no-such-old.pem -- \
    --cert fresh.pem --key fresh.key --password-file pw --previous no-such-old.pem
bad_case "--previous that is not a certificate" fresh.key "no PEM certificate" -- \
    --cert fresh.pem --key fresh.key --password-file pw --previous fresh.key
bad_case "expired certificate without --force" expired --force -- \
    --cert expired.pem --key expired.key --password-file pw

# A password "file" that is a FIFO nobody writes to: refused (not a regular file), not waited on.
mkfifo pw.fifo
run_cmd 1 fifo.out timeout 5 "$CCS" deploy --store store --cert fresh.pem --key fresh.key \
    --password-file pw.fifo
expect_contains fifo.out "pw.fifo" "FIFO password file: the error names it"
expect_snapshot_unchanged store.snap store "FIFO password file: store unchanged"
run_cmd 1 fifo2.out timeout 5 "$CCS" deploy --store store --cert pw.fifo --key fresh.key \
    --password-file pw
expect_contains fifo2.out "pw.fifo" "FIFO as --cert: the error names it"

# Store path problems.
run_ccs 1 nostore.out deploy --store no-such-store --cert fresh.pem --key fresh.key --password-file pw
expect_contains nostore.out no-such-store "missing store: error names the path"
expect_contains nostore.out "does not exist" "missing store: says it does not exist"
[ ! -e no-such-store ] && ok "missing store: not created" || fail "missing store: ccs created no-such-store"
run_ccs 1 filestore.out deploy --store afile --cert fresh.pem --key fresh.key --password-file pw
expect_contains filestore.out afile "store is a file: error names the path"
expect_contains filestore.out "not a directory" "store is a file: says not a directory"
expect_eq "$(stat -c %s afile)" 0 "store is a file: the file untouched"

# Password given nowhere.
run_cmd 1 nopw.out env -u CCS_PFX_PASSWORD_FILE -u CREDENTIALS_DIRECTORY \
    "$CCS" deploy --store store --cert fresh.pem --key fresh.key
for needle in --password-file CCS_PFX_PASSWORD_FILE ccs-pfx-password; do
    expect_contains nopw.out "$needle" "no password: the error names $needle"
done
expect_snapshot_unchanged store.snap store "no password: store unchanged"
mkdir emptycreds
run_cmd 1 nopw2.out env -u CCS_PFX_PASSWORD_FILE CREDENTIALS_DIRECTORY="$T/emptycreds" \
    "$CCS" deploy --store store --cert fresh.pem --key fresh.key
expect_contains nopw2.out "ccs-pfx-password" "credentials directory without the credential: error"
expect_snapshot_unchanged store.snap store "no credential: store unchanged"

# Unwritable store. Root ignores permission bits, so as root run ccs as nobody against a root-owned
# 0755 store; otherwise a 0555 store suffices. The store's files are 0644 so nobody can read them:
# the failure is in writing, after planning. (0644 is a mode deploy refuses unless forced.)
mkdir ro
cp fresh.pem fresh.key ca.pem pw ro/
mkdir ro/store
run_ccs 0 ro-setup.out deploy --store ro/store --cert good.pem --key good.key --chain ca.pem \
    --password-file pw --mode 0644 --force
if [ "$(id -u)" = 0 ]; then
    chmod 0644 ro/fresh.key
    chown nobody ro/pw
    chmod 0755 ro ro/store
    as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    if ! as_user test -r "$T/ro/fresh.key"; then
        fail "unwritable store: nobody cannot reach $T (a parent directory is not searchable)"
    fi
else
    chmod 0555 ro/store
    as_user() { "$@"; }
fi
snapshot ro/store >ro.snap
run_cmd 1 ro.out as_user "$(ccs_for_other_user)" deploy --store "$T/ro/store" --cert "$T/ro/fresh.pem" \
    --key "$T/ro/fresh.key" --chain "$T/ro/ca.pem" --password-file "$T/ro/pw"
expect_contains ro.out "Permission denied" "unwritable store: says permission denied"
expect_contains ro.out "good.example.com.pfx" "unwritable store: names the file it could not write"
expect_contains ro.out "new.example.com.pfx" "unwritable store: names the new file it could not write"
expect_snapshot_unchanged ro.snap ro/store "unwritable store: unchanged, no temp files"
chmod 0755 ro/store

# Existing good files still open after all of that.
expect_pfx_opens store/good.example.com.pfx pw good.pem "after the bad inputs"

# ---- password sources -------------------------------------------------------------------------------------
# pw_of STORE — which of our passwords opens STORE/good.example.com.pfx.
pw_of() {
    for p in pw env.pw creds/ccs-pfx-password; do
        if openssl pkcs12 -in "$1/good.example.com.pfx" -passin "file:$p" -noout 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo none
}
mkdir s-env s-cred s-both s-flag
run_cmd 0 env.out env -u CREDENTIALS_DIRECTORY CCS_PFX_PASSWORD_FILE="$T/env.pw" \
    "$CCS" deploy --store s-env --cert good.pem --key good.key --chain ca.pem
expect_eq "$(pw_of s-env)" env.pw "CCS_PFX_PASSWORD_FILE: the store password"
run_cmd 0 env-check.out env -u CREDENTIALS_DIRECTORY CCS_PFX_PASSWORD_FILE="$T/env.pw" \
    "$CCS" store check --store s-env
run_cmd 0 cred.out env -u CCS_PFX_PASSWORD_FILE CREDENTIALS_DIRECTORY="$T/creds" \
    "$CCS" deploy --store s-cred --cert good.pem --key good.key --chain ca.pem
expect_eq "$(pw_of s-cred)" creds/ccs-pfx-password "systemd credential: the store password"
run_cmd 0 cred-lookup.out env -u CCS_PFX_PASSWORD_FILE CREDENTIALS_DIRECTORY="$T/creds" \
    "$CCS" store lookup good.example.com --store s-cred
run_cmd 0 both.out env CCS_PFX_PASSWORD_FILE="$T/env.pw" CREDENTIALS_DIRECTORY="$T/creds" \
    "$CCS" deploy --store s-both --cert good.pem --key good.key --chain ca.pem
expect_eq "$(pw_of s-both)" env.pw "the environment variable beats the credential"
run_cmd 0 flag.out env CCS_PFX_PASSWORD_FILE="$T/env.pw" CREDENTIALS_DIRECTORY="$T/creds" \
    "$CCS" deploy --store s-flag --cert good.pem --key good.key --chain ca.pem --password-file pw
expect_eq "$(pw_of s-flag)" pw "--password-file beats both"
# A wrong store password on an existing store: nothing opens, check says so, no password shown.
run_ccs 1 wrongstore.out store check --store store --password-file wrong.pw
expect_contains wrongstore.out "wrong-password" "check with the wrong store password: wrong-password"

# ---- no password in any output --------------------------------------------------------------------------
leaks=0
for f in *.out; do
    for p in "$STORE_PW" "$INPFX_PW" "$ENV_PW" "$CRED_PW" "$WRONG_PW"; do
        if grep -qF -- "$p" "$f"; then
            fail "$f shows a password:"
            sed 's/^/    /' "$f" >&2
            leaks=$((leaks + 1))
        fi
    done
done
[ "$leaks" -eq 0 ] && ok "no password in the output of $(ls *.out | wc -l) ccs runs"

# Every message above says each thing once (no "x: x: ...").
expect_no_doubled_prefix "the messages of this test" *.out
finish
