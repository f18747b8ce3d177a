#!/bin/sh
# test_lookup.sh — `ccs store lookup HOST` picks the file a server would serve: the exact
# `host.pfx`, else the wildcard one level up (`_.parent.pfx`), never deeper and never `_.tld`;
# hosts are normalised (case, trailing dot, IDN to Unicode) and invalid hosts are refused before the
# store is touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages_lib.sh"

make_ca ca
make_password pw 'lookup-store-pw'
make_leaf exact ca www.example.com 'DNS:www.example.com,DNS:other.example.com' 90
make_leaf wild ca '*.example.com' 'DNS:*.example.com' 60
make_leaf idn ca xn--bcher-kva.example 'DNS:xn--bcher-kva.example' 90
tp_exact=$(thumbprint exact.pem) tp_wild=$(thumbprint wild.pem) tp_idn=$(thumbprint idn.pem)

mkdir store
for c in exact wild idn; do
    run_ccs 0 "deploy-$c.out" deploy --store store --cert "$c.pem" --key "$c.key" --chain ca.pem \
        --password-file pw
done
rm store/other.example.com.pfx
# A `_.com.pfx` that must never serve example.com (a wildcard never covers a top-level domain's
# children from a file for the TLD itself).
cp store/_.example.com.pfx store/_.com.pfx
expect_eq "$(store_files store)" "_.com.pfx
_.example.com.pfx
bücher.example.pfx
www.example.com.pfx" "precondition: the store's files"

# lookup EXIT OUT HOST — `ccs store lookup HOST` as JSON (OUT) and as text (OUT.txt).
lookup() {
    run_ccs_split "$1" "$2" "$2.err" store lookup "$3" --store store --password-file pw --json
    run_ccs "$1" "$2.txt" store lookup "$3" --store store --password-file pw
}
# field OUT EXPR
field() { json_eval "$1" "$2"; }

# ---- exact beats wildcard ----------------------------------------------------------------------------------
lookup 0 l1.json www.example.com
expect_json l1.json "lookup --json parses"
expect_eq "$(field l1.json 'd["rule"]')" exact "www.example.com: rule exact"
expect_eq "$(field l1.json 'd["file"]')" www.example.com.pfx "www.example.com: its own file"
expect_eq "$(field l1.json 'd["certificate"]["thumbprint"]')" "$tp_exact" "www.example.com: the exact certificate, not the wildcard"
expect_eq "$(field l1.json 'd["served"]')" true "www.example.com: served"
expect_contains l1.json.txt "$tp_exact" "text: thumbprint of the exact certificate"
expect_contains l1.json.txt "exact" "text: rule exact"

# ---- one level of wildcard ---------------------------------------------------------------------------------
lookup 0 l2.json a.example.com
expect_eq "$(field l2.json 'd["rule"]')" wildcard "a.example.com: rule wildcard"
expect_eq "$(field l2.json 'd["file"]')" _.example.com.pfx "a.example.com: _.example.com.pfx"
expect_eq "$(field l2.json 'd["certificate"]["thumbprint"]')" "$tp_wild" "a.example.com: the wildcard certificate"
expect_eq "$(field l2.json 'd["tried"]')" "a.example.com.pfx
_.example.com.pfx" "a.example.com: tried exact, then the wildcard"

lookup 1 l3.json a.b.example.com
expect_eq "$(field l3.json 'd["rule"]')" none "a.b.example.com: rule none"
expect_eq "$(field l3.json 'd["file"]')" null "a.b.example.com: no file"
expect_eq "$(field l3.json '"_.example.com.pfx" in d["tried"]')" false "a.b.example.com: _.example.com.pfx not tried (one level only)"
expect_eq "$(field l3.json 'd["tried"]')" "a.b.example.com.pfx
_.b.example.com.pfx" "a.b.example.com: tried a.b.example.com.pfx, _.b.example.com.pfx"
expect_eq "$(field l3.json 'd["served"]')" false "a.b.example.com: not served"
expect_not_contains l3.json.txt "_.example.com.pfx" "text: _.example.com.pfx not mentioned for a.b.example.com"
expect_not_contains l3.json.txt "$tp_wild" "text: the wildcard certificate not shown for a.b.example.com"

# ---- never `_.com.pfx` -------------------------------------------------------------------------------------
lookup 1 l4.json example.com
expect_eq "$(field l4.json 'd["rule"]')" none "example.com: rule none (no example.com.pfx)"
expect_eq "$(field l4.json '[t for t in d["tried"] if t is not None]')" "example.com.pfx" "example.com: only example.com.pfx tried"
expect_not_contains l4.json "_.com.pfx" "example.com: _.com.pfx never used (JSON)"
expect_not_contains l4.json.txt "_.com.pfx" "example.com: _.com.pfx never used (text)"
lookup 1 l4b.json shop.com
expect_not_contains l4b.json "_.com.pfx" "shop.com: _.com.pfx never used"

