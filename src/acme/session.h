/* session.h — one ACME CA and our account at it, as every user of the engine needs them: the
 * settings (CA, trust, state directory, contacts, terms, EAB), and a session that opens the CA,
 * loads or creates the account key, and finds or registers the account (recording it in the state
 * directory). Used by the CLI verbs and by the renewer alike. Errors are logged here. */
#ifndef CCS_ACME_SESSION_H
#define CCS_ACME_SESSION_H

#include "acme/account_store.h"
#include "acme/client.h"
#include "acme/key.h"

#define ACME_MAX_CONTACTS 16
#define EAB_HMAC_ENV "CCS_EAB_HMAC_FILE"
#define EAB_HMAC_CREDENTIAL "ccs-eab-hmac"

struct acme_settings {
    const char *server, *ca_bundle, *eab_kid, *eab_hmac_file, *state_dir;
    const char *contact[ACME_MAX_CONTACTS];
    size_t contact_count;
    int agree_tos;
    const char *eab_alg; /* HS256 (default), HS384, HS512 */
    enum key_type account_key_type;
};

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

/* Open the CA, load (or create) the account key and account. Logs errors itself. */
int acme_session_open(const struct acme_settings *o, enum acme_session_mode mode,
                      struct acme_session *s);
/* Register (or find) the account for the session's key and record it. */
int acme_session_register(const struct acme_settings *o, struct acme_session *s,
                          int only_existing, int *created);
void acme_session_close(struct acme_session *s);

#endif
