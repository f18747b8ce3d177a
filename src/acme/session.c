#include "acme/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "acme/account.h"
#include "acme/b64url.h"
#include "util/log.h"
#include "util/secret.h"

/* Set ERR and S->problem; returns -1. */
static int problem(struct acme_session *s, enum acme_session_problem what, struct errbuf *err,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int problem(struct acme_session *s, enum acme_session_problem what, struct errbuf *err,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    s->problem = what;
    return -1;
}

/* The EAB HMAC key: base64url in a file (as CAs hand it out), never on the command line. */
static int load_eab_key(const struct acme_settings *o, unsigned char **key, size_t *len,
                        struct errbuf *err)
{
    struct secret_source src = {.what = "EAB HMAC key",
                                .option = o->eab_hmac_option ? o->eab_hmac_option
                                                             : "the HMAC key file",
                                .path = o->eab_hmac_file,
                                .env_var = EAB_HMAC_ENV,
                                .credential_name = EAB_HMAC_CREDENTIAL};
    struct secret s;

    if (secret_load(&src, &s, err) < 0)
        return -1;
    *key = b64url_decode(s.value, len);
    if (!*key || *len == 0) {
        errbuf_set(err, "EAB HMAC key in %s is not base64url", s.origin);
        free(*key);
        secret_free(&s);
        return -1;
    }
    secret_free(&s);
    return 0;
}

int acme_session_register(const struct acme_settings *o, struct acme_session *s, int only_existing,
                          int *created, struct errbuf *err)
{
    struct acme_account_request req = {.contact = o->contact,
                                       .contact_count = o->contact_count,
                                       .agree_terms = o->agree_tos,
                                       .only_existing = only_existing};
    struct acme_eab eab = {.kid = o->eab_kid, .alg = o->eab_alg};
    struct acme_account account;
    unsigned char *hmac = NULL;
    int rc = -1;

    s->problem = SESSION_PROBLEM_OTHER;
    if (s->client->dir.terms_of_service && !o->agree_tos && !only_existing)
        return problem(s, SESSION_PROBLEM_TERMS, err,
                       "%s has terms of service (%s), and they were not agreed to", o->server,
                       s->client->dir.terms_of_service);
    if (s->client->dir.external_account_required && !o->eab_kid && !only_existing)
        return problem(s, SESSION_PROBLEM_EAB_REQUIRED, err,
                       "%s requires External Account Binding (a key id and an HMAC key from the "
                       "CA), and none was given",
                       o->server);
    if (o->eab_kid && !only_existing) {
        if (load_eab_key(o, &hmac, &eab.hmac_key_len, err) < 0)
            return -1;
        eab.hmac_key = hmac;
        req.eab = &eab;
    }
    if (acme_account_register(s->client, &req, &account, created, err) < 0) {
        errbuf_prefix(err, "account at %s", o->server);
        goto out;
    }
    if (account_info_save(&s->paths, o->server, s->client->kid, account.status, err) < 0) {
        acme_account_free(&account);
        goto out;
    }
    acme_account_free(&account);
    s->problem = SESSION_PROBLEM_NONE;
    rc = 0;
out:
    if (hmac) {
        OPENSSL_cleanse(hmac, eab.hmac_key_len);
        free(hmac);
    }
    return rc;
}

static int load_or_create_key(const struct acme_settings *o, struct acme_session *s, int may_create,
                              struct errbuf *err)
{
    int missing;

    if (key_load(s->paths.key, &s->account_key, &missing, err) == 0)
        return 0;
    if (missing && !may_create)
        return problem(s, SESSION_PROBLEM_NO_ACCOUNT, err, "no account for %s in %s", o->server,
                       o->state_dir);
    if (!missing)
        return errbuf_prefix(err, "account key");
    /* Saved before the CA hears of it: a registration cut short is found again with this key. */
    if (key_generate(o->account_key_type, &s->account_key, err) < 0 ||
        key_save(s->account_key, s->paths.key, err) < 0)
        return -1;
    return 0;
}

/* Close S, keeping only why it failed. Returns -1. */
static int fail_session(struct acme_session *s)
{
    enum acme_session_problem why = s->problem ? s->problem : SESSION_PROBLEM_OTHER;

    acme_session_close(s);
    s->problem = why;
    return -1;
}

int acme_session_open(const struct acme_settings *o, enum acme_session_mode mode,
                      struct acme_session *s, struct errbuf *err)
{
    struct acme_options opts = {.directory_url = o->server, .ca_bundle = o->ca_bundle};
    char *kid = NULL;
    int created;

    memset(s, 0, sizeof(*s));
    if (account_paths_for(o->state_dir, o->server, mode != SESSION_ACCOUNT, &s->paths, err) < 0 ||
        load_or_create_key(o, s, mode != SESSION_ACCOUNT, err) < 0 ||
        acme_client_open(&opts, &s->client, err) < 0 ||
        account_info_load(&s->paths, &kid, err) < 0)
        return fail_session(s);
    acme_client_set_account(s->client, s->account_key, kid, err);
    free(kid);
    if (mode == SESSION_KEY_ONLY || s->client->kid)
        return 0;
    if (mode == SESSION_ACCOUNT) {
        problem(s, SESSION_PROBLEM_NO_ACCOUNT, err, "no account for %s in %s", o->server,
                o->state_dir);
        return fail_session(s);
    }
    if (acme_session_register(o, s, 0, &created, err) < 0)
        return fail_session(s);
    s->registered_now = created;
    if (created)
        log_info("registered account %s", s->client->kid);
    return 0;
}

void acme_session_close(struct acme_session *s)
{
    acme_client_close(s->client);
    EVP_PKEY_free(s->account_key);
    memset(s, 0, sizeof(*s));
}
