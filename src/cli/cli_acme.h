/* cli_acme.h — what every ACME verb shares: the CA options, and opening a session with the stored
 * account (registering one when the verb allows). */
#ifndef CCS_CLI_ACME_H
#define CCS_CLI_ACME_H

#include <getopt.h>

#include "acme/session.h"
#include "cli/cli.h"

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

/* The shared options (cli.h's struct cli_option, with their help). */
#define ACME_CLI_OPTIONS                                                                           \
    {"server", "URL", ACME_CLI_OPT_SERVER,                                                         \
     "the CA's ACME directory URL; default Let's Encrypt"},                                        \
        {"ca-bundle", "FILE", ACME_CLI_OPT_CA_BUNDLE,                                              \
         "trust these PEM certificates for the CA's HTTPS (test CAs)"},                            \
        {"state-dir", "DIR", ACME_CLI_OPT_STATE_DIR,                                               \
         "where accounts are kept; default " CCS_DEFAULT_STATE_DIR},                               \
        {"contact", "mailto:ADDR", ACME_CLI_OPT_CONTACT, "an account contact; repeatable"},        \
        {"agree-tos", NULL, ACME_CLI_OPT_AGREE_TOS,                                                \
         "agree to the CA's terms of service (needed to register)"},                               \
        {"eab-kid", "KID", ACME_CLI_OPT_EAB_KID, "External Account Binding: the key identifier"}, \
        {"eab-hmac-file", "FILE", ACME_CLI_OPT_EAB_HMAC_FILE,                                      \
         "External Account Binding: the file holding the HMAC key"},                               \
        {"eab-alg", "HS256|HS384|HS512", ACME_CLI_OPT_EAB_ALG,                                     \
         "External Account Binding: the MAC; default HS256"},                                      \
        {"account-key-type", "T", ACME_CLI_OPT_ACCOUNT_KEY_TYPE,                                   \
         "a new account key's type: ec-p256 (default), ec-p384, rsa-2048|3072|4096"},              \
        {"json", NULL, ACME_CLI_OPT_JSON, "print the result as JSON"}

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
