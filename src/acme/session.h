/* session.h — one ACME CA and our account at it, as every user of the engine needs them: the
 * settings (CA, trust, state directory, contacts, terms, EAB), and a session that opens the CA,
 * loads or creates the account key, and finds or registers the account (recording it in the state
 * directory). Used by the CLI verbs and by the renewer alike.
 *
 * Errors come back in an errbuf that says what happened, and a problem code: the caller phrases
 * the advice in its own terms (an option on its command line, a key in ccs.conf). No message
 * here names an option. */
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
    /* How the caller's user names the EAB HMAC key file, for "use NAME FILE" when none is
     * given: "--eab-hmac-file", "eab-hmac-file =". */
    const char *eab_hmac_option;
    enum key_type account_key_type;
};

/* What stopped a session, for the caller's advice. */
enum acme_session_problem {
    SESSION_PROBLEM_NONE,
    SESSION_PROBLEM_OTHER,        /* the message says it all (a CA unreachable, a file unreadable) */
    SESSION_PROBLEM_TERMS,        /* the CA has terms of service, not agreed to */
    SESSION_PROBLEM_NO_ACCOUNT,   /* no account recorded for this CA (SESSION_ACCOUNT) */
    SESSION_PROBLEM_EAB_REQUIRED, /* the CA requires External Account Binding; none was given */
};

struct acme_session {
    struct acme_client *client;
    struct account_paths paths;
    EVP_PKEY *account_key;
    int registered_now; /* the account was created by this session */
    enum acme_session_problem problem; /* after a failure (the only field then) */
};

enum acme_session_mode {
    SESSION_KEY_ONLY,     /* the key, no account needed (register) */
    SESSION_ACCOUNT,      /* an existing account is required */
    SESSION_AUTO_REGISTER /* use the account, registering one if there is none */
};

/* Open the CA, load (or create) the account key and account. On failure S is closed, with
 * S->problem set, and ERR says what happened. */
int acme_session_open(const struct acme_settings *o, enum acme_session_mode mode,
                      struct acme_session *s, struct errbuf *err);
/* Register (or find) the account for the session's key and record it; S->problem on failure. */
int acme_session_register(const struct acme_settings *o, struct acme_session *s,
                          int only_existing, int *created, struct errbuf *err);
void acme_session_close(struct acme_session *s);

#endif
