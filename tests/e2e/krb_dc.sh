#!/bin/sh
# krb_dc.sh — a throw-away Samba AD domain controller (Samba 4.17's `samba`: its KDC, its file
# server and winbindd) on loopback, for tests/e2e/test_smb_kerberos.sh. Root only: the DC's file
# server serves a domain user's files as that user's Unix uid.
#
#   krb_dc.sh start DIR       provision a domain in DIR (new or empty), start samba, print its facts
#   krb_dc.sh stop DIR        stop that samba (by the pid it recorded), take out the /etc/hosts line
#                             start added, if any; DIR is kept
#   krb_dc.sh watch DIR PID   wait until PID has ended, then stop and remove DIR: the clean-up of a
#                             test killed before its own trap could run (start it with setsid)
#
# Everything lives in DIR: the domain's databases, smb.conf, krb5.conf, logs, the share. Nothing
# else on the machine changes, except one /etc/hosts line when the machine's own name cannot be
# used (below). Only the LDAP-free services run (server services = s3fs, kdc, winbindd), on high
# loopback ports: SMB, Kerberos and kpasswd, three consecutive ports checked free first.
#
# The DC's name: Kerberos asks for a ticket for cifs/NAME, NAME being what the client connects to,
# and libsmbclient (like smbclient) never uses Kerberos towards an IP address or "localhost". The
# DC is therefore named after this machine (`hostname`, short form) when that name resolves to
# 127.0.0.1 (and ::1) only; otherwise it is "ccskrbdc", and start adds "127.0.0.1 ccskrbdc" to
# /etc/hosts with a marker naming DIR; stop (or watch) removes exactly that line and nothing else.
# KRB_DC_FORCE_HOSTS=1 in the environment takes that second way even when the first would do (to
# test it).
#
# start writes DIR/env (and prints it): shell assignments of
#   KRB_HOST          the DC's host name (the client connects to it; its SPN is cifs/KRB_HOST)
#   KRB_REALM         the realm (CCSKRB.TEST)
#   KRB_USER          the domain user, uidNumber KRB_UID
#   KRB_PASSWORD_FILE DIR/user.password, the user's password (mode 0600; never printed)
#   KRB_CONFIG_FILE   DIR/krb5.conf: the realm and its KDC on loopback (for KRB5_CONFIG)
#   KRB_SMB_PORT      the DC's SMB port; KRB_KDC_PORT its Kerberos port
#   KRB_SHARE         DIR/share, share "certs": owned by KRB_UID, mode 0700
#   KRB_CLIENT_CONF   DIR/client.conf: a client smb.conf for smbclient (no machine config read)
#   KRB_PID           samba's pid; KRB_DIR DIR
set -eu

cmd=${1:?usage: krb_dc.sh start|stop|watch DIR [PID]}
dir=${2:?usage: krb_dc.sh start|stop|watch DIR [PID]}

REALM=CCSKRB.TEST
DOMAIN=CCSKRB
USER_NAME=ccs-deployer
# The user's Unix uid and gid (its rfc2307 uidNumber/gidNumber): high, unlikely to be anyone's.
USER_UID=2950001
FALLBACK_HOST=ccskrbdc
# How long samba may take until its KDC issues tickets and its file server takes them (~2 s here).
START_WAIT_TENTHS=300
PORT_BASE=20000
PORT_SPAN=40000
PORT_TRIES=5
START_TRIES=3
# Without a private /run/samba (below): how long to wait for another winbindd to go.
WB_WAIT_SECONDS=120

PATH=$PATH:/usr/sbin:/sbin
export PATH

die() {
    echo "krb_dc.sh: $*" >&2
    exit 1
}

# tree PID...: those processes and all their descendants, one a line
tree() {
    ps -eo pid=,ppid= | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                grew = 0
                for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; grew = 1 }
            } while (grew)
            for (p in want) print p
        }'
}

