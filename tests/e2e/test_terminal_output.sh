#!/bin/sh
# test_terminal_output.sh — text output is safe to print on a terminal and lines up: a file name
# holding an escape sequence, a newline or a bidirectional override cannot reach the terminal raw
# (`store list`, `store check`, `deploy`), and columns are padded by display width (wcwidth), so
# rows for bücher.example and 例え.example line up with ASCII ones. On a terminal (a pty, from
# script(1)) the tables of `store list`, `store check` and `status` fit its width, long values cut
# with an ellipsis, never inside a character; piped and as JSON they are whole. `ccs renew` shows
# its progress on one line redrawn with "\r" on a terminal, and nothing of it when piped. No
# message says a prefix twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/messages_lib.sh"

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

# Certificate fields: an organisation holding an escape sequence (OpenSSL's RFC 2253 form already
# writes it \1B) and a right-to-left override (kept raw by it: ccs must escape it) in deploy's
# report, list and lookup.
RLO=$(printf '\342\200\256')
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out evil.key
openssl req -new -utf8 -key evil.key -subj "/CN=evil.example/O=Evil${ESC}[2J${RLO}gro" -out evil.csr
printf 'subjectAltName=DNS:evil.example\nbasicConstraints=CA:FALSE\n' >evil.ext
openssl x509 -req -in evil.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out evil.pem -days 90 \
    -extfile evil.ext 2>/dev/null
mkdir f
run_ccs_split 0 fd.out fd.err deploy --store f --cert evil.pem --key evil.key --chain ca.pem \
    --password-file pw
run_ccs_split 0 fl.out fl.err store list --store f --password-file pw
run_ccs_split 0 fk.out fk.err store lookup evil.example --store f --password-file pw
for out in fd fl fk; do
    no_raw_controls "$out.out" "certificate fields ($out.out)"
    expect_contains "$out.out" 'O=Evil\\1B[2J\u{202E}gro' "certificate fields ($out.out): shown escaped"
done

# A SAN holding an escape sequence is rejected; the library escapes it for the message it quotes it
# in, and the report and the warning show that escape once (\x1b), not escaped again (\\x1b).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout esan.key -out esan.pem \
    -subj "/CN=esan.example" -addext "subjectAltName=DNS:esan.example,DNS:a${ESC}[2Jb.example" \
    -days 30 2>/dev/null
mkdir e
run_ccs_split 0 ed.out ed.err deploy --store e --cert esan.pem --key esan.key --password-file pw
for out in ed.out ed.err; do
    no_raw_controls "$out" "a rejected SAN ($out)"
    expect_contains "$out" 'name "a\x1b[2Jb.example": contains a control character' \
        "a rejected SAN ($out): its escape is shown once"
done
expect_contains ed.out '  rejected  a\x1b[2Jb.example ' "a rejected SAN: the report's name column shows the escape once"

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


# ---- fit for a terminal ---------------------------------------------------------------------------
# on_pty OUT COMMAND... — run COMMAND on a pseudo-terminal (script(1)): stdout and stderr are both
# the terminal; what it showed goes to OUT, its CRs of the line discipline ("\r\n") dropped so a
# "\r" left in OUT is one the program wrote. Exit status: COMMAND's.
on_pty() {
    op_out=$1
    shift
    op_cmd=
    for op_arg in "$@"; do op_cmd="$op_cmd '$(printf '%s' "$op_arg" | sed "s/'/'\\\\''/g")'"; done
    set +e
    SHELL=/bin/sh script -qec "$op_cmd" /dev/null </dev/null >"$op_out.raw" 2>&1
    op_rc=$?
    set -e
    sed 's/\r$//' "$op_out.raw" >"$op_out"
    return $op_rc
}

# widest FILE — the display width of FILE's widest line (colour sequences take none).
widest() {
    python3 - "$1" <<'PY'
import re, sys, unicodedata
w = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line.rstrip("\n"))
    w = max(w, sum(0 if unicodedata.combining(c) else
                   2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line))
print(w)
PY
}

