#!/bin/sh
# smb_server.sh — a real smbd on loopback for the SMB tests (field notes §7).
#
#   smb_server.sh start DIR   make DIR (must not exist or be empty), start smbd, print its facts
#   smb_server.sh stop DIR    stop the smbd started in DIR (by the pid it recorded), keep DIR
#
# `start` writes DIR/smb.conf, a test user with a random password in the passdb under DIR, and
# three shares, then prints (and writes to DIR/env) shell assignments:
#   SMB_PORT     the loopback port smbd listens on (a free high port, found by trying)
#   SMB_USER     the test user (as root: ccs-smbtest, created with useradd when missing; as a
#                normal user: that user, since an unprivileged smbd serves files as itself)
#   SMB_CREDS    DIR/credentials: the user's Samba credentials file, mode 0600
#   SMB_RW       DIR/rw, the directory of share "rw" (read-write for SMB_USER)
#   SMB_RO       DIR/ro, the directory of share "ro" (read-only)
#   SMB_NOENC    share "noenc" serves DIR/rw with SMB3 encryption switched off
#   SMB_PID      smbd's process id
#   SMB_DIR      DIR
# SMB_SERVER_ENCRYPT in the environment sets smbd's global "server smb encrypt" (default
# if_required: offered, not forced; "off" makes a server that cannot encrypt at all).
# SMB_SERVER_GUEST="bad user" (or "bad password", "never") adds share "guest" (DIR/guest, guest
# ok, guest only, read-write, served as SMB_USER, the guest account) and sets "map to guest" to
# it; SMB_GUEST is then DIR/guest. Unset: no guest share, map to guest = never.
# The password is never printed; it is in DIR/credentials only. Used by tests/e2e/smb_lib.sh, the
# backend conformance suite (its SMB row) and bench/deploy-smb.
set -eu

cmd=${1:?usage: smb_server.sh start|stop DIR}
dir=${2:?usage: smb_server.sh start|stop DIR}

# How long smbd may take to listen before start gives up (it listens within a second here).
START_WAIT_TENTHS=100
# The high ports tried: a random start, then the next ones.
PORT_BASE=20000
PORT_SPAN=40000
PORT_TRIES=20

die() {
    echo "smb_server.sh: $*" >&2
    exit 1
}

# The pids of samba-dcerpcd and its rpcd_* workers started for this smbd: Samba 4.17 starts them on
# demand for smbd's RPC pipes, in a session of their own, so smbd's process group does not hold
# them and they outlived every test (found 39 minutes later). They carry our smb.conf's path.
rpc_helpers() {
    for p in /proc/[0-9]*; do
        if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "--configfile=$dir/smb.conf"; then
            echo "${p#/proc/}"
        fi
    done
}

stop() {
    [ -f "$dir/smbd.pid.ours" ] || return 0
    pid=$(cat "$dir/smbd.pid.ours")
    # smbd leads a session of its own (setsid below): its process group is its pid, children too
    kill -TERM "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
    helpers=$(rpc_helpers)
    if [ -n "$helpers" ]; then
        # shellcheck disable=SC2086 # one pid a word
        kill -TERM $helpers 2>/dev/null || true
        i=0
        while [ -n "$(rpc_helpers)" ] && [ $i -lt 20 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        # shellcheck disable=SC2046
        kill -KILL $(rpc_helpers) 2>/dev/null || true
    fi
    rm -f "$dir/smbd.pid.ours"
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi
[ "$cmd" = start ] || die "unknown command $cmd"

for tool in smbd pdbedit smbclient; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
        die "$tool is not installed (scripts/setup installs samba and smbclient)"
done
PATH=$PATH:/usr/sbin

mkdir -p "$dir"
chmod 0755 "$dir"
for d in private lock state cache pid ncalrpc rw ro guest; do mkdir -p "$dir/$d"; done
chmod 0700 "$dir/private"

if [ "$(id -u)" -eq 0 ]; then
    user=ccs-smbtest
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null ||
            id "$user" >/dev/null 2>&1 || die "cannot create the test user $user"
    fi
    chown "$user" "$dir/rw" "$dir/ro" "$dir/guest"
else
    user=$(id -un)
fi
chmod 0755 "$dir/rw" "$dir/ro" "$dir/guest"

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
umask 077
cat >"$dir/credentials" <<EOF
username = $user
password = $password
domain = WORKGROUP
EOF
umask 022

write_conf() {
    cat >"$dir/smb.conf" <<EOF
[global]
    smb ports = $1
    interfaces = lo
    bind interfaces only = yes
    disable netbios = yes
    server role = standalone server
    workgroup = WORKGROUP
    private dir = $dir/private
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    pid directory = $dir/pid
    ncalrpc dir = $dir/ncalrpc
    passdb backend = tdbsam:$dir/private/passdb.tdb
    log file = $dir/log.smbd
    log level = 1
    max log size = 0
    server min protocol = SMB2_02
    map to guest = ${SMB_SERVER_GUEST:-never}
    guest account = $user
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    kernel change notify = yes
    server smb encrypt = ${SMB_SERVER_ENCRYPT:-if_required}

[rw]
    path = $dir/rw
    read only = no
    valid users = $user
    create mask = 0600
    directory mask = 0700

[ro]
    path = $dir/ro
    read only = yes
    valid users = $user

[noenc]
    path = $dir/rw
    read only = no
    valid users = $user
    server smb encrypt = off
EOF
    [ -z "${SMB_SERVER_GUEST:-}" ] || cat >>"$dir/smb.conf" <<EOF

[guest]
    path = $dir/guest
    read only = no
    guest ok = yes
    guest only = yes
    create mask = 0600
    directory mask = 0700
EOF
}

write_conf 445
printf '%s\n%s\n' "$password" "$password" |
    pdbedit -s "$dir/smb.conf" -a -u "$user" -t >/dev/null 2>"$dir/pdbedit.err" ||
    die "pdbedit could not add $user: $(cat "$dir/pdbedit.err")"

# A free port: smbd exits at once when its port is taken, so try until one listens.
port=$((PORT_BASE + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % PORT_SPAN))
try=0
while :; do
    try=$((try + 1))
    [ $try -le $PORT_TRIES ] || die "no free port for smbd after $PORT_TRIES tries (see $dir/log.smbd)"
    write_conf "$port"
    # setsid: smbd signals its whole process group when it stops; in a session of its own that
    # group is smbd and its children, never the test that started it.
    setsid smbd -F --no-process-group -s "$dir/smb.conf" </dev/null >>"$dir/smbd.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/smbd.pid.ours"
    i=0
    up=0
    while [ $i -lt $START_WAIT_TENTHS ] && kill -0 "$pid" 2>/dev/null; do
        if smbclient -s "$dir/smb.conf" -p "$port" -A "$dir/credentials" -m SMB3 \
            //127.0.0.1/rw -c 'ls' >/dev/null 2>&1; then
            up=1
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ $up -eq 1 ] && break
    stop
    port=$((port + 1))
done

cat >"$dir/env" <<EOF
SMB_PORT=$port
SMB_USER=$user
SMB_CREDS=$dir/credentials
SMB_RW=$dir/rw
SMB_RO=$dir/ro
SMB_NOENC=noenc
SMB_GUEST=${SMB_SERVER_GUEST:+$dir/guest}
SMB_PID=$pid
SMB_DIR=$dir
EOF
cat "$dir/env"