# ---- normalisation -----------------------------------------------------------------------------------------
lookup 0 l5.json WWW.Example.COM.
expect_eq "$(field l5.json 'd["host"]')" www.example.com "WWW.Example.COM.: normalised host"
expect_eq "$(field l5.json 'd["file"]')" www.example.com.pfx "WWW.Example.COM.: www.example.com.pfx"
expect_eq "$(field l5.json 'd["certificate"]["thumbprint"]')" "$tp_exact" "WWW.Example.COM.: the exact certificate"
lookup 0 l6.json A.EXAMPLE.com.
expect_eq "$(field l6.json '[d["rule"], d["file"]]')" "wildcard
_.example.com.pfx" "A.EXAMPLE.com.: the wildcard file"
i=0
nfd=$(printf 'bu\314\210cher.example') # u + COMBINING DIAERESIS: the NFD spelling
for h in xn--bcher-kva.example bücher.example BÜCHER.Example. XN--BCHER-KVA.EXAMPLE "$nfd"; do
    i=$((i + 1))
    lookup 0 "idn$i.json" "$h"
    expect_eq "$(field "idn$i.json" '[d["host"], d["rule"], d["file"]]')" "bücher.example
exact
bücher.example.pfx" "$h: the Unicode file bücher.example.pfx"
    expect_eq "$(field "idn$i.json" 'd["certificate"]["thumbprint"]')" "$tp_idn" "$h: the IDN certificate"
done

# ---- a file that does not name the host, and one that cannot be used -------------------------------------------
cp store/www.example.com.pfx store/stray.example.com.pfx
lookup 1 l7.json stray.example.com
expect_eq "$(field l7.json '[d["rule"], d["served"]]')" "exact
false" "a file whose certificate does not name the host: found but not served"
expect_contains l7.json.txt "does not name" "text: says the certificate does not name the host"
# A symbolic link is never followed: the error names the link and says what it is. The exit code
# alone proves nothing (a followed link to the wildcard's file also exits 1, "does not name it"),
# so the message and the absence of the linked-to certificate are what this checks.
ln -s _.example.com.pfx store/sym.example.com.pfx
run_ccs 1 l8.txt store lookup sym.example.com --store store --password-file pw
expect_not_contains l8.txt "rule:   wildcard" "a symlinked exact file is an error, not a fall-through to the wildcard"
expect_contains l8.txt "sym.example.com.pfx" "the symlink error names the file"
expect_contains l8.txt "symbolic link" "the symlink error says it is a symbolic link"
expect_not_contains l8.txt "$tp_wild" "the link is not followed: the linked-to certificate is never read"
rm store/sym.example.com.pfx

# ---- invalid hosts: refused before the store is touched ----------------------------------------------------------
long=$(printf 'a%.0s' $(seq 59))
long="$long.$long.$long.$long.$long.com" # 303 characters, every label valid
expect_eq "${#long}" 303 "precondition: a 303-character name"
# check_invalid HOST NEEDLE — exit 1, the message names the problem, and mentions the host, not the
# (missing) store.
n=0
check_invalid() {
    n=$((n + 1))
    run_ccs 1 "inv$n.out" store lookup "$1" --store "$T/no/such/store" --password-file pw
    expect_contains "inv$n.out" "$2" "invalid host [$(printf '%.40s' "$1")]: says $2"
    expect_not_contains "inv$n.out" "no/such/store" "invalid host [$(printf '%.40s' "$1")]: error is about the host, not the store"
    expect_not_contains "inv$n.out" "does not exist" "invalid host [$(printf '%.40s' "$1")]: the store was not opened"
    run_ccs 1 "inv$n.json" store lookup "$1" --store "$T/no/such/store" --password-file pw --json
}
check_invalid ../etc/passwd "path separator"
check_invalid a..b "empty label"
check_invalid '*.example.com' "'*'"
check_invalid a/b "path separator"
check_invalid 127.0.0.1 "IP address"
check_invalid '::1' "IP address"
check_invalid "$long" "longer than 253"
check_invalid '' "empty"
check_invalid _.example.com "'_'"
check_invalid www.example.com:443 "':'"
# And against the real store nothing leaks out of it.
run_ccs 1 inv-real.out store lookup ../store/www.example.com --store store --password-file pw
expect_not_contains inv-real.out "$tp_exact" "a path-like host never reaches a real file"
# A valid host against a missing store: now the error is about the store (the contrast).
run_ccs 1 nostore.out store lookup www.example.com --store "$T/no/such/store" --password-file pw
expect_contains nostore.out "no/such/store" "valid host, missing store: the error names the store"

# Every message above says each thing once (no "x: x: ...").
expect_no_doubled_prefix "the messages of this test" *.txt *.json
finish
