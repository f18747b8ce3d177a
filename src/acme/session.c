#include "acme/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "acme/account.h"
#include "acme/b64url.h"
#include "util/log.h"
#include "util/secret.h"

/* The EAB HMAC key: base64url in a file (as CAs hand it out), never on the command line. */
static int load_eab_key(const struct acme_settings *o, unsigned char **key, size_t *len)
{
    struct secret_source src = {.what = "EAB HMAC key", .option = "--eab-hmac-file",
                                .path = o->eab_hmac_file, .env_var = EAB_HMAC_ENV,
                                .credential_name = EAB_HMAC_CREDENTIAL};
    struct secret s;
    struct errbuf err;

    if (secret_load(&src, &s, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    *key = b64url_decode(s.value, len);
    if (!*key || *len == 0) {
        log_error("EAB HMAC key in %s is not base64url", s.origin);
        free(*key);
        secret_free(&s);
        return -1;
    }
    secret_free(&s);
    return 0;
}

int acme_session_register(const struct acme_settings *o, struct acme_session *s, int only_existing,
                          int *created)
{
    struct acme_account_request req = {.contact = o->contact,
                                       .contact_count = o->contact_count,
                                       .agree_terms = o->agree_tos,
                                       .only_existing = only_existing};
    struct acme_eab eab = {.kid = o->eab_kid, .alg = o->eab_alg};
    struct acme_account account;
    unsigned char *hmac = NULL;
    struct errbuf err;
    int rc = -1;

    if (s->client->dir.terms_of_service && !o->agree_tos && !only_existing) {
        log_error("%s has terms of service (%s): read them, then pass --agree-tos",
                  o->server, s->client->dir.terms_of_service);
        return -1;
    }
    if (o->eab_kid && !only_existing) {
        if (load_eab_key(o, &hmac, &eab.hmac_key_len) < 0)
            return -1;
        eab.hmac_key = hmac;
        req.eab = &eab;
    }
    if (acme_account_register(s->client, &req, &account, created, &err) < 0) {
        log_error("account at %s: %s", o->server, err.msg);
        goto out;
    }
    if (account_info_save(&s->paths, o->server, s->client->kid, account.status, &err) < 0) {
        log_error("%s", err.msg);
        acme_account_free(&account);
        goto out;
    }
    acme_account_free(&account);
    rc = 0;
out:
    if (hmac) {
        OPENSSL_cleanse(hmac, eab.hmac_key_len);
        free(hmac);
    }
    return rc;
}

static int load_or_create_key(const struct acme_settings *o, struct acme_session *s, int may_create)
{
    struct errbuf err;
    int missing;

    if (key_load(s->paths.key, &s->account_key, &missing, &err) == 0)
        return 0;
    if (!missing || !may_create) {
        if (missing)
            log_error("no account for %s in %s: run `ccs account register`", o->server,
                      o->state_dir);
        else
            log_error("account key: %s", err.msg);
        return -1;
    }
    /* Saved before the CA hears of it: a registration cut short is found again with this key. */
    if (key_generate(o->account_key_type, &s->account_key, &err) < 0 ||
        key_save(s->account_key, s->paths.key, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int acme_session_open(const struct acme_settings *o, enum acme_session_mode mode, struct acme_session *s)
{
    struct acme_options opts = {.directory_url = o->server, .ca_bundle = o->ca_bundle};
    struct errbuf err;
    char *kid = NULL;
    int created;

    memset(s, 0, sizeof(*s));
    if (account_paths_for(o->state_dir, o->server, mode != SESSION_ACCOUNT, &s->paths, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    if (load_or_create_key(o, s, mode != SESSION_ACCOUNT) < 0)
        goto fail;
    if (acme_client_open(&opts, &s->client, &err) < 0) {
        log_error("%s", err.msg);
        goto fail;
    }
    if (account_info_load(&s->paths, &kid, &err) < 0) {
        log_error("%s", err.msg);
        goto fail;
    }
    acme_client_set_account(s->client, s->account_key, kid, &err);
    free(kid);
    if (mode == SESSION_KEY_ONLY || s->client->kid)
        return 0;
    if (mode == SESSION_ACCOUNT) {
        log_error("no account for %s in %s: run `ccs account register`", o->server, o->state_dir);
        goto fail;
    }
    if (acme_session_register(o, s, 0, &created) < 0)
        goto fail;
    s->registered_now = created;
    if (created)
        log_info("registered account %s", s->client->kid);
    return 0;
fail:
    acme_session_close(s);
    return -1;
}

void acme_session_close(struct acme_session *s)
{
    acme_client_close(s->client);
    EVP_PKEY_free(s->account_key);
    memset(s, 0, sizeof(*s));
}
