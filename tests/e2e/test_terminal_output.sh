#!/bin/sh
# test_terminal_output.sh — text output is safe to print on a terminal and lines up: a file name
# holding an escape sequence, a newline or a bidirectional override cannot reach the terminal raw
# (`store list`, `store check`, `deploy`), and columns are padded by display width (wcwidth), so
# rows for bücher.example and 例え.example line up with ASCII ones.
. "$(dirname "$0")/lib.sh"

ESC=$(printf '\033')
make_ca ca
make_password pw 'terminal-test-password'
make_leaf www ca www.example.com 'DNS:www.example.com' 90
make_leaf idn ca idn.example 'DNS:bücher.example,DNS:例え.example' 90

mkdir s
run_ccs 0 d1.out deploy --store s --cert www.pem --key www.key --chain ca.pem --password-file pw
run_ccs 0 d2.out deploy --store s --cert idn.pem --key idn.key --chain ca.pem --password-file pw
# Hostile names: a screen clear plus colour, a newline that fakes a check line, and a right-to-left
# override (U+202E) that displays "evil.pfx" reversed.
cp s/www.example.com.pfx "s/${ESC}[2J${ESC}[31mred.example.pfx"
cp s/www.example.com.pfx "s/nl.example
error   www.example.com.pfx              fake-line        forged.pfx"
cp s/www.example.com.pfx "s/$(printf 'rlo\342\200\256xfp.example.pfx')"
chmod 0640 s/*

# no_raw_controls FILE WHAT — FILE holds no ESC, no U+202E, and every line is one of ours.
no_raw_controls() {
    if grep -q "$ESC" "$1"; then fail "$2: a raw ESC reached the output"; else ok "$2: no raw ESC"; fi
    if grep -q "$(printf '\342\200\256')" "$1"; then
        fail "$2: a raw U+202E reached the output"
    else
        ok "$2: no raw right-to-left override"
    fi
    if grep -q '^error  *www\.example\.com\.pfx  *fake-line' "$1"; then
        fail "$2: the newline in a file name faked a line"
    else
        ok "$2: the newline in a file name fakes no line"
    fi
}

run_ccs_split 0 list.out list.err store list --store s --password-file pw
no_raw_controls list.out "list"
expect_contains list.out '\x1b[2J\x1b[31mred.example.pfx' "list: the escape sequence is shown escaped"
expect_contains list.out 'nl.example\x0aerror' "list: the newline is shown escaped"
expect_contains list.out 'rlo\u{202E}xfp.example.pfx' "list: the override is shown escaped"

run_ccs_split 1 check.out check.err store check --store s --password-file pw
no_raw_controls check.out "check"
no_raw_controls check.err "check (stderr)"
expect_contains check.out '\x1b[2J\x1b[31mred.example.pfx' "check: the escape sequence is shown escaped"

# The JSON keeps the name exactly (JSON escapes it itself).
run_ccs_split 1 check.json check-json.err store check --store s --password-file pw --json
expect_eq "$(json_eval check.json '[ascii(f["file"]) for f in d["findings"] if f["file"].startswith("\x1b")]')" \
    "'\\x1b[2J\\x1b[31mred.example.pfx'" "check --json: the file name is exact"

# ---- columns by display width -------------------------------------------------------------------
# col FILE PREFIX MARKER — the display column (wcwidth: East Asian wide = 2, combining = 0) at
# which MARKER starts on the line of FILE that starts with PREFIX.
col() {
    python3 - "$@" <<'PY'
import sys, unicodedata
path, prefix, marker = sys.argv[1:4]
for line in open(path, encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith(prefix):
        i = line.index(marker, len(prefix))
        print(sum(0 if unicodedata.combining(c) else
                  2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[:i]))
        break
else:
    print("<no line starting with %r>" % prefix)
PY
}

run_ccs 0 list2.out store list --store s --password-file pw
expect_eq "$(col list2.out 'bücher.example.pfx' 'CN=')" "$(col list2.out 'www.example.com.pfx' 'CN=')" \
    "list: the bücher row lines up with the ASCII row"
expect_eq "$(col list2.out '例え.example.pfx' 'CN=')" "$(col list2.out 'www.example.com.pfx' 'CN=')" \
    "list: the 例え row (wide characters) lines up with the ASCII row"

# check: the same finding on an ASCII and a Unicode file; the code column must line up.
mkdir c
cp s/www.example.com.pfx s/bücher.example.pfx s/例え.example.pfx c/
chmod 0644 c/*
run_ccs 1 check2.out store check --store c --password-file pw
expect_eq "$(col check2.out 'error   bücher.example.pfx' 'world-readable')" \
    "$(col check2.out 'error   www.example.com.pfx' 'world-readable')" \
    "check: the bücher row lines up with the ASCII row"
expect_eq "$(col check2.out 'error   例え.example.pfx' 'world-readable')" \
    "$(col check2.out 'error   www.example.com.pfx' 'world-readable')" \
    "check: the 例え row lines up with the ASCII row"

# deploy: the detail column.
mkdir d
run_ccs 0 d3.out deploy --store d --cert idn.pem --key idn.key --chain ca.pem --password-file pw
run_ccs 0 d4.out deploy --store d --cert www.pem --key www.key --chain ca.pem --password-file pw
cat d3.out d4.out >deploys.out
expect_eq "$(col deploys.out '  written   bücher.example.pfx' 'new file')" \
    "$(col deploys.out '  written   www.example.com.pfx' 'new file')" \
    "deploy: the bücher row lines up with the ASCII row"
expect_eq "$(col deploys.out '  written   例え.example.pfx' 'new file')" \
    "$(col deploys.out '  written   www.example.com.pfx' 'new file')" \
    "deploy: the 例え row lines up with the ASCII row"

finish
