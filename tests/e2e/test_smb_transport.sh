#!/bin/sh
# test_smb_transport.sh — ccs speaks SMB2 or later only (issue 10, transport security): a real
# smbd that offers SMB1 alone ("server max protocol = NT1") is refused — exit 1, a message naming
# the store and saying SMB2 or later is required, no password shown, the share left as it was —
# while the smbclient command still reaches that server over SMB1 (the scenario happened: the
# server was up and serving, only not in a dialect ccs accepts).
#
# Signing required by default: smbd cannot be made to leave unsigned a session its client asked
# to sign, so a FAKE stands in for the attacker — tests/e2e/smb_strip_signatures.py relays to a
# real smbd (one that cannot encrypt, so the messages are visible) and strips the signature from
# the server's responses. ccs must refuse the session; through the same relay the smbclient command
# (which does not insist on signing, and so gets an unsigned session) still works, and with the
# relay passing messages unchanged ccs works too: what ccs refuses is the missing signatures.
#
# Encryption on request: the same relay, passing everything to a server that can encrypt, counts
# the encrypted messages the server sends — some with --encrypt (and by default: ccs asks for
# encryption to get signing), none for smbclient told not to encrypt (the control).
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

RELAY_PIDS=""
stop_relays() {
    for relay_pid in $RELAY_PIDS; do kill "$relay_pid" 2>/dev/null || true; done
}
# smb_start sets its own EXIT trap: set this one again after each
set_trap() {
    trap 'stop_relays; smb_stop_all; touch "${STOP:-$T/.stop}"' EXIT
}
set_trap
# relay MODE [NAME]: start tests/e2e/smb_strip_signatures.py (MODE strip or pass) to the smbd on
# SMB_PORT; sets RELAY_PORT and RELAY_COUNT (its count file: stripped responses, encrypted ones).
relay() {
    set -- "$1" "${2:-$1}"
    rm -f "relay-$2.port"
    python3 "$HERE/smb_strip_signatures.py" "$SMB_PORT" "relay-$2.port" "relay-$2.count" "$1" \
        2>"relay-$2.err" &
    RELAY_PIDS="$RELAY_PIDS $!"
    wait_for_file -s "relay-$2.port" 5 || fail "the $2 relay did not start: $(cat "relay-$2.err")"
    RELAY_PORT=$(cat "relay-$2.port")
    RELAY_COUNT=relay-$2.count
}
stripped_count() { cut -d' ' -f1 "$RELAY_COUNT"; }
encrypted_count() { cut -d' ' -f2 "$RELAY_COUNT"; }

# ---- encryption: asked for, the session really is encrypted ----------------------------------
# The relay passes everything and counts the server's SMB2 TRANSFORM (encrypted) messages: with
# --encrypt, and by default against a server that offers it (ccs asks for encryption to get
# signing), the session is encrypted; the smbclient command told not to encrypt is the control
# that the count is not always positive.
relay pass enc
run_ccs 0 enc-list.out store list --store "smb://127.0.0.1:$RELAY_PORT/rw/certs" \
    --credentials-file "$SMB_CREDS" --password-file pw --encrypt
expect_contains enc-list.out "www.example.com.pfx" "--encrypt through the relay lists the share"
enc_encrypt=$(encrypted_count)
run_ccs 0 enc-default.out store list --store "smb://127.0.0.1:$RELAY_PORT/rw/certs" \
    --credentials-file "$SMB_CREDS" --password-file pw
enc_default=$(($(encrypted_count) - enc_encrypt))
smbclient -s "$SMB_DIR/smb.conf" -p "$RELAY_PORT" -A "$SMB_CREDS" -m SMB3 \
    --option='client smb encrypt = off' //127.0.0.1/rw -c 'ls certs/*' >enc-smbclient.out 2>&1 ||
    fail "smbclient without encryption through the relay failed"
enc_control=$(($(encrypted_count) - enc_encrypt - enc_default))
echo "encrypted messages from the server: --encrypt $enc_encrypt, default $enc_default, smbclient without encryption $enc_control"
[ "$enc_encrypt" -gt 0 ] && ok "--encrypt: the server's answers were encrypted ($enc_encrypt messages)" ||
    fail "--encrypt: not one encrypted message came from the server"
[ "$enc_default" -gt 0 ] && ok "by default, against a server that offers it: encrypted ($enc_default messages)" ||
    fail "by default ccs did not encrypt against a server that offers encryption"
expect_eq "$enc_control" 0 "control: smbclient told not to encrypt gets no encrypted message"

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
    # reachable, and not worth retrying: never "server unreachable" (what deploy-ccs retries)
    expect_not_contains "$name.out" "server unreachable" "$name: not called unreachable"
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

# ---- signing required: a relay that strips the server's signatures ----------------------------
SMB_SERVER_ENCRYPT=off smb_start plain
set_trap
smb_mkdir "$SMB_RW/certs"
PLAIN_STORE=$SMB_URL/rw/certs
run_ccs 0 plain-deploy.out deploy --store "$PLAIN_STORE" --credentials-file "$SMB_CREDS" \
    --cert leaf.pem --key leaf.key --chain ca.pem --password-file pw
plain_before=$(cd "$SMB_RW/certs" && ls -A | sort && cat ./* | sha256sum)

relay pass
run_ccs 0 relay-pass.out store list --store "smb://127.0.0.1:$RELAY_PORT/rw/certs" \
    --credentials-file "$SMB_CREDS" --password-file pw
expect_contains relay-pass.out "www.example.com.pfx" "through the relay passing messages unchanged, ccs lists the share"

relay strip
TAMPERED=smb://127.0.0.1:$RELAY_PORT/rw/certs
if smbclient -s "$SMB_DIR/smb.conf" -p "$RELAY_PORT" -A "$SMB_CREDS" -m SMB3 //127.0.0.1/rw \
    -c 'ls certs/*' >relay-smbclient.out 2>&1 && grep -q www.example.com.pfx relay-smbclient.out; then
    ok "through the stripping relay smbclient (not insisting on signing) still lists the share"
else
    fail "smbclient through the stripping relay failed: the relay breaks more than signatures:"
    sed 's/^/    /' relay-smbclient.out >&2
fi
stripped_by_smbclient=$(stripped_count)
run_ccs 1 unsigned-list.out store list --store "$TAMPERED" --credentials-file "$SMB_CREDS" \
    --password-file pw
expect_not_contains unsigned-list.out "www.example.com.pfx" "unsigned responses: ccs lists nothing"
expect_contains unsigned-list.out "$TAMPERED" "unsigned responses: the error names the store"
expect_not_contains unsigned-list.out "$PASSWORD" "unsigned responses: the share password is not in the output"
run_ccs 1 unsigned-deploy.out deploy --store "$TAMPERED" --credentials-file "$SMB_CREDS" \
    --cert other.pem --key other.key --chain ca.pem --password-file pw --force
expect_not_contains unsigned-deploy.out "$PASSWORD" "unsigned responses, deploy: the share password is not in the output"
echo "ccs refusing unsigned responses says: $(grep -m1 error unsigned-list.out)"
stripped=$(stripped_count)
[ "$stripped" -gt "$stripped_by_smbclient" ] &&
    ok "ccs's session was signed and the relay stripped $((stripped - stripped_by_smbclient)) of its responses (the scenario happened)" ||
    fail "the relay stripped nothing from ccs's session: ccs did not ask for signing"
expect_eq "$(cd "$SMB_RW/certs" && ls -A | sort && cat ./* | sha256sum)" "$plain_before" \
    "unsigned responses: the share is as it was"

finish
