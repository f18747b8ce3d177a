#include "acme/csr.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "acme/b64url.h"

/* RFC 5280 ub-common-name */
#define CN_MAX 64

static int add_san(GENERAL_NAMES *sans, const struct acme_identifier *id, struct errbuf *err)
{
    GENERAL_NAME *gn = NULL;

    if (strcmp(id->type, "ip") == 0) {
        gn = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, id->value, 0);
    } else if (strcmp(id->type, "dns") == 0) {
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        if (ia5 && ASN1_STRING_set(ia5, id->value, -1) && (gn = GENERAL_NAME_new()))
            GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        else
            ASN1_IA5STRING_free(ia5);
    } else {
        return errbuf_set(err, "identifier type \"%s\" is not dns or ip", id->type);
    }
    if (!gn || !sk_GENERAL_NAME_push(sans, gn)) {
        GENERAL_NAME_free(gn);
        return errbuf_set_ssl(err, "CSR: cannot add %s identifier %s", id->type, id->value);
    }
    return 0;
}

char *csr_build_b64url(EVP_PKEY *key, const struct acme_identifier *identifiers, size_t count,
                       struct errbuf *err)
{
    X509_REQ *req = X509_REQ_new();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = NULL;
    unsigned char *der = NULL;
    char *out = NULL;
    int der_len;

    if (!req || !sans || !exts) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        if (add_san(sans, &identifiers[i], err) < 0)
            goto out;
    for (size_t i = 0; i < count; i++)
        if (strcmp(identifiers[i].type, "dns") == 0 && strlen(identifiers[i].value) <= CN_MAX) {
            X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
                                       MBSTRING_UTF8,
                                       (const unsigned char *)identifiers[i].value, -1, -1, 0);
            break;
        }
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext) || !X509_REQ_add_extensions(req, exts) ||
        !X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, key) ||
        !X509_REQ_sign(req, key, EVP_sha256())) {
        if (!sk_X509_EXTENSION_num(exts))
            X509_EXTENSION_free(ext);
        errbuf_set_ssl(err, "cannot build the CSR");
        goto out;
    }
    der_len = i2d_X509_REQ(req, &der);
    if (der_len <= 0) {
        errbuf_set_ssl(err, "cannot encode the CSR");
        goto out;
    }
    out = b64url_encode(der, (size_t)der_len);
    if (!out)
        errbuf_set(err, "out of memory");
out:
    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(sans);
    X509_REQ_free(req);
    return out;
}
