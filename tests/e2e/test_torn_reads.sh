#!/bin/sh
# test_torn_reads.sh — readers never see a torn, half-written or missing PFX while ccs redeploys.
#
# pfx_hammer runs 4 reader threads that look www.example.com up in the store and open its PFX with
# the store password, exactly as a server does, until a stop file appears. Meanwhile we redeploy
# that name DEPLOYS times, alternating two certificates (different keys) with --force, so every
# deploy really rewrites the file. Any open that fails (short read, bad MAC, no file) is a torn read.
#
# CCS_TORN_DEPLOYS overrides the number of redeploys (default 1000), for experiments only.
. "$(dirname "$0")/lib.sh"

: "${PFX_HAMMER:?PFX_HAMMER must name the pfx_hammer binary}"

DEPLOYS=${CCS_TORN_DEPLOYS:-1000}
HOST=www.example.com
STORE=$T/store
STOP=$T/stop
mkdir "$STORE"

# Whatever happens, the readers stop: a leftover hammer would spin forever.
trap 'touch "$STOP"' EXIT
trap 'touch "$STOP"; exit 129' HUP
trap 'touch "$STOP"; exit 130' INT
trap 'touch "$STOP"; exit 143' TERM

make_ca ca
make_leaf one ca "$HOST" "DNS:$HOST"
make_leaf two ca "$HOST" "DNS:$HOST"
make_password pw 'torn-reads store password'
tp_one=$(thumbprint one.pem)
tp_two=$(thumbprint two.pem)
if [ "$tp_one" != "$tp_two" ] && ! cmp -s one.key two.key; then
    ok "two certificates for $HOST with different keys"
else
    fail "the two leaf certificates are not distinct"
fi

run_ccs 0 deploy-0.out deploy --store "$STORE" --cert one.pem --key one.key --chain ca.pem \
    --password-file pw
expect_eq "$(pfx_thumbprint "$STORE/$HOST.pfx" pw)" "$tp_one" "first deploy holds certificate one"

"$PFX_HAMMER" "$STORE" "$HOST" pw 4 "$STOP" >hammer.out 2>hammer.err &
hammer=$!

start=$(date +%s)
deploy_failures=0
not_written=0
last=one
i=1
while [ "$i" -le "$DEPLOYS" ]; do
    if [ $((i % 2)) -eq 1 ]; then last=two; else last=one; fi
    if "$CCS" deploy --store "$STORE" --cert "$last.pem" --key "$last.key" --chain ca.pem \
        --password-file pw --force >deploy.out 2>&1; then
        # Every deploy must really rewrite the file, or the readers test nothing.
        grep -q '^1 written,' deploy.out || {
            not_written=$((not_written + 1))
            [ "$not_written" -gt 3 ] || { echo "deploy $i wrote nothing:" >&2; sed 's/^/    /' deploy.out >&2; }
        }
    else
        deploy_failures=$((deploy_failures + 1))
        if [ "$deploy_failures" -le 3 ]; then
            echo "deploy $i failed:" >&2
            sed 's/^/    /' deploy.out >&2
        fi
    fi
    i=$((i + 1))
done
deploy_seconds=$(($(date +%s) - start))

touch "$STOP"
set +e
wait "$hammer"
hammer_rc=$?
set -e

opens=$(sed -n 's/^opens=\([0-9]*\) failures=[0-9]*$/\1/p' hammer.out)
hammer_failures=$(sed -n 's/^opens=[0-9]* failures=\([0-9]*\)$/\1/p' hammer.out)
echo "deploys=$DEPLOYS failed=$deploy_failures not_written=$not_written seconds=$deploy_seconds"
echo "hammer: opens=${opens:-?} failures=${hammer_failures:-?} exit=$hammer_rc"
if [ -s hammer.err ]; then sed 's/^/    hammer: /' hammer.err >&2; fi

expect_eq "$deploy_failures" 0 "all $DEPLOYS redeploys exit 0"
expect_eq "$not_written" 0 "every redeploy rewrote $HOST.pfx"
expect_eq "${hammer_failures:-missing}" 0 "readers saw no torn, unreadable or missing file"
expect_eq "$hammer_rc" 0 "pfx_hammer exits 0"
if [ -n "$opens" ] && [ "$opens" -gt 1000 ]; then
    ok "readers opened the PFX $opens times (> 1000) during the redeploys"
else
    fail "readers opened the PFX only ${opens:-no} times; expected > 1000"
fi

leftover=$(find "$STORE" -mindepth 1 -maxdepth 1 -name '.ccs-tmp-*')
expect_eq "$leftover" "" "no .ccs-tmp-* file left in the store"
expect_eq "$(ls -A "$STORE")" "$HOST.pfx" "the store holds $HOST.pfx only"

if [ "$last" = one ]; then want=$tp_one; else want=$tp_two; fi
expect_eq "$(pfx_thumbprint "$STORE/$HOST.pfx" pw)" "$want" \
    "$HOST.pfx holds the certificate deployed last ($last)"

finish
