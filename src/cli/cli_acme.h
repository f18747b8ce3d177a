/* cli_acme.h — what every ACME verb shares: the CA options, and opening a session with the stored
 * account (registering one when the verb allows). */
#ifndef CCS_CLI_ACME_H
#define CCS_CLI_ACME_H

#include <getopt.h>

#include "acme/account_store.h"
#include "acme/client.h"
#include "acme/key.h"

#define ACME_DEFAULT_SERVER "https://acme-v02.api.letsencrypt.org/directory"
#define CCS_DEFAULT_STATE_DIR "/var/lib/ccs"
#define ACME_CLI_MAX_CONTACTS 16
#define EAB_HMAC_ENV "CCS_EAB_HMAC_FILE"
#define EAB_HMAC_CREDENTIAL "ccs-eab-hmac"

struct acme_cli {
    const char *server, *ca_bundle, *eab_kid, *eab_hmac_file, *state_dir;
    const char *contact[ACME_CLI_MAX_CONTACTS];
    size_t contact_count;
    int agree_tos;
    const char *eab_alg; /* HS256 (default), HS384, HS512 */
    enum key_type account_key_type;
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

/* Handle a shared option. Returns 1 when OPT was one (0 when not, -1 after printing an error). */
int acme_cli_option(struct acme_cli *o, int opt, const char *arg);

struct acme_session {
    struct acme_client *client;
    struct account_paths paths;
    EVP_PKEY *account_key;
    int registered_now; /* the account was created by this session */
};

enum acme_session_mode {
    SESSION_KEY_ONLY,     /* the key, no account needed (register) */
    SESSION_ACCOUNT,      /* an existing account is required */
    SESSION_AUTO_REGISTER /* use the account, registering one if there is none */
};

/* Open the CA, load (or create) the account key and account. Prints errors itself. */
int acme_session_open(const struct acme_cli *o, enum acme_session_mode mode,
                      struct acme_session *s);
/* Register (or find) the account for the session's key and record it. */
int acme_session_register(const struct acme_cli *o, struct acme_session *s, int only_existing,
                          int *created);
void acme_session_close(struct acme_session *s);

#endif
