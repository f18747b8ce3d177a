/* cli_acme.h — what every ACME verb shares: the CA options, and opening a session with the stored
 * account (registering one when the verb allows). */
#ifndef CCS_CLI_ACME_H
#define CCS_CLI_ACME_H

#include <getopt.h>

#include "acme/session.h"

#define ACME_DEFAULT_SERVER "https://acme-v02.api.letsencrypt.org/directory"
#define CCS_DEFAULT_STATE_DIR "/var/lib/ccs"
struct acme_cli {
    struct acme_settings set;
    int json;
};

/* Option ids of the shared options; verbs number theirs from ACME_CLI_OPT_END. */
enum {
    ACME_CLI_OPT_SERVER = 1000,
    ACME_CLI_OPT_CA_BUNDLE,
    ACME_CLI_OPT_EAB_KID,
    ACME_CLI_OPT_EAB_HMAC_FILE,
    ACME_CLI_OPT_STATE_DIR,
    ACME_CLI_OPT_CONTACT,
    ACME_CLI_OPT_AGREE_TOS,
    ACME_CLI_OPT_ACCOUNT_KEY_TYPE,
    ACME_CLI_OPT_JSON,
    ACME_CLI_OPT_EAB_ALG,
    ACME_CLI_OPT_END,
};

#define ACME_CLI_LONG_OPTIONS                                                                      \
    {"server", required_argument, NULL, ACME_CLI_OPT_SERVER},                                      \
        {"ca-bundle", required_argument, NULL, ACME_CLI_OPT_CA_BUNDLE},                            \
        {"eab-kid", required_argument, NULL, ACME_CLI_OPT_EAB_KID},                                \
        {"eab-hmac-file", required_argument, NULL, ACME_CLI_OPT_EAB_HMAC_FILE},                    \
        {"state-dir", required_argument, NULL, ACME_CLI_OPT_STATE_DIR},                            \
        {"contact", required_argument, NULL, ACME_CLI_OPT_CONTACT},                                \
        {"agree-tos", no_argument, NULL, ACME_CLI_OPT_AGREE_TOS},                                  \
        {"account-key-type", required_argument, NULL, ACME_CLI_OPT_ACCOUNT_KEY_TYPE},              \
        {"json", no_argument, NULL, ACME_CLI_OPT_JSON},                                            \
        {"eab-alg", required_argument, NULL, ACME_CLI_OPT_EAB_ALG}

#define ACME_CLI_USAGE                                                                             \
    "[--server URL] [--ca-bundle FILE] [--state-dir DIR]\n"                                        \
    "           [--eab-kid KID --eab-hmac-file FILE [--eab-alg HS256|HS384|HS512]]\n"   \
    "           [--contact mailto:ADDR]... [--agree-tos] [--account-key-type T] [--json]"

void acme_cli_defaults(struct acme_cli *o);

/* acme_session_open and acme_session_register for a verb: on failure the error is logged with
 * the advice in the command line's terms (--agree-tos, --eab-kid and --eab-hmac-file,
 * `ccs account register`). */
int cli_session_open(const struct acme_cli *o, enum acme_session_mode mode,
                     struct acme_session *s);
int cli_session_register(const struct acme_cli *o, struct acme_session *s, int only_existing,
                         int *created);

/* Handle a shared option. Returns 1 when OPT was one (0 when not, -1 after printing an error). */
int acme_cli_option(struct acme_cli *o, int opt, const char *arg);

#endif