# expect_fits FILE WIDTH WHAT
expect_fits() {
    ef_w=$(widest "$1")
    if [ "$ef_w" -le "$2" ]; then ok "$3: no line wider than $2 ($ef_w)"; else
        fail "$3: a line is $ef_w columns wide, more than $2:"
        sed 's/^/    /' "$1" >&2
    fi
}

# A certificate whose names make a long NAMES value: one file per name, each row the whole list.
LONG_NAMES=long-name-number-one.example.org,long-name-number-two.example.org,例え-長い名前.example
make_leaf long ca long-name-number-one.example.org \
    "DNS:long-name-number-one.example.org,DNS:long-name-number-two.example.org,DNS:例え-長い名前.example" 90
mkdir w
run_ccs 0 dw.out deploy --store w --cert long.pem --key long.key --chain ca.pem --password-file pw
cp w/long-name-number-one.example.org.pfx w/an-uncommonly-long-file-name-for-a-certificate.example.org.pfx
chmod 0644 w/long-name-number-two.example.org.pfx # a finding for check
# A file name of wide characters only, longer than its column: a cut by octets would split one.
cp w/long-name-number-one.example.org.pfx w/例え例え例え例え例え例え例え例え.example.pfx

export LC_ALL=C.UTF-8
on_pty tl.out env COLUMNS=60 "$CCS" store list --store w --password-file pw || true
expect_fits tl.out 60 "list on a 60-column terminal"
expect_contains tl.out "…" "list on a terminal: a long value ends in an ellipsis"
expect_contains tl.out "long-name-number-one.ex…" "list on a terminal: a file name keeps its minimum (24)"
on_pty tc.out env COLUMNS=60 "$CCS" store check --store w --password-file pw || true
expect_fits tc.out 60 "check on a 60-column terminal"
expect_contains tc.out "…" "check on a terminal: a long value ends in an ellipsis"
on_pty tl100.out env COLUMNS=100 "$CCS" store list --store w --password-file pw || true
expect_fits tl100.out 100 "list on a 100-column terminal"
# Cut by display width, never inside a character: the output is valid UTF-8 at every width.
for cols in 41 42 43 44 45 46 47 48 49 50; do
    on_pty "tw$cols.out" env COLUMNS=$cols "$CCS" store list --store w --password-file pw || true
done
if python3 -c 'import sys; [open(f, encoding="utf-8", errors="strict").read() for f in sys.argv[1:]]' tw*.out.raw; then
    ok "list at widths 41 to 50: no character cut in two"
else
    fail "list at widths 41 to 50: a character was cut in two"
fi
for cols in 41 42 43 44 45 46 47 48 49 50; do
    [ "$(widest "tw$cols.out")" -le "$cols" ] || fail "list at $cols columns: a line is wider"
done
ok "list at widths 41 to 50: every line fits"
# Outside a UTF-8 locale the ellipsis is three dots.
LC_ALL=C on_pty tlc.out env COLUMNS=60 "$CCS" store list --store w --password-file pw || true
expect_contains tlc.out "..." "list in the C locale: the ellipsis is three dots"
expect_not_contains tlc.out "…" "list in the C locale: no UTF-8 ellipsis"

# Piped, and as JSON: every value whole, whatever COLUMNS says.
COLUMNS=60 run_ccs_split 0 pl.out pl.err store list --store w --password-file pw
expect_contains pl.out "$LONG_NAMES" "list piped: the names whole"
expect_contains pl.out "an-uncommonly-long-file-name-for-a-certificate.example.org.pfx" "list piped: the file name whole"
expect_not_contains pl.out "…" "list piped: nothing cut"
COLUMNS=60 run_ccs_split 1 pc.out pc.err store check --store w --password-file pw
expect_not_contains pc.out "…" "check piped: nothing cut"
on_pty tj.out env COLUMNS=60 "$CCS" store list --store w --password-file pw --json || true
expect_eq "$(json_eval tj.out '",".join([f["names"] for f in d["files"] if f["file"].startswith("long-name-number-one")][0])')" \
    "$LONG_NAMES" "list --json on a terminal: the names whole"

