#!/bin/sh
# test_password_files.sh — what a password file means (README, Secrets): the first line without its
# \n or \r\n; CRLF gives the same password as LF (unlike `openssl -passin file:`, which keeps the
# \r), and empty lines may follow; a second line (or text after an empty first line), a NUL, a
# control character are refused naming the file and never showing the password; a non-ASCII
# password works with a warning about Java; an empty one with a warning.
. "$(dirname "$0")/lib.sh"

make_ca ca
make_leaf www ca www.example.com 'DNS:www.example.com' 90
# write FILE BYTES — a 0600 file holding exactly BYTES (printf format).
write() {
    (umask 077 && printf "$2" >"$1")
}

write lf 'hunter2x\n'
write crlf 'hunter2x\r\n'
write two 'hunter2x\nsecond-line\n'
write blankfirst '\nhunter2x\n'
write trailing 'hunter2x\r\n\r\n\n'
write nul 'hunter\0002x\n'
write tab 'hunter\t2x\n'
write lonecr 'hunter2x\r'
write utf8 'b\303\274cher-pw\n'
write empty ''

# CRLF and LF: the same password. OpenSSL's file: keeps the \r (so it cannot open the file); read
# the way ccs does, it can.
mkdir s1
run_ccs 0 crlf.out deploy --store s1 --cert www.pem --key www.key --chain ca.pem --password-file crlf
if openssl pkcs12 -in s1/www.example.com.pfx -passin file:lf -noout 2>/dev/null; then
    ok "CRLF file: the store file opens with the password of the LF file"
else
    fail "CRLF file: the store file does not open with the password of the LF file"
fi
if openssl pkcs12 -in s1/www.example.com.pfx -passin file:crlf -noout 2>/dev/null; then
    fail "openssl -passin file: on the CRLF file was expected to keep the \\r (README says so)"
else
    ok "openssl -passin file: keeps the \\r of a CRLF file, as the README says"
fi
run_ccs 0 check-lf.out store check --store s1 --password-file lf
# Empty lines after the password (CRLF or LF) are allowed.
run_ccs 0 check-trailing.out store check --store s1 --password-file trailing

# Refused: a second line, a NUL, a tab, a lone CR; the store untouched, the file named, the password
# never shown.
snapshot s1 >before
for f in two blankfirst nul tab lonecr; do
    run_ccs 1 "$f.out" deploy --store s1 --cert www.pem --key www.key --chain ca.pem \
        --password-file "$f" --force
    expect_contains "$f.out" "password file $f" "$f: the error names the file"
    expect_not_contains "$f.out" "hunter" "$f: the error does not show the password"
done
expect_contains two.out "more than one line" "two lines: says why"
expect_contains blankfirst.out "more than one line" "an empty first line, then text: says why"
expect_contains nul.out "NUL" "NUL: says why"
expect_contains tab.out "control character (a tab)" "tab: says why"
expect_contains lonecr.out "control character (a carriage return)" "lone CR: says why"
expect_snapshot_unchanged before s1 "refused password files: store untouched"

# Non-ASCII: used, with a warning about Java; OpenSSL opens the file with the UTF-8 password.
mkdir s2
run_ccs_split 0 utf8.out utf8.err deploy --store s2 --cert www.pem --key www.key --chain ca.pem \
    --password-file utf8
expect_contains utf8.err "not ASCII" "non-ASCII: a warning"
expect_contains utf8.err "Java" "non-ASCII: the warning says who cannot open it"
if openssl pkcs12 -in s2/www.example.com.pfx -passin file:utf8 -noout 2>/dev/null; then
    ok "non-ASCII: openssl opens the file with the UTF-8 password"
else
    fail "non-ASCII: openssl cannot open the file with the UTF-8 password"
fi

# Empty: allowed, with a warning.
mkdir s3
run_ccs_split 0 empty.out empty.err deploy --store s3 --cert www.pem --key www.key --chain ca.pem \
    --password-file empty
expect_contains empty.err "empty" "empty password: a warning"

finish
