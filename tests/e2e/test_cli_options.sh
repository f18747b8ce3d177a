#!/bin/sh
# A mistyped option names the command and suggests the nearest valid one (issue 9, item 3: the
# configuration checker's suggestions, util/suggest.c, shared by every verb through cli_getopt);
# an option without its value says so; nothing runs, exit 1.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"

# mistyped COMMAND_WORDS... -- BAD EXPECTED_MESSAGE
mistyped() {
    label=$1 message=$2
    shift 2
    run_ccs 1 "$label.out" "$@"
    expect_contains "$label.out" "$message" "$label: \"$message\""
    expect_contains "$label.out" "usage: ccs" "$label: the usage follows"
}

mistyped store-list 'ccs store list: unknown option "--stroe" (did you mean "--store"?)' \
    store list --stroe x
mistyped store-check 'ccs store check: unknown option "--warndays" (did you mean "--warn-days"?)' \
    store check --store . --warndays=3
mistyped deploy 'ccs deploy: unknown option "--passwrod-file" (did you mean "--password-file"?)' \
    deploy --passwrod-file x
mistyped renew 'ccs renew: unknown option "--forse" (did you mean "--force"?)' renew --forse
mistyped task-run 'ccs task run: unknown option "--dryrun" (did you mean "--dry-run"?)' \
    task run --dryrun
mistyped config-check 'ccs config check: unknown option "--confg" (did you mean "--config"?)' \
    config check --confg x
mistyped account 'ccs account show: unknown option "--servr" (did you mean "--server"?)' \
    account show --servr x
mistyped cert 'ccs cert request: unknown option "--domian" (did you mean "--domain"?)' \
    cert request --domian x
mistyped serve 'ccs serve: unknown option "--chek" (did you mean "--check"?)' serve --chek
# Nothing close: no suggestion, still the command's name.
mistyped far 'ccs store list: unknown option "--zzzzzz"' store list --zzzzzz
expect_not_contains far.out "did you mean" "far: no suggestion for a word close to nothing"
mistyped short 'ccs deploy: unknown option "-x"' deploy -x
mistyped missing-value 'ccs deploy: option "--store" needs a value' deploy --store

finish
