#!/bin/sh
# test_check.sh — `ccs store check` finds every defect that would make a server fail or serve the
# wrong thing, one seeded file per defect, each reported by its stable code against the right file;
# "wrong password", "not PKCS#12" and "truncated" are told apart; symbolic links are never followed;
# exit 1 with errors, 0 on a clean store (and on warnings only); --json parses and carries the codes.
. "$(dirname "$0")/lib.sh"

make_ca ca
make_password pw 'check-store-password'
make_password otherpw 'another password'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key

# stage DIR CERT [DEPLOY-ARGS...] — deploy CERT (with the CA as chain unless overridden) into a
# scratch store DIR, to copy files from.
stage() {
    _dir=$1 _cert=$2
    shift 2
    mkdir -p "$_dir"
    run_ccs 0 "$_dir.out" deploy --store "$_dir" --cert "$_cert.pem" --key "$_cert.key" \
        --password-file pw "$@"
}

# A clean store first: one good certificate, properly deployed.
make_leaf good ca good.example.com 'DNS:good.example.com,DNS:www.example.com' 90
stage clean good --chain ca.pem
run_ccs_split 0 clean.json clean.err store check --store clean --password-file pw --json
expect_json clean.json "clean store: --json parses"
expect_eq "$(json_eval clean.json 'd["errors"]')" 0 "clean store: no errors"
expect_eq "$(json_eval clean.json 'len(d["findings"])')" 0 "clean store: no findings at all"
expect_eq "$(json_eval clean.json 'd["pfx_files"]')" 2 "clean store: both .pfx files examined"
run_ccs 0 clean.out store check --store clean --password-file pw
expect_contains clean.out "0 errors" "clean store: text summary says 0 errors"

# ---- seed the defective store: one file per defect ----------------------------------------------------
S=store
mkdir "$S"
seed() { # seed SOURCE NAME [MODE] — copy SOURCE into the store as NAME, mode 0640 unless given
    cp "$1" "$S/$2"
    chmod "${3:-0640}" "$S/$2"
}
g=clean/good.example.com.pfx

# wrong-password: a good PFX under another password (OpenSSL's default format)
openssl pkcs12 -export -in good.pem -inkey good.key -certfile ca.pem -passout file:otherpw \
    -out wrongpw.pfx 2>/dev/null
seed wrongpw.pfx wrongpw.example.com.pfx
# not-pkcs12: a PEM certificate named .pfx
seed good.pem notpkcs12.example.com.pfx
# truncated: the first 600 bytes of a good PFX
head -c 600 "$g" >truncated.pfx
seed truncated.pfx truncated.example.com.pfx
# name-mismatch: a good PFX under a name its certificate does not hold
seed "$g" mismatch.example.com.pfx
# key-mismatch: GnuTLS packs any key with any certificate (OpenSSL refuses)
make_leaf km ca km.example.com 'DNS:km.example.com' 90
certtool --to-p12 --load-certificate km.pem --load-privkey other.key --load-ca-certificate ca.pem \
    --outder --outfile km.pfx --password "$(cat pw)" --p12-name km --pkcs-cipher 3des-pkcs12 \
    >certtool-km.out 2>&1