# kill_samba PID: samba and what it started. Its smbd and winbindd lead sessions of their own
# (they do not die with samba's process group, nor always with samba): every descendant found
# now or recorded at start (DIR/children) gets SIGTERM, then SIGKILL after 5 s.
kill_samba() {
    # shellcheck disable=SC2046 # one pid a line, split on purpose
    pids=$(tree "$1" $(cat "$dir/children" 2>/dev/null) | sort -u)
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    i=0
    while [ $i -lt 50 ]; do
        alive=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -n "$alive" ] || break
        sleep 0.1
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    [ -z "$alive" ] || kill -KILL $alive 2>/dev/null || true
}

stop() {
    if [ -f "$dir/samba.pid.ours" ]; then
        kill_samba "$(cat "$dir/samba.pid.ours")"
        rm -f "$dir/samba.pid.ours" "$dir/children"
    fi
    if [ -f "$dir/hosts-line" ]; then
        line=$(cat "$dir/hosts-line")
        # in place (cat >, not mv): /etc/hosts may be a bind mount; only our exact line goes
        if grep -qxF -- "$line" /etc/hosts; then
            grep -vxF -- "$line" /etc/hosts >"$dir/hosts.new" || true
            cat "$dir/hosts.new" >/etc/hosts
        fi
        rm -f "$dir/hosts-line" "$dir/hosts.new"
    fi
}

case $cmd in
stop)
    stop
    exit 0
    ;;
watch)
    watched=${3:?usage: krb_dc.sh watch DIR PID}
    while kill -0 "$watched" 2>/dev/null; do sleep 1; done
    [ -d "$dir" ] || exit 0
    stop
    rm -rf "$dir"
    exit 0
    ;;
start) ;;
*) die "unknown command $cmd" ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (the AD DC's file server switches to the domain user's uid)"
for tool in samba samba-tool smbclient kinit; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is not installed (scripts/setup installs samba-ad-dc, krb5-user and smbclient)"
done

