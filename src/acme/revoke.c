#include "acme/revoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "acme/b64url.h"

static const struct {
    const char *name;
    int code;
} reasons[] = {
    {"unspecified", 0},   {"keyCompromise", 1},        {"affiliationChanged", 3},
    {"superseded", 4},    {"cessationOfOperation", 5},
};

int acme_revoke_reason_parse(const char *text, int *out)
{
    char *end;
    long v;

    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcmp(text, reasons[i].name) == 0) {
            *out = reasons[i].code;
            return 0;
        }
    v = strtol(text, &end, 10);
    if (*text && !*end && v >= 0 && v <= 10 && v != 7) {
        *out = (int)v;
        return 0;
    }
    return -1;
}

int acme_revoke(struct acme_client *c, X509 *cert, int reason, struct errbuf *err)
{
    unsigned char *der = NULL;
    char *b64 = NULL, *payload = NULL;
    struct http_response resp;
    int len, rc = -1;

    if (!c->dir.revoke_cert)
        return errbuf_set(err, "%s offers no revocation", c->directory_url);
    len = i2d_X509(cert, &der);
    if (len <= 0 || !(b64 = b64url_encode(der, (size_t)len)) ||
        !(payload = malloc(strlen(b64) + 64))) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    sprintf(payload, "{\"certificate\":\"%s\",\"reason\":%d}", b64, reason);
    if (acme_post(c, c->dir.revoke_cert, payload, 0, &resp, NULL, err) < 0) {
        errbuf_prefix(err, "revocation");
        goto out;
    }
    http_response_free(&resp);
    rc = 0;
out:
    OPENSSL_free(der);
    free(b64);
    free(payload);
    return rc;
}
