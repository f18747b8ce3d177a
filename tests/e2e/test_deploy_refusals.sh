#!/bin/sh
# test_deploy_refusals.sh — deploy refuses what `store check` would call an error, unless forced,
# and says what it did to the chain: a certificate not valid for another day is refused (the valid
# file stays), one valid in two minutes (clock skew) is not; a mode that makes files world-readable
# or group-writable is refused; a chain without the issuer is deployed with a warning in the
# report; chain certificates off the leaf's issuing path are dropped with a warning and not shipped.
. "$(dirname "$0")/lib.sh"

make_ca ca
make_ca other
make_password pw 'refusals-test-password'
make_leaf www ca www.example.com 'DNS:www.example.com' 90
make_leaf stranger other stranger.example 'DNS:stranger.example' 90

# A certificate valid from tomorrow: openssl ca can set the start date.
mkdir -p .ca && : >.ca/index && echo 01 >.ca/serial
cat >.ca/conf <<CONF
[ca]
default_ca = d
[d]
database = $T/.ca/index
new_certs_dir = $T/.ca
serial = $T/.ca/serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
[p]
commonName = supplied
CONF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out future.key
openssl req -new -key future.key -subj /CN=www.example.com -out future.csr
printf 'subjectAltName=DNS:www.example.com\nbasicConstraints=CA:FALSE\n' >future.ext
openssl ca -batch -config .ca/conf -cert ca.pem -keyfile ca.key -in future.csr -out future.pem \
    -startdate "$(date -u -d '1 day' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '120 days' +%Y%m%d%H%M%SZ)" \
    -extfile future.ext -notext 2>/dev/null
# One valid from two minutes from now: within the clock-skew allowance (5 minutes), deployed.
openssl ca -batch -config .ca/conf -cert ca.pem -keyfile ca.key -in future.csr -out soon.pem \
    -startdate "$(date -u -d '2 minutes' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '120 days' +%Y%m%d%H%M%SZ)" \
    -extfile future.ext -notext 2>/dev/null

mkdir s
run_ccs 0 valid.out deploy --store s --cert www.pem --key www.key --chain ca.pem --password-file pw
snapshot s >before
run_ccs 1 future.out deploy --store s --cert future.pem --key future.key --chain ca.pem --password-file pw
expect_contains future.out "is not valid before" "not yet valid: refused, saying why"
expect_contains future.out "--force" "not yet valid: says how to force it"
expect_snapshot_unchanged before s "not yet valid: the valid file stays"
mkdir soon
run_ccs 0 soon.out deploy --store soon --cert soon.pem --key future.key --chain ca.pem --password-file pw
expect_eq "$(pfx_thumbprint soon/www.example.com.pfx pw)" "$(thumbprint soon.pem)" \
    "valid in two minutes (within the clock-skew allowance): deployed"
run_ccs 0 future-forced.out deploy --store s --cert future.pem --key future.key --chain ca.pem \
    --password-file pw --force
expect_eq "$(pfx_thumbprint s/www.example.com.pfx pw)" "$(thumbprint future.pem)" "--force deploys it"

# Modes check calls errors.
mkdir m
for mode in 0644 0660 0666; do
    run_ccs 1 "mode-$mode.out" deploy --store m --cert www.pem --key www.key --chain ca.pem \
        --password-file pw --mode "$mode"
    expect_contains "mode-$mode.out" "mode $mode would make the files" "--mode $mode: refused"
done
expect_eq "$(store_files m)" "" "refused modes: nothing written"
run_ccs 0 mode-forced.out deploy --store m --cert www.pem --key www.key --chain ca.pem \
    --password-file pw --mode 0644 --force
expect_eq "$(file_mode m/www.example.com.pfx)" 644 "--mode 0644 --force: written 0644"
run_ccs 1 mode-check.out store check --store m --password-file pw
expect_contains mode-check.out "world-readable" "check calls the forced mode an error"

# A chain without the issuer: deployed, with a warning, and the report says so.
mkdir c1
run_ccs_split 0 nochain.json nochain.err deploy --store c1 --cert www.pem --key www.key \
    --password-file pw --json
expect_eq "$(json_eval nochain.json 'd["chain_complete"]')" false "no chain: the report says the chain is incomplete"
expect_contains nochain.err "lacks the issuer" "no chain: a warning"
run_ccs_split 0 nochain.out nochain-text.err deploy --store c1 --cert www.pem --key www.key \
    --password-file pw --force
expect_contains nochain.out "failed; the chain lacks the issuer" "no chain: the text report's summary says so"
expect_contains nochain.out "warning   the chain lacks the issuer of" "no chain: the text report lists the warning"

# Chain certificates off the issuing path: an unrelated CA and an unrelated leaf.
cat ca.pem other.pem stranger.pem >mixed-chain.pem
mkdir c2
run_ccs_split 0 mixed.json mixed.err deploy --store c2 --cert www.pem --key www.key \
    --chain mixed-chain.pem --password-file pw --json
expect_eq "$(json_eval mixed.json 'd["chain_complete"]')" true "mixed chain: the issuer is there"
expect_eq "$(json_eval mixed.json 'len([w for w in d["warnings"] if "not on the issuing path" in w])')" 2 \
    "mixed chain: two certificates dropped, each with a warning"
expect_contains mixed.err "$(thumbprint stranger.pem)" "mixed chain: the warning names the dropped leaf"
expect_eq "$(pfx_cert_count c2/www.example.com.pfx pw)" 2 "mixed chain: only leaf and issuer shipped"
run_ccs 0 mixed-check.out store check --store c2 --password-file pw

finish