mkdir -p "$dir"
[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
# world-searchable: the file server reaches DIR/share as the domain user
chmod 0755 "$dir"

# ---- the DC's name ------------------------------------------------------------------------------
# only_loopback NAME: NAME resolves, to 127.0.0.1 and ::1 and nothing else
only_loopback() {
    addrs=$(getent ahosts "$1" 2>/dev/null | awk '{ print $1 }' | sort -u) || return 1
    [ -n "$addrs" ] || return 1
    for a in $addrs; do
        case $a in 127.0.0.1 | ::1) ;; *) return 1 ;; esac
    done
}
host=$(hostname 2>/dev/null | cut -d. -f1 | tr '[:upper:]' '[:lower:]') || host=""
case $host in
"" | localhost | *[!a-z0-9-]* | -* | [0-9]*) host="" ;;
esac
[ ${#host} -le 15 ] || host=""
if [ -n "$host" ] && [ -z "${KRB_DC_FORCE_HOSTS:-}" ] && only_loopback "$host"; then
    :
else
    host=$FALLBACK_HOST
    line="127.0.0.1 $host # ccs tests/e2e/krb_dc.sh $dir"
    grep -qxF -- "$line" /etc/hosts 2>/dev/null || {
        printf '%s\n' "$line" >"$dir/hosts-line"
        printf '%s\n' "$line" >>/etc/hosts || die "cannot add \"$line\" to /etc/hosts"
    }
    # a machine whose resolver does not read /etc/hosts first would still miss it: say so
    only_loopback "$host" ||
        die "$host does not resolve to 127.0.0.1 only even with the /etc/hosts line (nsswitch.conf?)"
fi

# ---- the domain ---------------------------------------------------------------------------------
# No --adminpass: provision picks a random one (nothing here needs the administrator); -s /dev/null:
# nothing of the machine's smb.conf leaks into the domain's.
samba-tool domain provision -s /dev/null --targetdir="$dir" --realm="$REALM" --domain="$DOMAIN" \
    --server-role=dc --dns-backend=NONE --use-rfc2307 --host-name="$host" \
    >"$dir/provision.log" 2>&1 || die "samba-tool domain provision failed: $(tail -5 "$dir/provision.log")"
for d in share pid ncalrpc log; do mkdir -p "$dir/$d"; done

write_conf() { # write_conf SMB_PORT KDC_PORT KPASSWD_PORT
    cat >"$dir/etc/smb.conf" <<EOF
[global]
	netbios name = $host
	realm = $REALM
	workgroup = $DOMAIN
	server role = active directory domain controller
	server services = s3fs, kdc, winbindd
	interfaces = lo
	bind interfaces only = yes
	disable netbios = yes
	smb ports = $1
	krb5 port = $2
	kpasswd port = $3
	private dir = $dir/private
	lock directory = $dir
	state directory = $dir/state
	cache directory = $dir/cache
	binddns dir = $dir/bind-dns
	pid directory = $dir/pid
	ncalrpc dir = $dir/ncalrpc
	log file = $dir/log/log.%m
	log level = 1
	max log size = 0
	idmap_ldb:use rfc2307 = yes
	server min protocol = SMB2_02
	map to guest = never
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes

[certs]
	path = $dir/share
	read only = no
EOF
}
write_conf 1 2 3

# The user, its password read by samba-tool from stdin (twice), never on a command line. setsid: no
# controlling terminal, so samba-tool reads stdin, not /dev/tty. AD's default policy wants three
# kinds of characters.
umask 077
printf 'Ccs-%s-Kx9\n' "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/user.password"
umask 022
password=$(cat "$dir/user.password")
printf '%s\n%s\n' "$password" "$password" |
    setsid -w samba-tool user create "$USER_NAME" -s "$dir/etc/smb.conf" --uid-number="$USER_UID" \
        --gid-number="$USER_UID" >"$dir/user.log" 2>&1 ||
    die "samba-tool user create failed: $(grep -v -i password "$dir/user.log" | tail -3)"
unset password
chown "$USER_UID:$USER_UID" "$dir/share"
chmod 0700 "$dir/share"

cat >"$dir/client.conf" <<EOF
[global]
	workgroup = $DOMAIN
	realm = $REALM
	client min protocol = SMB2_02
EOF

# ---- ports and start ----------------------------------------------------------------------------
# smbd reaches winbindd (which maps the domain user to its uid) through the socket directory built
# into libwbclient, /run/samba/winbindd: smb.conf's "winbindd socket directory" moves winbindd's
# end only, and then every session setup fails. So samba runs in a mount namespace of its own with
# an empty tmpfs on that directory's parent: a system winbindd (the winbind package that
# samba-ad-dc pulls in starts one where systemd runs services) or another run of this test cannot
# share or take its socket, and nothing of the DC's is left under /run.
WB_DIR=$(samba -b 2>/dev/null | sed -n 's/^ *WINBINDD_SOCKET_DIR: *//p')
[ -n "$WB_DIR" ] || die "samba -b does not say where winbindd's socket is (WINBINDD_SOCKET_DIR)"
WB_PARENT=$(dirname "$WB_DIR")
mkdir -p "$WB_PARENT"
# Where / is not a mount point (a chroot) unshare cannot make it private: then samba shares the
# machine's $WB_DIR, as before, and waits for another winbindd there to go.
PRIVATE_RUN=1
if ! unshare --mount --propagation private true 2>/dev/null; then
    PRIVATE_RUN=0
    echo "krb_dc.sh: no private mount namespace here (unshare --mount --propagation private fails): samba shares $WB_DIR" >&2
    i=0
    while command -v ss >/dev/null 2>&1 && ss -Hxl 2>/dev/null | grep -qF " $WB_DIR/pipe "; do
        [ $i -lt $WB_WAIT_SECONDS ] ||
            die "a winbindd already listens on $WB_DIR/pipe (the system's, or another AD DC's) for more than $WB_WAIT_SECONDS s: this test's DC would share it"
        sleep 1
        i=$((i + 1))
    done
fi

# port_free PORT: nothing listens on it (TCP or UDP), as far as ss can tell
port_free() {
    command -v ss >/dev/null 2>&1 || return 0
    [ -z "$(ss -Hlntu "( sport = :$1 )" 2>/dev/null)" ]
}

# ready: the KDC issues the user a ticket and the file server takes it. (smbclient 4.17 ignores
# --use-krb5-ccache here: the cache is named by KRB5CCNAME.)
ready() {
    KRB5_CONFIG=$dir/krb5.conf KRB5CCNAME=FILE:$dir/probe.ccache \
        setsid -w kinit "$USER_NAME@$REALM" <"$dir/user.password" >"$dir/ready.log" 2>&1 &&
        KRB5_CONFIG=$dir/krb5.conf KRB5CCNAME=FILE:$dir/probe.ccache smbclient -N \
            -s "$dir/client.conf" -p "$smb_port" --use-kerberos=required "//$host/certs" -c ls \
            </dev/null >>"$dir/ready.log" 2>&1
}

start_try=0
while :; do
    start_try=$((start_try + 1))
    [ $start_try -le $START_TRIES ] ||
        die "samba did not come up in $START_TRIES tries (see $dir/samba.out, $dir/log/)"
    try=0
    while :; do
        try=$((try + 1))
        [ $try -le $PORT_TRIES ] || die "no three free consecutive loopback ports in $PORT_TRIES tries"
        smb_port=$((PORT_BASE + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % PORT_SPAN))
        kdc_port=$((smb_port + 1))
        kpasswd_port=$((smb_port + 2))
        port_free "$smb_port" && port_free "$kdc_port" && port_free "$kpasswd_port" && break
    done
    write_conf "$smb_port" "$kdc_port" "$kpasswd_port"
    cat >"$dir/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
[realms]
	$REALM = {
		kdc = 127.0.0.1:$kdc_port
	}
EOF
    # setsid: samba signals its process group when it stops; in a session of its own that group
    # is samba and its children, never the test. -i: in the foreground, logging to stdout.
    # unshare execs sh, which execs setsid, which execs samba: $! is samba's pid.
    if [ $PRIVATE_RUN -eq 1 ]; then
        unshare --mount --propagation private sh -c \
            'mount -t tmpfs -o mode=0755 ccs-krb-dc "$1" && shift && exec setsid "$@"' \
            sh "$WB_PARENT" samba -i -M single -s "$dir/etc/smb.conf" </dev/null >>"$dir/samba.out" 2>&1 &
    else
        setsid samba -i -M single -s "$dir/etc/smb.conf" </dev/null >>"$dir/samba.out" 2>&1 &
    fi
    pid=$!
    echo "$pid" >"$dir/samba.pid.ours"
    i=0
    up=0
    while [ $i -lt $START_WAIT_TENTHS ] && kill -0 "$pid" 2>/dev/null; do
        if ready; then
            up=1
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    rm -f "$dir/probe.ccache"
    [ $up -eq 1 ] && break
    echo "krb_dc.sh: samba on ports $smb_port-$kpasswd_port did not come up; trying others" >&2
    tail -5 "$dir/samba.out" >&2 || true
    kill_samba "$pid"
    rm -f "$dir/samba.pid.ours"
done
# recorded for stop: samba's children may outlive it and be re-parented
tree "$pid" >"$dir/children"

cat >"$dir/env" <<EOF
KRB_HOST=$host
KRB_REALM=$REALM
KRB_USER=$USER_NAME
KRB_UID=$USER_UID
KRB_PASSWORD_FILE=$dir/user.password
KRB_CONFIG_FILE=$dir/krb5.conf
KRB_SMB_PORT=$smb_port
KRB_KDC_PORT=$kdc_port
KRB_SHARE=$dir/share
KRB_CLIENT_CONF=$dir/client.conf
KRB_PID=$pid
KRB_DIR=$dir
EOF
cat "$dir/env"
