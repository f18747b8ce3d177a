#!/bin/sh
# Help everywhere (issue 9, item 3). The commands are enumerated from the binary (`ccs --help`),
# cross-checked against the verbs the README and ccs(1) name and the sub-verbs each verb lists;
# the options from the option tables in src/cli (every `{"name", ARG|NULL, ID, "help"}` entry),
# cross-checked against what the parser of each command accepts:
#   - `ccs --help`, `ccs VERB --help`, `ccs VERB SUB-VERB --help` and -h exit 0, print to stdout
#     only, with a usage line, options each with a description, and an example of the command;
#   - every option the help shows is accepted by the parser, with a value exactly when the help
#     names one; every option of the source's tables that a command's parser accepts is in that
#     command's help; every option is in the command's man page;
#   - an unknown verb or sub-verb names the command and suggests the nearest; exit 1;
#   - `ccs help VERB [SUB-VERB]` prints the help when stdout is not a terminal, and opens the man
#     page (man-db, from scripts/setup) on a terminal.
E2E=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$E2E/../.." && pwd)
. "$E2E/lib.sh"

# ---- the overview --------------------------------------------------------------------------------
run_ccs 0 overview.all --help
"$CCS" --help >overview 2>overview.err
expect_eq "$(wc -c <overview.err)" 0 "ccs --help: nothing on stderr"
"$CCS" -h >overview.h 2>&1
expect_eq "$(cmp -s overview overview.h && echo same)" same "ccs -h prints what ccs --help does"
set +e
"$CCS" >noargs.out 2>noargs.err
rc=$?
set -e
expect_eq "$rc" 1 "ccs without a verb: exit 1 (bad usage, ccs(1))"
expect_eq "$(wc -c <noargs.out)" 0 "ccs without a verb: nothing on stdout"
expect_contains noargs.err "usage: ccs VERB" "ccs without a verb: the overview on stderr"

# The commands: the overview's lines "  NAME...  summary", NAME in the first 22 columns.
sed -n '/^  [a-z]/p' overview | cut -c3-22 | sed 's/ *$//' >commands
expect_eq "$(sort -u commands | wc -l)" "$(wc -l <commands)" "the overview names each command once"
verbs=$(cut -d' ' -f1 commands | uniq)
# Cross-check: the verbs of ccs(1)'s VERBS section, and those known when this test was written
# (a verb dropped from the binary fails here; a new one must be in ccs(1)).
man_verbs=$(awk '/^\.SH VERBS/ { f = 1; next } /^\.SH/ { f = 0 }
                 f && prev == ".TP" && /^\.B / { print $2 } { prev = $0 }' "$SRC/man/ccs.1" |
    sed 's/\\fR.*//' | sort | tr '\n' ' ')
expect_eq "$man_verbs" "$(echo "$verbs" | sort | tr '\n' ' ')" "ccs(1) VERBS names the verbs ccs --help does"
for v in deploy store account cert renew status task config serve; do
    if echo "$verbs" | grep -qx "$v"; then ok "verb $v in the overview"; else
        fail "verb $v is not in ccs --help"
    fi
done
for v in $verbs; do
    if grep -q "ccs $v" "$SRC/README.md"; then ok "README shows ccs $v"; else
        fail "ccs $v is not in README.md"
    fi
done

# ---- each verb: its sub-verbs ------------------------------------------------------------------
for v in $verbs; do
    subs=$(sed -n "s/^$v \([a-z-]*\)\$/\1/p" commands)
    [ -n "$subs" ] || continue
    run_ccs 0 "verb-$v.all" "$v" --help
    "$CCS" "$v" --help >"verb-$v" 2>"verb-$v.err"
    expect_eq "$(wc -c <"verb-$v.err")" 0 "ccs $v --help: nothing on stderr"
    listed=$(sed -n '/^sub-verbs:/,/^$/s/^  \([a-z-]*\) .*/\1/p' "verb-$v" | tr '\n' ' ')
    expect_eq "$listed" "$(echo $subs) " "ccs $v --help lists the sub-verbs the overview does"
    # a sub-verb missing: the verb's help on stderr, exit 1
    run_ccs 1 "verb-$v.none" "$v"
    expect_contains "verb-$v.none" "ccs $v: a sub-verb is needed" "ccs $v: needs a sub-verb"
    # each sub-verb mistyped (two letters swapped): the nearest suggested
    for s in $subs; do
        typo=$(echo "$s" | sed 's/\(.\)\(.\)$/\2\1/')
        run_ccs 1 "typo-$v-$s" "$v" "$typo"
        expect_contains "typo-$v-$s" "ccs $v: unknown sub-verb \"$typo\" (did you mean \"$s\"?)" \
            "ccs $v $typo: suggests $s"
    done
    run_ccs 1 "far-$v" "$v" zzzzzz
    expect_contains "far-$v" "ccs $v: unknown sub-verb \"zzzzzz\"" "ccs $v zzzzzz: named"
    expect_not_contains "far-$v" "did you mean" "ccs $v zzzzzz: nothing suggested"
