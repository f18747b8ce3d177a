#include "acme/account.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acme/jws.h"

static json_t *contact_array(const char *const *contact, size_t count)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < count; i++)
        json_array_append_new(arr, json_string(contact[i]));
    return arr;
}

/* POST PAYLOAD (a JSON object, consumed) to URL and parse the account in the answer. */
static int post_account(struct acme_client *c, const char *url, json_t *payload, int use_jwk,
                        struct acme_account *out, struct http_response *resp, struct errbuf *err)
{
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    int rc;

    json_decref(payload);
    memset(out, 0, sizeof(*out));
    if (payload && !text)
        return errbuf_set(err, "out of memory");
    rc = acme_post(c, url, text, use_jwk, resp, NULL, err);
    free(text);
    if (rc < 0)
        return -1;
    if (acme_parse_account(resp->body, resp->body_len, out, err) < 0) {
        http_response_free(resp);
        return errbuf_prefix(err, "%s", url);
    }
    return 0;
}

int acme_account_register(struct acme_client *c, const struct acme_account_request *req,
                          struct acme_account *out, int *created, struct errbuf *err)
{
    json_t *payload = json_object();
    struct http_response resp;

    if (!payload)
        return errbuf_set(err, "out of memory");
    if (req->contact_count)
        json_object_set_new(payload, "contact", contact_array(req->contact, req->contact_count));
    if (req->agree_terms)
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    if (req->only_existing)
        json_object_set_new(payload, "onlyReturnExisting", json_true());
    if (req->eab) {
        json_t *eab = jws_eab(req->eab->kid, req->eab->hmac_key, req->eab->hmac_key_len,
                              req->eab->alg ? req->eab->alg : "HS256", c->account_key,
                              c->dir.new_account, err);
        if (!eab) {
            json_decref(payload);
            return -1;
        }
        json_object_set_new(payload, "externalAccountBinding", eab);
    } else if (c->dir.external_account_required && !req->only_existing) {
        json_decref(payload);
        return errbuf_set(err, "%s requires External Account Binding (a key id and an HMAC key "
                               "from the CA), and none was given",
                          c->directory_url);
    }
    if (post_account(c, c->dir.new_account, payload, 1, out, &resp, err) < 0)
        return -1;
    if (!resp.location) {
        http_response_free(&resp);
        acme_account_free(out);
        return errbuf_set(err, "%s: the CA did not say the account URL (no Location)",
                          c->dir.new_account);
    }
    *created = resp.status == 201;
    acme_client_set_account(c, c->account_key, resp.location, err);
    http_response_free(&resp);
    return 0;
}

int acme_account_fetch(struct acme_client *c, struct acme_account *out, struct errbuf *err)
{
    struct http_response resp;
    if (post_account(c, c->kid, NULL, 0, out, &resp, err) < 0)
        return -1;
    http_response_free(&resp);
    return 0;
}

int acme_account_update(struct acme_client *c, const char *const *contact, size_t count,
                        struct acme_account *out, struct errbuf *err)
{
    struct http_response resp;
    json_t *payload = json_pack("{s:o}", "contact", contact_array(contact, count));

    if (post_account(c, c->kid, payload, 0, out, &resp, err) < 0)
        return -1;
    http_response_free(&resp);
    return 0;
}

int acme_account_deactivate(struct acme_client *c, struct acme_account *out, struct errbuf *err)
{
    struct http_response resp;
    json_t *payload = json_pack("{s:s}", "status", "deactivated");

    if (post_account(c, c->kid, payload, 0, out, &resp, err) < 0)
        return -1;
    http_response_free(&resp);
    return 0;
}

int acme_account_key_change(struct acme_client *c, EVP_PKEY *new_key, struct errbuf *err)
{
    json_t *old_jwk = NULL, *new_jwk = NULL, *inner_header = NULL, *inner = NULL, *payload = NULL;
    char *inner_text = NULL;
    struct http_response resp;
    int rc = -1;

    if (!c->dir.key_change)
        return errbuf_set(err, "%s offers no key rollover (keyChange)", c->directory_url);
    if (!c->kid)
        return errbuf_set(err, "key rollover: no account");
    /* The inner JWS, signed by the new key, names the account and its old key (§7.3.5). */
    old_jwk = jws_jwk(c->account_key, err);
    new_jwk = jws_jwk(new_key, err);
    if (!old_jwk || !new_jwk)
        goto out;
    payload = json_pack("{s:s, s:O}", "account", c->kid, "oldKey", old_jwk);
    inner_header = json_pack("{s:O, s:s}", "jwk", new_jwk, "url", c->dir.key_change);
    inner_text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    if (!inner_header || !inner_text) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    inner = jws_sign_protected(new_key, inner_header, inner_text, err);
    free(inner_text);
    inner_text = inner ? json_dumps(inner, JSON_COMPACT) : NULL;
    if (!inner_text)
        goto out;
    if (acme_post(c, c->dir.key_change, inner_text, 0, &resp, NULL, err) < 0)
        goto out;
    http_response_free(&resp);
    c->account_key = new_key;
    rc = 0;
out:
    free(inner_text);
    json_decref(old_jwk);
    json_decref(new_jwk);
    json_decref(payload);
    json_decref(inner_header);
    json_decref(inner);
    return rc;
}