seed km.pfx km.example.com.pfx
# no-key: a PFX with the certificates only
make_leaf nk ca nokey.example.com 'DNS:nokey.example.com' 90
openssl pkcs12 -export -nokeys -in nk.pem -certfile ca.pem -passout file:pw -out nokey.pfx 2>/dev/null
seed nokey.pfx nokey.example.com.pfx
# chain-incomplete: a CA-signed leaf deployed without --chain
make_leaf ci ca chain.example.com 'DNS:chain.example.com' 90
stage st-ci ci
seed st-ci/chain.example.com.pfx chain.example.com.pfx
# expired: deployed with --force
make_leaf ex ca expired.example.com 'DNS:expired.example.com' -5
stage st-ex ex --chain ca.pem --force
seed st-ex/expired.example.com.pfx expired.example.com.pfx
# expiring: 20 days left: not flagged at the default 14 days, flagged with --warn-days 30
make_leaf eg ca expiring.example.com 'DNS:expiring.example.com' 20
stage st-eg eg --chain ca.pem
seed st-eg/expiring.example.com.pfx expiring.example.com.pfx
# aes-format
make_leaf ae ca aes.example.com 'DNS:aes.example.com' 90
stage st-ae ae --chain ca.pem --format aes256
seed st-ae/aes.example.com.pfx aes.example.com.pfx
# temp-file: a leftover of a killed deploy
seed "$g" .ccs-tmp-good.example.com.pfx.Xa1b2C
# not-pfx
printf 'notes about this store\n' >"$S/README.txt"
chmod 0640 "$S/README.txt"
# symlink: to a good file inside the store, and to /etc/passwd outside
make_leaf ln ca linked.example.com 'DNS:linked.example.com,DNS:link.example.com' 90
stage st-ln ln --chain ca.pem
seed st-ln/linked.example.com.pfx linked.example.com.pfx
ln -s linked.example.com.pfx "$S/link.example.com.pfx"
ln -s /etc/passwd "$S/passwd.example.com.pfx"
# world-readable; writable by the group; writable by everyone
make_leaf wr ca wr.example.com 'DNS:world.example.com,DNS:group.example.com,DNS:everyone.example.com' 90
stage st-wr wr --chain ca.pem
seed st-wr/world.example.com.pfx world.example.com.pfx 0644
seed st-wr/group.example.com.pfx group.example.com.pfx 0660
seed st-wr/everyone.example.com.pfx everyone.example.com.pfx 0666
# bad-file-name: not in normalised (lower-case) form; not a host name at all
seed "$g" WWW.Example.com.pfx
seed "$g" 'bad..name.pfx'
# not-a-file: a directory named .pfx
mkdir "$S/dir.example.com.pfx"

# ---- check ------------------------------------------------------------------------------------------------
run_ccs_split 1 check.json check.err store check --store "$S" --password-file pw --json
expect_json check.json "check --json parses"
run_ccs_split 1 check.out check.err2 store check --store "$S" --password-file pw
run_ccs_split 1 check30.json check30.err store check --store "$S" --password-file pw --warn-days 30 --json

# expect_finding FILE CODE SEVERITY — in the JSON report, and on a text line naming the file.
expect_finding() {
    expect_eq "$(json_eval check.json '[f["severity"] for f in d["findings"] if f["file"] == a[0] and f["code"] == a[1]]' "$1" "$2")" \
        "$3" "$1: $2 ($3)"
    if awk -v f="$1" -v c="$2" '$2 == f && $3 == c { found = 1 } END { exit !found }' check.out; then
        ok "$1: text line names the file and $2"
    else
        fail "$1: no text line with file and code $2:"
        sed 's/^/    /' check.out >&2
    fi
}
# codes FILE — the codes reported for FILE, sorted, space-separated.
codes() {
    json_eval "${2:-check.json}" 'sorted(f["code"] for f in d["findings"] if f["file"] == a[0])' "$1" | tr '\n' ' ' | sed 's/ $//'
}

expect_finding wrongpw.example.com.pfx wrong-password error
expect_finding notpkcs12.example.com.pfx not-pkcs12 error
expect_finding truncated.example.com.pfx truncated error
expect_finding mismatch.example.com.pfx name-mismatch error
expect_finding km.example.com.pfx key-mismatch error
expect_finding nokey.example.com.pfx no-key error
expect_finding chain.example.com.pfx chain-incomplete error
expect_finding expired.example.com.pfx expired error
expect_finding aes.example.com.pfx aes-format warning
expect_finding .ccs-tmp-good.example.com.pfx.Xa1b2C temp-file warning
expect_finding README.txt not-pfx warning
expect_finding link.example.com.pfx symlink error
expect_finding passwd.example.com.pfx symlink error
expect_finding world.example.com.pfx world-readable error
expect_finding group.example.com.pfx writable error
expect_finding everyone.example.com.pfx writable error
expect_finding WWW.Example.com.pfx bad-file-name error
expect_finding bad..name.pfx bad-file-name error
expect_finding dir.example.com.pfx not-a-file error