done

# ---- unknown verbs -----------------------------------------------------------------------------
for v in $verbs; do
    typo=$(echo "$v" | sed 's/\(.\)\(.\)$/\2\1/')
    run_ccs 1 "typo-$v" "$typo"
    expect_contains "typo-$v" "ccs: unknown verb \"$typo\" (did you mean \"$v\"?)" \
        "ccs $typo: suggests $v"
done
run_ccs 1 far-verb zzzzzz
expect_contains far-verb 'ccs: unknown verb "zzzzzz"' "ccs zzzzzz: named"
expect_contains far-verb "usage: ccs VERB" "ccs zzzzzz: the overview follows"

# ---- every option of the source's tables ---------------------------------------------------------
# {"name", "ARG" or NULL, ID, ...: the cli_option entries (cli.h), in every file of src/cli.
cat "$SRC"/src/cli/*.c "$SRC"/src/cli/*.h |
    sed -n 's/.*{"\([a-z0-9-]*\)", \(NULL\|"[^"]*"\), [A-Za-z_(]\+.*/\1/p' | sort -u >all-options
expect_eq "$(test "$(wc -l <all-options)" -ge 40 && echo many)" many \
    "the option tables were found in src/cli ($(wc -l <all-options) options)"

# ---- each command ------------------------------------------------------------------------------
while read -r cmd; do
    label=$(echo "$cmd" | tr ' ' '-')
    # shellcheck disable=SC2086
    set -- $cmd
    run_ccs 0 "$label.all" "$@" --help
    "$CCS" "$@" --help >"$label.help" 2>"$label.err"
    expect_eq "$(wc -c <"$label.err")" 0 "ccs $cmd --help: nothing on stderr"
    "$CCS" "$@" -h >"$label.h" 2>&1 || true
    expect_eq "$(cmp -s "$label.help" "$label.h" && echo same)" same "ccs $cmd -h is --help"
    expect_contains "$label.help" "usage: ccs $cmd" "ccs $cmd --help: the usage"
    expect_contains "$label.help" "options:" "ccs $cmd --help: the options"
    if sed -n '/^examples\?:$/,/^$/p' "$label.help" | grep -q "^  ccs $cmd\b"; then
        ok "ccs $cmd --help: an example of ccs $cmd"
    else
        fail "ccs $cmd --help: no example starting \"ccs $cmd\":"
        sed 's/^/    /' "$label.help" >&2
    fi
    page=$(sed -n 's/.*(man \(ccs[a-z-]*\))\.$/\1/p' "$label.help")
    if [ -n "$page" ] && [ -f "$SRC/man/$page.1" ]; then ok "ccs $cmd: its page $page.1 exists"
    else fail "ccs $cmd: no man page named in its help, or man/$page.1 missing"; fi

    # The options shown: "  --name ARG   description" (or the description on the next line).
    # The help's option column (cli_common.c): "  --name ARG" in columns 1-30, the description
    # from column 31, or on the next line when the option is wider.
    sed -n '/^options:$/,/^$/p' "$label.help" |
        awk 'function flush() { if (name != "") print name "\001" arg "\001" desc; name = "" }
             /^  --/ { flush(); split(substr($0, 3, 28), f, " "); name = f[1]; arg = f[2];
                       desc = substr($0, 31); next }
             substr($0, 1, 30) ~ /^ +$/ && substr($0, 31, 1) != " " { if (name != "" && desc == "") desc = substr($0, 31); next }
             { flush() }
             END { flush() }' >"$label.shown"
    expect_eq "$(test -s "$label.shown" && echo yes)" yes "ccs $cmd --help shows options"
    while IFS=$(printf '\001') read -r opt arg desc; do
        if [ -n "$desc" ]; then ok "ccs $cmd $opt: described"; else
            fail "ccs $cmd $opt: no description"
        fi
        # accepted by the parser: the option, then --help, prints the help (a value check may
        # refuse the dummy value "x", but never as an unknown option)
        if [ -n "$arg" ]; then
            "$CCS" "$@" "$opt" x --help >"$label.try" 2>&1 || true
            "$CCS" "$@" "$opt" >"$label.novalue" 2>&1 || true
            expect_contains "$label.novalue" "ccs $cmd: option \"$opt\" needs a value" \
                "ccs $cmd $opt: needs its value, as the help says ($arg)"
        else
            set +e
            "$CCS" "$@" "$opt" --help >"$label.try" 2>&1
            rc=$?
            set -e
            expect_eq "$rc" 0 "ccs $cmd $opt --help: the flag is accepted"
            "$CCS" "$@" "$opt=x" >"$label.value" 2>&1 || true
            expect_contains "$label.value" "ccs $cmd: option \"$opt\" takes no value" \
                "ccs $cmd $opt: a flag, as the help says"
        fi
        expect_not_contains "$label.try" "unknown option" "ccs $cmd $opt: the parser accepts it"
        if grep -qF -- "$(echo "$opt" | sed 's/-/\\-/g')" "$SRC/man/$page.1" ||
            grep -qF -- "$opt" "$SRC/man/$page.1"; then
            ok "ccs $cmd $opt: in $page(1)"
        else
            fail "ccs $cmd $opt: not in man/$page.1"
        fi
    done <"$label.shown"
    # Every option the parser accepts is shown: try each option of the source's tables.
    while read -r name; do
        "$CCS" "$@" "--$name" x --help >"$label.any" 2>&1 || true
        if grep -q "unknown option" "$label.any"; then continue; fi
        if cut -d "$(printf '\001')" -f1 "$label.shown" | grep -qx -- "--$name"; then
            ok "ccs $cmd --$name: accepted and shown"
        else
            fail "ccs $cmd accepts --$name, but its help does not show it"
        fi
    done <all-options
    # an unknown option still fails
    run_ccs 1 "$label.bad" "$@" --zzzzzz
    expect_contains "$label.bad" "ccs $cmd: unknown option \"--zzzzzz\"" "ccs $cmd: unknown option named"

    # ccs help VERB [SUB-VERB], not on a terminal: the same text as --help
    "$CCS" help "$@" >"$label.helpverb" 2>&1
    expect_eq "$(cmp -s "$label.help" "$label.helpverb" && echo same)" same \
        "ccs help $cmd (piped) prints ccs $cmd --help"
