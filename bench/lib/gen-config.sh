#!/bin/sh
# bench/lib/gen-config.sh — write a ccs configuration of N managed certificates, the shape issue 11
# measures: N [certificate] sections with two names each and one deploy-ccs task each, all into
# one [store]. Shared by bench/config-scale and bench/manage-scale.
#
# usage: bench/lib/gen-config.sh N DIR
# Writes DIR/ccs.conf, DIR/store.pass (0600) and DIR/store/ (the store's directory, empty) and
# DIR/state/ (state-dir), and prints the path of ccs.conf. Certificate I (0-based) is named
# cert-I with domains cert-I.example.com and www.cert-I.example.com, and has the task cert-I.ccs.
# Names are in file order, so the last one written is cert-(N-1).
set -eu

[ $# -eq 2 ] || { echo "usage: $0 N DIR" >&2; exit 2; }
n=$1 dir=$2
case $n in '' | *[!0-9]*) echo "gen-config: N must be a whole number" >&2; exit 2 ;; esac

mkdir -p "$dir/store" "$dir/state"
dir=$(cd "$dir" && pwd)
umask 077
printf 'bench-password\n' >"$dir/store.pass"
awk -v n="$n" -v dir="$dir" 'BEGIN {
    printf "[ccs]\nstate-dir = %s/state\nagree-tos = yes\n\n", dir
    printf "[store \"bench\"]\nlocation = %s/store\npassword-file = %s/store.pass\n\n", dir, dir
    for (i = 0; i < n; i++) {
        printf "[certificate \"cert-%d\"]\ndomains = cert-%d.example.com, www.cert-%d.example.com\n\n", i, i, i
        printf "[task \"cert-%d.ccs\"]\ntype = deploy-ccs\nstore = bench\n\n", i
    }
}' >"$dir/ccs.conf"
echo "$dir/ccs.conf"