# One defect, one code: the three "cannot open" cases are told apart, and files with one defect
# get no unrelated finding.
expect_eq "$(codes wrongpw.example.com.pfx)" wrong-password "wrong password: only wrong-password"
expect_eq "$(codes notpkcs12.example.com.pfx)" not-pkcs12 "PEM named .pfx: only not-pkcs12"
expect_eq "$(codes truncated.example.com.pfx)" truncated "cut short: only truncated"
expect_eq "$(codes mismatch.example.com.pfx)" name-mismatch "name-mismatch alone"
expect_eq "$(codes chain.example.com.pfx)" chain-incomplete "chain-incomplete alone"
expect_eq "$(codes expired.example.com.pfx)" expired "expired alone"
expect_eq "$(codes aes.example.com.pfx)" aes-format "aes-format alone"
expect_eq "$(codes link.example.com.pfx)" symlink "symlink inside: only symlink (not followed)"
expect_eq "$(codes passwd.example.com.pfx)" symlink "symlink outside: only symlink (not followed)"
expect_eq "$(codes linked.example.com.pfx)" "" "the symlink's target itself is fine"
expect_eq "$(codes world.example.com.pfx)" world-readable "world-readable alone"
expect_eq "$(codes WWW.Example.com.pfx)" bad-file-name "upper-case name: only bad-file-name"

# Wording: each says what is wrong, in words.
msg() { json_eval check.json '[f["message"] for f in d["findings"] if f["file"] == a[0]]' "$1"; }
msg wrongpw.example.com.pfx >m.txt && expect_contains m.txt "wrong password" "wrong-password message says wrong password"
msg notpkcs12.example.com.pfx >m.txt && expect_contains m.txt "not PKCS#12" "not-pkcs12 message says not PKCS#12"
msg notpkcs12.example.com.pfx >m.txt && expect_contains m.txt "PEM" "not-pkcs12 message recognises PEM"
msg truncated.example.com.pfx >m.txt && expect_contains m.txt "truncated" "truncated message says truncated"
msg mismatch.example.com.pfx >m.txt && expect_contains m.txt "good.example.com" "name-mismatch message lists the certificate's names"
msg WWW.Example.com.pfx >m.txt && expect_contains m.txt "www.example.com.pfx" "bad-file-name message gives the normalised name"
msg link.example.com.pfx >m.txt && expect_contains m.txt "linked.example.com.pfx" "symlink message names the target"
msg group.example.com.pfx >m.txt && expect_contains m.txt "0660" "writable message gives the mode"
msg everyone.example.com.pfx >m.txt && expect_contains m.txt "everyone" "0666: writable by everyone"

# Symbolic links are never followed: nothing of /etc/passwd appears.
first_passwd_line=$(head -n 1 /etc/passwd)
for f in check.json check.out check.err check.err2; do
    expect_not_contains "$f" "$first_passwd_line" "$f: no /etc/passwd content"
done

# --warn-days
expect_eq "$(codes expiring.example.com.pfx)" "" "20 days left: nothing at the default 14 warn days"
expect_eq "$(codes expiring.example.com.pfx check30.json)" expiring "20 days left, --warn-days 30: expiring"
expect_eq "$(json_eval check30.json '[f["severity"] for f in d["findings"] if f["code"] == "expiring"]')" \
    warning "expiring is a warning"

# Counts agree with the findings; the .pfx count excludes the temp file and README.
expect_eq "$(json_eval check.json 'd["errors"] == sum(1 for f in d["findings"] if f["severity"] == "error")')" \
    true "error count matches the findings"
expect_eq "$(json_eval check.json 'd["warnings"] == sum(1 for f in d["findings"] if f["severity"] == "warning")')" \
    true "warning count matches the findings"
expect_eq "$(json_eval check.json 'd["pfx_files"]')" \
    "$(cd "$S" && find . -maxdepth 1 -type f -name '*.pfx' ! -name '.ccs-tmp-*' | wc -l)" \
    "pfx_files counts the regular .pfx files"

# Warnings only: exit 0.
mkdir warn
seed_w() { cp "$1" "warn/$2" && chmod 0640 "warn/$2"; }
seed_w st-ae/aes.example.com.pfx aes.example.com.pfx
printf 'x\n' >warn/README.txt
run_ccs 0 warn.out store check --store warn --password-file pw
expect_contains warn.out "aes-format" "warnings only: reported"
expect_contains warn.out "0 errors" "warnings only: 0 errors"

finish