# ---- renew's progress, and status -----------------------------------------------------------------
# Four certificates and a CA that cannot be reached (port 9, discard: nothing listens): every
# renewal fails, after the client's retries for the first one only (the run remembers).
mkdir -p rstate rstore
make_password rpw 'renew-progress-pw'
{
    cat <<CONF
[ccs]
state-dir = $T/rstate
server = https://127.0.0.1:9/directory
contact = mailto:ops@example.test
agree-tos = yes

[store "main"]
location = $T/rstore
password-file = $T/rpw
CONF
    for n in alpha bravo a-certificate-with-an-uncommonly-long-name-for-a-table delta; do
        printf '\n[certificate "%s"]\ndomains = %s.example.test, www.%s.example.test\n' "$n" "$n" "$n"
    done
} >renew.conf
on_pty rp.out "$CCS" renew --config renew.conf --jobs 1 || true
if grep -q "$(printf '\r')" rp.out; then ok "renew on a terminal: the progress line is redrawn with \\r"; else
    fail "renew on a terminal: no \\r in its output:"
    sed 's/^/    /' rp.out >&2
fi
expect_contains rp.out "renew: 0/4 done, 0 failed: alpha" "renew on a terminal: the first certificate named as it starts"
expect_contains rp.out "renew: 1/4 done, 1 failed: bravo" "renew on a terminal: done, total, failures so far and the current name"
expect_contains rp.out "renew: 4/4 done, 4 failed" "renew on a terminal: the last count"
# Cleared at the end: the last thing on the progress line is the erase, the table starts clean.
expect_eq "$(tr '\r' '\n' <rp.out | grep -c '^CERTIFICATE')" 1 "renew on a terminal: the table after the line was cleared"
# Four jobs at once: the line is drawn from their threads (scripts/test runs this under TSan).
on_pty rp4.out "$CCS" renew --config renew.conf --jobs 4 --force || true
expect_contains rp4.out "renew: 4/4 done, 4 failed" "renew --jobs 4 on a terminal: the last count"
expect_eq "$(grep -c ': FAILED$' rp4.out)" 4 "renew --jobs 4 on a terminal: still one line per certificate"
run_ccs_split 1 rpipe.out rpipe.err renew --config renew.conf --jobs 1 --force
if grep -q "$(printf '\r')" rpipe.out rpipe.err; then
    fail "renew piped: a \\r in its output"
else
    ok "renew piped: no \\r"
fi
expect_not_contains rpipe.err "done, " "renew piped: no progress line"
expect_eq "$(grep -c ': FAILED$' rpipe.out)" 4 "renew piped: one line per certificate"

on_pty ts.out env COLUMNS=60 "$CCS" status --config renew.conf || true
expect_fits ts.out 60 "status on a 60-column terminal"
expect_contains ts.out "…" "status on a terminal: a long value ends in an ellipsis"
COLUMNS=60 run_ccs_split 0 ps.out ps.err status --config renew.conf
expect_contains ps.out "a-certificate-with-an-uncommonly-long-name-for-a-table.example.test,www.a-certificate" \
    "status piped: the domains whole"
expect_not_contains ps.out "…" "status piped: nothing cut"
run_ccs_split 0 sj.out sj.err status --config renew.conf --json
expect_eq "$(json_eval sj.out 'd["certificates"][2]["name"]')" \
    "a-certificate-with-an-uncommonly-long-name-for-a-table" "status --json: the name whole"

# ---- each thing said once ---------------------------------------------------------------------------
# A file under another password, a truncated one: list, lookup and check name the problem once.
mkdir x
cp s/www.example.com.pfx x/www.example.com.pfx
head -c 100 s/www.example.com.pfx >x/trunc.example.pfx
chmod 0640 x/*
make_password other 'not-the-store-password'
run_ccs 0 xl.out store list --store x --password-file other
expect_contains xl.out "(wrong password: does not open" "list: the wrong password said once"
expect_contains xl.out "(truncated (100 bytes" "list: truncated said once"
run_ccs 1 xk.out store lookup www.example.com --store x --password-file other
expect_contains xk.out "status: wrong password: does not open" "lookup: the status said once"
expect_contains xk.out "www.example.com.pfx: not served: wrong password" "lookup: the file named once"
run_ccs 1 xc.out store check --store x --password-file other
expect_no_doubled_prefix "the messages of this test" *.out

finish
