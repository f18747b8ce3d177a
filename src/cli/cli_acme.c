#include "cli/cli_acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"

void acme_cli_defaults(struct acme_cli *o)
{
    memset(o, 0, sizeof(*o));
    o->set.server = ACME_DEFAULT_SERVER;
    o->set.state_dir = CCS_DEFAULT_STATE_DIR;
    o->set.account_key_type = KEY_TYPE_DEFAULT;
    o->set.eab_hmac_option = "--eab-hmac-file";
}

/* Log why the session failed, and what to do about it on the command line. */
static void session_failed(const struct acme_session *s, const struct errbuf *err)
{
    switch (s->problem) {
    case SESSION_PROBLEM_TERMS:
        log_error("%s: read them, then pass --agree-tos", err->msg);
        break;
    case SESSION_PROBLEM_EAB_REQUIRED:
        log_error("%s: give --eab-kid and --eab-hmac-file", err->msg);
        break;
    case SESSION_PROBLEM_NO_ACCOUNT:
        log_error("%s: run `ccs account register`", err->msg);
        break;
    default:
        log_error("%s", err->msg);
    }
}

int cli_session_open(const struct acme_cli *o, enum acme_session_mode mode, struct acme_session *s)
{
    struct errbuf err;

    if (acme_session_open(&o->set, mode, s, &err) == 0)
        return 0;
    session_failed(s, &err);
    return -1;
}

int cli_session_register(const struct acme_cli *o, struct acme_session *s, int only_existing,
                         int *created)
{
    struct errbuf err;

    if (acme_session_register(&o->set, s, only_existing, created, &err) == 0)
        return 0;
    session_failed(s, &err);
    return -1;
}

int acme_cli_option(struct acme_cli *o, int opt, const char *arg)
{
    switch (opt) {
    case ACME_CLI_OPT_SERVER: o->set.server = arg; return 1;
    case ACME_CLI_OPT_CA_BUNDLE: o->set.ca_bundle = arg; return 1;
    case ACME_CLI_OPT_EAB_KID: o->set.eab_kid = arg; return 1;
    case ACME_CLI_OPT_EAB_HMAC_FILE: o->set.eab_hmac_file = arg; return 1;
    case ACME_CLI_OPT_STATE_DIR: o->set.state_dir = arg; return 1;
    case ACME_CLI_OPT_AGREE_TOS: o->set.agree_tos = 1; return 1;
    case ACME_CLI_OPT_JSON: o->json = 1; return 1;
    case ACME_CLI_OPT_EAB_ALG:
        if (strcmp(arg, "HS256") && strcmp(arg, "HS384") && strcmp(arg, "HS512")) {
            log_error("--eab-alg \"%s\": use HS256, HS384 or HS512", arg);
            return -1;
        }
        o->set.eab_alg = arg;
        return 1;
    case ACME_CLI_OPT_CONTACT:
        if (o->set.contact_count == ACME_MAX_CONTACTS) {
            log_error("--contact: at most %d contacts", ACME_MAX_CONTACTS);
            return -1;
        }
        if (strncmp(arg, "mailto:", 7) != 0) {
            log_error("--contact \"%s\": must be a mailto: URL (mailto:admin@example.com)", arg);
            return -1;
        }
        o->set.contact[o->set.contact_count++] = arg;
        return 1;
    case ACME_CLI_OPT_ACCOUNT_KEY_TYPE:
        if (key_type_parse(arg, &o->set.account_key_type) < 0) {
            log_error("--account-key-type \"%s\": use ec-p256, ec-p384, rsa-2048, rsa-3072 or "
                      "rsa-4096",
                      arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

