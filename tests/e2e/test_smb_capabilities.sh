#!/bin/sh
# test_smb_capabilities.sh — capabilities, not pretence (issue 7), through the CLI on a real SMB
# share: a backend without POSIX modes and groups refuses `deploy --mode` and `deploy --group`
# with a clear error (exit 1, the store named, nothing written), and `store check` does not judge
# modes the share does not have — a file mode 0666 in the share's directory is no error through
# the share, while the same directory checked as a local store is (the control: the mode really
# is one check would otherwise refuse).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smb_lib.sh"

smb_start
smb_mkdir "$SMB_RW/certs"
STORE=$SMB_URL/rw/certs
DIR=$SMB_RW/certs
PASSWORD=$(sed -n 's/^password = //p' "$SMB_CREDS")

make_ca ca
make_leaf leaf ca m.example.com "DNS:m.example.com"
make_password pw 'smb capabilities password'
DEPLOY="deploy --store $STORE --credentials-file $SMB_CREDS --cert leaf.pem --key leaf.key --chain ca.pem --password-file pw"

# shellcheck disable=SC2086
run_ccs 1 mode.out $DEPLOY --mode 0600
expect_contains mode.out "no POSIX mode or group" "deploy --mode to a share: refused, saying why"
expect_contains mode.out "$STORE" "deploy --mode to a share: the error names the store"
# shellcheck disable=SC2086
run_ccs 1 group.out $DEPLOY --group root
expect_contains group.out "no POSIX mode or group" "deploy --group to a share: refused, saying why"
expect_not_contains group.out "$PASSWORD" "deploy --group to a share: no password in the output"
expect_eq "$(ls -A "$DIR")" "" "the refused deploys wrote nothing (no file, no temp or lock file)"

# shellcheck disable=SC2086
run_ccs 0 deploy.out $DEPLOY
chmod 0666 "$DIR/m.example.com.pfx"
run_ccs 0 check-share.out store check --store "$STORE" --credentials-file "$SMB_CREDS" --password-file pw
expect_contains check-share.out "1 .pfx file checked, 0 errors" "store check on the share judges no mode"
expect_not_contains check-share.out "0666" "store check on the share reports no mode"
run_ccs 1 check-local.out store check --store "$DIR" --password-file pw
expect_contains check-local.out "writable by everyone" \
    "control: the same directory as a local store is refused for the mode"

finish
