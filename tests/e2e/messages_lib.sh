# messages_lib.sh — checks on the wording of ccs's messages, for the tests that collect outputs.
# Sourced after lib.sh.

# doubled_prefixes FILE... — print the lines of the FILEs that say one thing twice: a prefix
# repeated at once ("wrong password: wrong password: ...", "name: name: ..."), or a file or host
# name said again further on as a subject ("x.pfx: not served: x.pfx: ...", "x.pfx:
# /store/x.pfx: Permission denied"). Each layer of ccs adds only what it knows.
doubled_prefixes() {
    perl -ne '
        print "$ARGV: $_" if /(?:^|[\s(])([^\s:(][^:\n]{2,80}): \1: /
            || /(?:^|[\s(\/])([\w-]+(?:\.[\w-]+)+): (?:.*[\s(\/\\])?\1: /;
    ' "$@"
}

# expect_no_doubled_prefix WHAT FILE... — no line of the FILEs says a prefix twice.
expect_no_doubled_prefix() {
    ndp_what=$1
    shift
    ndp_found=$(doubled_prefixes "$@")
    if [ -z "$ndp_found" ]; then
        ok "$ndp_what: no prefix said twice"
    else
        fail "$ndp_what: a prefix said twice:"
        printf '%s\n' "$ndp_found" | sed 's/^/    /' >&2
    fi
}
