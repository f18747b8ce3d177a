#!/bin/sh
# test_smb_transport.sh — ccs speaks SMB2 or later only (issue 10, transport security): a real
# smbd that offers SMB1 alone ("server max protocol = NT1") is refused — exit 1, a message naming
# the store and saying SMB2 or later is required, no password shown, the share left as it was —
# while the smbclient command still reaches that server over SMB1 (the scenario happened: the
# server was up and serving, only not in a dialect ccs accepts).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smb_lib.sh"

smb_start
smb_mkdir "$SMB_RW/certs"
STORE=$SMB_URL/rw/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")

make_ca ca
make_leaf leaf ca www.example.com "DNS:www.example.com"
make_leaf other ca www.example.com "DNS:www.example.com"
make_password pw 'smb transport password'

run_ccs 0 deploy.out deploy --store "$STORE" --credentials-file "$SMB_CREDS" --cert leaf.pem \
    --key leaf.key --chain ca.pem --password-file pw
before=$(cd "$SMB_RW/certs" && ls -A | sort && cat ./* | sha256sum)

# ---- the same server, the same port, SMB1 only ------------------------------------------------
sh "$SMB_SERVER_SH" stop "$SMB_DIR"
sed -i 's/^\( *\)server min protocol = .*/\1server min protocol = NT1\n\1server max protocol = NT1/' \
    "$SMB_DIR/smb.conf"
grep -q '^ *server max protocol = NT1$' "$SMB_DIR/smb.conf" || fail "smb.conf was not rewritten for SMB1"
setsid smbd -F --no-process-group -s "$SMB_DIR/smb.conf" </dev/null >>"$SMB_DIR/smbd.out" 2>&1 &
echo $! >"$SMB_DIR/smbd.pid.ours"
smb1_client() {
    smbclient -s "$SMB_DIR/smb.conf" -p "$SMB_PORT" -A "$SMB_CREDS" -m NT1 \
        --option='client min protocol = NT1' "//127.0.0.1/rw" "$@"
}
up=0
i=0
while [ $i -lt 100 ]; do
    if smb1_client -c 'ls certs/*' >smb1-ls.out 2>&1; then
        up=1
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
expect_eq "$up" 1 "smbd serves SMB1 alone, and the smbclient command reaches it over SMB1"
expect_contains smb1-ls.out "www.example.com.pfx" "over SMB1 the share holds the deployed file"
if smbclient -s "$SMB_DIR/smb.conf" -p "$SMB_PORT" -A "$SMB_CREDS" -m SMB3 \
    --option='client min protocol = SMB2_02' //127.0.0.1/rw -c ls >smb2-ls.out 2>&1; then
    fail "the server still speaks SMB2: this test would prove nothing"
else
    ok "the server refuses an SMB2 client (smbclient -m SMB3)"
fi

# expect_smb1_refusal NAME ARGS...: exit 1, says why, names the store, no password.
expect_smb1_refusal() {
    name=$1
    shift
    run_ccs 1 "$name.out" "$@"
    expect_contains "$name.out" "SMB2 or later" "$name: says ccs requires SMB2 or later"
    expect_contains "$name.out" "$STORE" "$name: names the store"
    expect_not_contains "$name.out" "$PASSWORD" "$name: the share password is not in the output"
}
expect_smb1_refusal smb1-deploy deploy --store "$STORE" --credentials-file "$SMB_CREDS" \
    --cert other.pem --key other.key --chain ca.pem --password-file pw --force
expect_smb1_refusal smb1-list store list --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw
expect_smb1_refusal smb1-encrypt store list --store "$STORE" --credentials-file "$SMB_CREDS" \
    --password-file pw --encrypt
expect_eq "$(cd "$SMB_RW/certs" && ls -A | sort && cat ./* | sha256sum)" "$before" \
    "the share is as it was: nothing written, no temp or lock file"

finish
