# smb_lib.sh — a real smbd for the SMB end-to-end tests. Sourced after lib.sh.
#
#   smb_start [NAME]   start smbd (tests/e2e/smb_server.sh) in $T/NAME's twin under /tmp (default
#                      "smbd"); sets SMB_PORT, SMB_USER, SMB_CREDS, SMB_RW, SMB_RO, SMB_DIR and
#                      SMB_URL (smb://127.0.0.1:PORT); stopped when the test exits
#   smb_restart        start smbd again in the same directory on the same port (after a kill)
#   smb_mkdir DIR      make DIR (a path under $SMB_RW or $SMB_RO) owned as smbd serves the share
#   smb_get SHARE PATH LOCAL   fetch PATH from SHARE with the smbclient command into LOCAL
#   smb_ls SHARE DIR   list DIR on SHARE with smbclient (names only, one a line)
#
# The server's directory lives under /tmp (world-searchable), not in $T: smbd serves the shares as
# the test user, who must reach them even when the build tree sits in a private home directory.
SMB_SERVER_SH=${HERE:-$(cd "$(dirname "$0")" && pwd)}/smb_server.sh
SMB_DIRS=""

smb_stop_all() {
    for d in $SMB_DIRS; do
        sh "$SMB_SERVER_SH" stop "$d" || true
        rm -rf "$d"
    done
}

smb_start() {
    d=$(mktemp -d /tmp/ccs-smbd-e2e.XXXXXX)
    SMB_DIRS="$SMB_DIRS $d"
    trap 'smb_stop_all; touch "${STOP:-$T/.stop}"' EXIT
    sh "$SMB_SERVER_SH" start "$d" >"$T/smbd-${1:-smbd}.env" || {
        fail "smbd did not start (see $d/log.smbd)"
        finish
    }
    . "$d/env"
    SMB_URL=smb://127.0.0.1:$SMB_PORT
}

smb_restart() {
    sh "$SMB_SERVER_SH" stop "$SMB_DIR"
    # the same port, so the store's location stays the same: write_conf keeps it in smb.conf
    setsid smbd -F --no-process-group -s "$SMB_DIR/smb.conf" </dev/null >>"$SMB_DIR/smbd.out" 2>&1 &
    echo $! >"$SMB_DIR/smbd.pid.ours"
    SMB_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        smb_client rw -c ls >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "smbd did not come back on port $SMB_PORT"
}

smb_mkdir() {
    mkdir -p "$1"
    [ "$(id -u)" -ne 0 ] || chown "$SMB_USER" "$1"
}

smb_client() {
    share=$1
    shift
    smbclient -s "$SMB_DIR/smb.conf" -p "$SMB_PORT" -A "$SMB_CREDS" -m SMB3 "//127.0.0.1/$share" "$@"
}

smb_get() {
    smb_client "$1" -c "get \"$2\" \"$3\"" >/dev/null 2>&1
}

smb_ls() {
    smb_client "$1" -D "$2" -c ls 2>/dev/null |
        awk '/^  [^ ]/ && $1 != "." && $1 != ".." { print $1 }'
}
