#include "acme/ari.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "acme/b64url.h"

char *acme_ari_cert_id(X509 *cert, struct errbuf *err)
{
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    unsigned char serial_der[64];
    char *a = NULL, *b = NULL, *out = NULL;
    int n;

    if (!aki) {
        errbuf_set(err, "the certificate has no Authority Key Identifier: no ARI identifier");
        goto out;
    }
    /* The serial's DER INTEGER content: big-endian two's complement, minimal, so a leading zero
     * octet when the top bit is set. */
    n = serial ? BN_num_bytes(serial) : 0;
    if (n <= 0 || n + 1 > (int)sizeof(serial_der)) {
        errbuf_set(err, "the certificate's serial number is not usable for ARI");
        goto out;
    }
    BN_bn2bin(serial, serial_der + 1);
    serial_der[0] = 0;
    {
        int lead = (serial_der[1] & 0x80) ? 0 : 1;
        a = b64url_encode(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki));
        b = b64url_encode(serial_der + lead, (size_t)(n + 1 - lead));
    }
    if (!a || !b || !(out = malloc(strlen(a) + strlen(b) + 2))) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    strcpy(out, a);
    strcat(out, ".");
    strcat(out, b);
out:
    BN_free(serial);
    free(a);
    free(b);
    return out;
}

int acme_ari_fetch(struct acme_client *c, X509 *cert, struct acme_suggested_window *out,
                   struct errbuf *err)
{
    struct acme_renewal_info info;
    struct http_response resp;
    char *id, *url;
    size_t base_len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->retry_after_s = -1;
    if (!c->dir.renewal_info)
        return errbuf_set(err, "%s offers no renewal information (ARI)", c->directory_url);
    id = acme_ari_cert_id(cert, err);
    if (!id)
        return -1;
    base_len = strlen(c->dir.renewal_info);
    url = malloc(base_len + strlen(id) + 2);
    if (!url) {
        free(id);
        return errbuf_set(err, "out of memory");
    }
    sprintf(url, "%s%s%s", c->dir.renewal_info,
            base_len && c->dir.renewal_info[base_len - 1] == '/' ? "" : "/", id);
    free(id);
    if (acme_get(c, url, &resp, err) < 0)
        goto out;
    if (resp.status != 200) {
        errbuf_set(err, "%s: HTTP %ld", url, resp.status);
        http_response_free(&resp);
        goto out;
    }
    if (acme_parse_renewal_info(resp.body, resp.body_len, &info, err) < 0) {
        errbuf_prefix(err, "%s", url);
        http_response_free(&resp);
        acme_renewal_info_free(&info);
        goto out;
    }
    out->start = info.window_start;
    out->end = info.window_end;
    out->explanation_url = info.explanation_url;
    out->retry_after_s = http_retry_after_seconds(resp.retry_after, time(NULL));
    http_response_free(&resp);
    rc = 0;
out:
    free(url);
    return rc;
}

void acme_suggested_window_free(struct acme_suggested_window *w)
{
    free(w->explanation_url);
    memset(w, 0, sizeof(*w));
}

time_t acme_ari_pick_time(const struct acme_suggested_window *w, double unit_random)
{
    double span = difftime(w->end, w->start);
    if (unit_random < 0 || unit_random >= 1)
        unit_random = 0;
    return w->start + (time_t)(span * unit_random);
}
