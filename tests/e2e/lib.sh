# lib.sh — shared helpers for the end-to-end tests. Sourced by tests/e2e/test_*.sh.
#
# The environment gives: CCS (the binary under test), PFX_HAMMER (torn-read reader),
# CCS_TEST_TMP (a scratch directory of this test's own, wiped at start).
set -eu

: "${CCS:?CCS must name the ccs binary}"
: "${CCS_TEST_TMP:?CCS_TEST_TMP must name a scratch directory}"

rm -rf "$CCS_TEST_TMP"
mkdir -p "$CCS_TEST_TMP"
T=$CCS_TEST_TMP
cd "$T"

failures=0
checks=0

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
        ok "ccs $1 $2 ... exits $want"
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

# finish — print the tally and exit non-zero on any failure.
finish() {
    echo "$checks checks passed, $failures failed"
    [ "$failures" -eq 0 ]
}
