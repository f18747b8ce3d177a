#include "cli/cli_acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/account.h"
#include "acme/b64url.h"
#include "cli/cli.h"
#include "util/log.h"
#include "util/secret.h"

void acme_cli_defaults(struct acme_cli *o)
{
    memset(o, 0, sizeof(*o));
    o->server = ACME_DEFAULT_SERVER;
    o->state_dir = CCS_DEFAULT_STATE_DIR;
    o->account_key_type = KEY_TYPE_DEFAULT;
}

int acme_cli_option(struct acme_cli *o, int opt, const char *arg)
{
    switch (opt) {
    case ACME_CLI_OPT_SERVER: o->server = arg; return 1;
    case ACME_CLI_OPT_CA_BUNDLE: o->ca_bundle = arg; return 1;
    case ACME_CLI_OPT_EAB_KID: o->eab_kid = arg; return 1;
    case ACME_CLI_OPT_EAB_HMAC_FILE: o->eab_hmac_file = arg; return 1;
    case ACME_CLI_OPT_STATE_DIR: o->state_dir = arg; return 1;
    case ACME_CLI_OPT_AGREE_TOS: o->agree_tos = 1; return 1;
    case ACME_CLI_OPT_JSON: o->json = 1; return 1;
    case ACME_CLI_OPT_EAB_ALG:
        if (strcmp(arg, "HS256") && strcmp(arg, "HS384") && strcmp(arg, "HS512")) {
            log_error("--eab-alg \"%s\": use HS256, HS384 or HS512", arg);
            return -1;
        }
        o->eab_alg = arg;
        return 1;
    case ACME_CLI_OPT_CONTACT:
        if (o->contact_count == ACME_CLI_MAX_CONTACTS) {
            log_error("--contact: at most %d contacts", ACME_CLI_MAX_CONTACTS);
            return -1;
        }
        if (strncmp(arg, "mailto:", 7) != 0) {
            log_error("--contact \"%s\": must be a mailto: URL (mailto:admin@example.com)", arg);
            return -1;
        }
        o->contact[o->contact_count++] = arg;
        return 1;
    case ACME_CLI_OPT_ACCOUNT_KEY_TYPE:
        if (key_type_parse(arg, &o->account_key_type) < 0) {
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

/* The EAB HMAC key: base64url in a file (as CAs hand it out), never on the command line. */
static int load_eab_key(const struct acme_cli *o, unsigned char **key, size_t *len)
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

int acme_session_register(const struct acme_cli *o, struct acme_session *s, int only_existing,
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

static int load_or_create_key(const struct acme_cli *o, struct acme_session *s, int may_create)
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

int acme_session_open(const struct acme_cli *o, enum acme_session_mode mode, struct acme_session *s)
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