done <commands

# ccs help VERB for a verb with sub-verbs prints the verb's help; ccs help alone the overview.
"$CCS" help store >help-store 2>&1
expect_eq "$(cmp -s help-store verb-store && echo same)" same "ccs help store (piped) is ccs store --help"
"$CCS" help >help-none 2>&1
expect_eq "$(cmp -s help-none overview && echo same)" same "ccs help (piped) is ccs --help"
run_ccs 1 help-typo help stroe
expect_contains help-typo 'ccs: unknown verb "stroe" (did you mean "store"?)' "ccs help stroe: suggests"
run_ccs 1 help-subtypo help store lsit
expect_contains help-subtypo 'ccs store: unknown sub-verb "lsit" (did you mean "list"?)' \
    "ccs help store lsit: suggests"

# ---- ccs help VERB on a terminal: the man page ---------------------------------------------------
# script(1) gives ccs a terminal; the pages of this tree are found through MANPATH; MANPAGER=cat.
if ! command -v man >/dev/null || ! command -v script >/dev/null; then
    fail "man (man-db) or script (bsdutils) is missing: run scripts/setup"
else
    mkdir -p man/man1 man/man5
    cp "$SRC"/man/*.1 man/man1/
    cp "$SRC"/man/*.5 man/man5/
    MANPATH=$T/man MANPAGER=cat PAGER=cat MANWIDTH=80 \
        script -qec "'$CCS' help store" /dev/null </dev/null >man-store.out 2>&1 || true
    expect_contains man-store.out "CCS-STORE(1)" "ccs help store on a terminal: the man page"
    expect_not_contains man-store.out "usage: ccs store" "ccs help store on a terminal: not the --help"
    # A page man does not know: the help instead.
    MANPATH=$T/nowhere MANPAGER=cat PAGER=cat \
        script -qec "'$CCS' help renew" /dev/null </dev/null >man-none.out 2>&1 || true
    expect_contains man-none.out "usage: ccs renew" "ccs help renew, page not installed: the help"
fi

finish
