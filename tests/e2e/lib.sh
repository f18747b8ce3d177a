# lib.sh — shared helpers for the end-to-end tests. Sourced by tests/e2e/test_*.sh.
#
# The environment gives: CCS (the binary under test), PFX_HAMMER (torn-read reader),
# CCS_TEST_TMP (a scratch directory of this test's own, wiped at start).
set -eu

: "${CCS:?CCS must name the ccs binary}"
: "${CCS_TEST_TMP:?CCS_TEST_TMP must name a scratch directory}"

# scripts/test runs every stage under a world-searchable scratch root (CCS_SCRATCH_ROOT, under
# /tmp): tests that run ccs as another user (nobody) must reach their files even when the clone
# sits in a 0700 home directory. Without it, CTest's directory in the build tree is used.
if [ -n "${CCS_SCRATCH_ROOT:-}" ]; then
    case $CCS_TEST_TMP in
    "$CCS_SCRATCH_ROOT"/*) ;;
    *) CCS_TEST_TMP=$CCS_SCRATCH_ROOT/$(basename "$CCS_TEST_TMP") ;;
    esac
    export CCS_TEST_TMP
fi

rm -rf "$CCS_TEST_TMP"
mkdir -p "$CCS_TEST_TMP"
T=$CCS_TEST_TMP
cd "$T"

failures=0
checks=0

# ccs_for_other_user: print the path of a copy of $CCS that another user can execute (the build
# tree may be in a home directory only its owner can enter).
ccs_for_other_user() {
    if [ ! -x "$T/.ccs-bin/ccs" ]; then
        mkdir -p "$T/.ccs-bin"
        cp "$CCS" "$T/.ccs-bin/ccs"
        chmod 0755 "$T/.ccs-bin" "$T/.ccs-bin/ccs"
    fi
    echo "$T/.ccs-bin/ccs"
}

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

ok() {
    checks=$((checks + 1))
    echo "ok: $*"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: expected [$2], got [$1]"; fi
}

# expect_contains HAYSTACK_FILE NEEDLE WHAT
expect_contains() {
    if grep -qF -- "$2" "$1"; then ok "$3"; else
        fail "$3: [$2] not found in $1:"
        sed 's/^/    /' "$1" >&2
    fi
}

expect_not_contains() {
    if grep -qF -- "$2" "$1"; then
        fail "$3: [$2] unexpectedly found in $1:"
        sed 's/^/    /' "$1" >&2
    else ok "$3"; fi
}

# expect_only_ccs_lines FILE WHAT — every line of FILE is one of ccs's own messages ("ccs: ..."):
# nothing a library printed by itself (libsmbclient's log) is mixed into them.
expect_only_ccs_lines() {
    if [ ! -r "$1" ]; then
        fail "$2: no file $1"
    elif grep -qv '^ccs: ' "$1"; then
        fail "$2: lines that are not ccs's in $1:"
        grep -v '^ccs: ' "$1" | head -5 | sed 's/^/    /' >&2
    else ok "$2"; fi
}

# run_ccs EXPECTED_EXIT OUTFILE ARGS... — runs ccs, stdout+stderr to OUTFILE, checks the exit code.
run_ccs() {
    want=$1 out=$2
    shift 2
    set +e
    "$CCS" "$@" >"$out" 2>&1
    got=$?
    set -e
    if [ "$got" != "$want" ]; then
        fail "ccs $* exited $got, expected $want; output:"
        sed 's/^/    /' "$out" >&2
    else
        ok "ccs $* exits $want"
    fi
}

# snapshot DIR — a listing of names, sizes, modes and content hashes, to prove a store unchanged.
snapshot() {
    (cd "$1" && find . -mindepth 1 -printf '%p %s %m %y\n' | sort &&
        find . -type f -exec sha256sum {} + | sort)
}

# make_ca NAME [DAYS] — a self-signed EC CA: NAME.pem, NAME.key.
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -subj "/CN=$1 Test CA" -days "${2:-365}" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

# make_leaf NAME CA CN SANS [DAYS] [KEYSPEC] — a leaf: NAME.pem, NAME.key, NAME.fullchain.pem.
# SANS is an openssl subjectAltName value ("DNS:a,DNS:b,IP:1.2.3.4"). DAYS may be negative (expired).
make_leaf() {
    name=$1 ca=$2 cn=$3 sans=$4 days=${5:-90} keyspec=${6:-ec:P-256}
    case $keyspec in
    ec:*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${keyspec#ec:}" -out "$name.key" ;;
    rsa:*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${keyspec#rsa:}" -out "$name.key" 2>/dev/null ;;
    esac
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$sans" >"$name.ext"
    if [ "$days" -lt 0 ] 2>/dev/null; then
        # openssl x509 cannot back-date; "ca" can, with explicit dates.
        start=$(date -u -d "$((1 - days + 1)) days ago" +%Y%m%d%H%M%SZ)
        end=$(date -u -d "$((-days)) days ago" +%Y%m%d%H%M%SZ)
        mkdir -p "$T/.ca-$ca" && : >"$T/.ca-$ca/index" && echo 01 >"$T/.ca-$ca/serial"
        cat >"$T/.ca-$ca/conf" <<CONF
[ca]
default_ca = d
[d]
database = $T/.ca-$ca/index
new_certs_dir = $T/.ca-$ca
serial = $T/.ca-$ca/serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
[p]
commonName = supplied
CONF
        openssl ca -batch -config "$T/.ca-$ca/conf" -cert "$ca.pem" -keyfile "$ca.key" \
            -in "$name.csr" -out "$name.pem" -startdate "$start" -enddate "$end" \
            -extfile "$name.ext" -notext 2>/dev/null
    else
        openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
            -out "$name.pem" -days "$days" -extfile "$name.ext" 2>/dev/null
    fi
    cat "$name.pem" "$ca.pem" >"$name.fullchain.pem"
}

# make_password FILE VALUE — a 0600 password file.
make_password() {
    (umask 077 && printf '%s\n' "$2" >"$1")
}

# thumbprint PEM — SHA-1 thumbprint as ccs prints it (upper-case hex, no colons).
thumbprint() {
    openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'
}

# pfx_thumbprint PFX PASSWORD_FILE — thumbprint of the leaf inside a store file, read by OpenSSL.
pfx_thumbprint() {
    openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts 2>/dev/null |
        openssl x509 -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'
}

# run_cmd EXPECTED_EXIT OUTFILE CMD ARGS... — like run_ccs for any command (env VAR=... "$CCS" ...,
# setpriv ... "$CCS" ...): stdout+stderr to OUTFILE, checks the exit code.
run_cmd() {
    want=$1 out=$2
    shift 2
    set +e
    "$@" >"$out" 2>&1
    got=$?
    set -e
    if [ "$got" != "$want" ]; then
        fail "$* exited $got, expected $want; output:"
        sed 's/^/    /' "$out" >&2
    else
        ok "$(basename "$1") ... exits $want"
    fi
}

# run_ccs_split EXPECTED_EXIT STDOUT STDERR ARGS... — run_ccs with stdout and stderr kept apart
# (JSON on stdout must parse; warnings belong on stderr).
run_ccs_split() {
    want=$1 out=$2 errout=$3
    shift 3
    set +e
    "$CCS" "$@" >"$out" 2>"$errout"
    got=$?
    set -e
    if [ "$got" != "$want" ]; then
        fail "ccs $* exited $got, expected $want; stdout, stderr:"
        sed 's/^/    /' "$out" "$errout" >&2
    else
        ok "ccs $* exits $want"
    fi
}

# json_eval FILE EXPR [ARG...] — parse FILE as JSON with python3 and print the Python expression
# EXPR evaluated with d = the document and a = [ARG...] (lists print one item a line, booleans as
# true/false). Prints "<invalid JSON: ...>" when FILE does not parse.
json_eval() {
    python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception as e:
    print("<invalid JSON: %s>" % e)
    sys.exit(0)
a = sys.argv[3:]
try:
    v = eval(sys.argv[2])
except Exception as e:
    print("<error: %r>" % e)
    sys.exit(0)
def show(x):
    print("true" if x is True else "false" if x is False else "null" if x is None else x)
if isinstance(v, (list, tuple)):
    for x in v:
        show(x)
else:
    show(v)
' "$@"
}

# expect_json FILE WHAT — FILE parses as JSON.
expect_json() {
    if python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$1" 2>/dev/null; then
        ok "$2"
    else
        fail "$2: $1 is not valid JSON:"
        sed 's/^/    /' "$1" >&2
    fi
}

# wait_for_file -e|-s FILE SECONDS — wait until FILE exists (-e) or is not empty (-s), looking every
# 50 ms for at most SECONDS: how a test waits for what a helper it started in the background
# writes when it is ready (a port, "started"). Returns 1 if the file never came.
wait_for_file() {
    _wait_tries=0
    while ! test "$1" "$2"; do
        [ "$_wait_tries" -lt $(($3 * 20)) ] || return 1
        sleep 0.05
        _wait_tries=$((_wait_tries + 1))
    done
}

# expect_same_file A B WHAT — byte-identical.
expect_same_file() {
    if cmp -s "$1" "$2"; then ok "$3"; else fail "$3: $1 and $2 differ"; fi
}

# expect_snapshot_unchanged BEFORE_FILE DIR WHAT — DIR's snapshot still equals BEFORE_FILE.
expect_snapshot_unchanged() {
    snapshot "$2" >"$1.after"
    if cmp -s "$1" "$1.after"; then ok "$3"; else
        fail "$3: $2 changed:"
        diff "$1" "$1.after" | sed 's/^/    /' >&2 || true
    fi
}

# file_mode FILE — permission bits in octal, as "640".
file_mode() {
    stat -c %a "$1"
}

# store_files DIR — every entry of DIR (dot files too), one a line, sorted.
store_files() {
    (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
}

# pem_thumbprints FILE — the SHA-1 thumbprint of every PEM certificate in FILE (any text around the
# PEM blocks is ignored), one a line, in order.
pem_thumbprints() {
    rm -rf "$T/.pem-split" && mkdir -p "$T/.pem-split"
    awk -v dir="$T/.pem-split" '
        /-----BEGIN CERTIFICATE-----/ { n++; on = 1 }
        on { print > (dir "/" n ".pem") }
        /-----END CERTIFICATE-----/ { on = 0; close(dir "/" n ".pem") }' "$1"
    for f in $(ls "$T/.pem-split" | sort -n); do
        thumbprint "$T/.pem-split/$f"
    done
}

# colon_hex HEX — "AB:CD:..." form, as NSS prints fingerprints.
colon_hex() {
    printf '%s\n' "$1" | sed 's/\(..\)/\1:/g; s/:$//'
}

# pfx_cert_count PFX PASSWORD_FILE — how many certificates OpenSSL finds in PFX.
pfx_cert_count() {
    openssl pkcs12 -in "$1" -passin "file:$2" -nokeys 2>/dev/null | grep -c -- '-----BEGIN CERTIFICATE-----' || true
}

# new_nss_db DIR — an empty NSS database (no password) for pk12util.
new_nss_db() {
    rm -rf "$1" && mkdir -p "$1" && certutil -N -d "sql:$1" --empty-password
}

# expect_pfx_opens PFX PASSWORD_FILE LEAF_PEM WHAT — the three independent readers (OpenSSL, GnuTLS
# certtool, NSS pk12util) each open PFX with the password and find LEAF_PEM in it.
expect_pfx_opens() {
    pfx=$1 pwf=$2 leaf_tp=$(thumbprint "$3") what=$4
    pw=$(cat "$pwf")
    if openssl pkcs12 -in "$pfx" -passin "file:$pwf" -noout 2>"$T/.openssl.err"; then
        ok "$what: openssl verifies the MAC"
    else
        fail "$what: openssl pkcs12 -noout fails on $pfx:"
        sed 's/^/    /' "$T/.openssl.err" >&2
    fi
    expect_eq "$(pfx_thumbprint "$pfx" "$pwf")" "$leaf_tp" "$what: openssl finds the leaf"
    set +e
    certtool --p12-info --inder --infile "$pfx" --password "$pw" >"$T/.certtool.out" 2>&1
    rc=$?
    set -e
    expect_eq "$rc" 0 "$what: certtool --p12-info exits 0"
    if pem_thumbprints "$T/.certtool.out" | grep -qx "$leaf_tp"; then
        ok "$what: certtool lists the leaf"
    else
        fail "$what: certtool does not list the leaf $leaf_tp:"
        sed 's/^/    /' "$T/.certtool.out" >&2
    fi
    [ -d "$T/.nssdb" ] || new_nss_db "$T/.nssdb"
    set +e
    pk12util -l "$pfx" -W "$pw" -d "sql:$T/.nssdb" >"$T/.pk12util.out" 2>&1
    rc=$?
    set -e
    expect_eq "$rc" 0 "$what: pk12util -l exits 0"
    if grep -qF "Certificate(has private key):" "$T/.pk12util.out" &&
        grep -qF "$(colon_hex "$leaf_tp")" "$T/.pk12util.out"; then
        ok "$what: pk12util lists the leaf with its key"
    else
        fail "$what: pk12util does not list the leaf $leaf_tp with a key:"
        sed 's/^/    /' "$T/.pk12util.out" >&2
    fi
}

# finish — print the tally and exit non-zero on any failure.
finish() {
    echo "$checks checks passed, $failures failed"
    [ "$failures" -eq 0 ]
}
