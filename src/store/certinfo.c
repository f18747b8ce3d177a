#include "store/certinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "store/pfx.h"
#include "util/bytes.h"

static int names_has_file(const struct cert_names *n, const char *file)
{
    return cert_names_find_file(n, file) != NULL;
}

const struct store_name *cert_names_find_file(const struct cert_names *n, const char *file)
{
    for (size_t i = 0; i < n->count; i++)
        if (strcmp(n->names[i].file, file) == 0)
            return &n->names[i];
    return NULL;
}

static int add_rejected(struct cert_names *n, const char *raw, size_t len, const char *why)
{
    struct rejected_name *grown = realloc(n->rejected, (n->rejected_count + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    n->rejected = grown;
    store_name_escape(raw, len, grown[n->rejected_count].value, sizeof(grown->value));
    snprintf(grown[n->rejected_count].why, sizeof(grown->why), "%s", why);
    n->rejected_count++;
    return 0;
}

static int add_ip(struct cert_names *n, const char *text)
{
    char(*grown)[64] = realloc(n->ips, (n->ip_count + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    n->ips = grown;
    snprintf(grown[n->ip_count++], sizeof(*grown), "%s", text);
    return 0;
}

/* Add one DNS name. STRICT: a failure is recorded as rejected (SANs); otherwise it is silently not a
 * host name (a CN such as "My Test Certificate"). */
static int add_dns(struct cert_names *n, const char *raw, size_t len, int strict)
{
    struct store_name name;
    struct errbuf why;
    struct store_name *grown;

    if (store_name_is_ip_literal(raw, len)) {
        char text[64];
        snprintf(text, sizeof(text), "%.*s", (int)len, raw);
        return add_ip(n, text);
    }
    if (store_name_normalise(raw, len, &name, &why) < 0)
        return strict ? add_rejected(n, raw, len, why.msg) : 0;
    if (names_has_file(n, name.file))
        return 0;
    grown = realloc(n->names, (n->count + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    n->names = grown;
    n->names[n->count++] = name;
    return 0;
}

static int add_ip_san(struct cert_names *n, const ASN1_OCTET_STRING *ip)
{
    char text[64] = "?";
    const unsigned char *a = ASN1_STRING_get0_data(ip);
    int len = ASN1_STRING_length(ip);

    if (len == 4)
        snprintf(text, sizeof(text), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    else if (len == 16) {
        size_t o = 0;
        for (int i = 0; i < 16; i += 2)
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%x", i ? ":" : "",
                                  (unsigned)(a[i] << 8 | a[i + 1]));
    }
    return add_ip(n, text);
}

/* The CN counts as a host name when it looks like one: no spaces and at least one dot, or a single
 * label that validates (e.g. "localhost"). It is read as text whatever its string type: a
 * BMPString (UTF-16) or UniversalString CN is converted to UTF-8 first, never taken as raw bytes. */
static int add_common_name(struct cert_names *n, X509 *cert)
{
    X509_NAME *subject = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    unsigned char *text = NULL;
    int len, rc;

    if (idx < 0)
        return 0;
    len = ASN1_STRING_to_UTF8(&text, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
    if (len < 0) {
        /* Not convertible (a BMPString of odd length, say): not a host name. */
        ERR_clear_error();
        return 0;
    }
    rc = memchr(text, ' ', (size_t)len)
             ? 0
             : add_dns(n, (const char *)text, (size_t)len, memchr(text, '.', (size_t)len) != NULL);
    OPENSSL_free(text);
    return rc;
}

int cert_names_collect(X509 *cert, struct cert_names *out, struct errbuf *err)
{
    GENERAL_NAMES *sans;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (add_common_name(out, cert) < 0)
        goto oom;
    sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS) {
            rc = add_dns(out, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                         (size_t)ASN1_STRING_length(gn->d.dNSName), 1);
        } else if (gn->type == GEN_IPADD) {
            rc = add_ip_san(out, gn->d.iPAddress);
        } else {
            rc = 0;
        }
        if (rc < 0) {
            GENERAL_NAMES_free(sans);
            goto oom;
        }
    }
    GENERAL_NAMES_free(sans);
    return 0;
oom:
    cert_names_free(out);
    return errbuf_set(err, "out of memory collecting certificate names");
}

void cert_names_free(struct cert_names *n)
{
    free(n->names);
    free(n->rejected);
    free(n->ips);
    memset(n, 0, sizeof(*n));
}

static int asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm))
        return -1;
    *out = timegm(&tm);
    return 0;
}

static void name_oneline(X509_NAME *name, char *out, size_t out_size)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    out[0] = '\0';
    if (!mem)
        return;
    /* RFC 2253 order with UTF-8 kept readable: "CN=www.example.com,O=Example". */
    X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    n = BIO_get_mem_data(mem, &data);
    snprintf(out, out_size, "%.*s", (int)n, data ? data : "");
    BIO_free(mem);
}

int cert_summarise(X509 *cert, struct cert_summary *out, struct errbuf *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    BIGNUM *serial;
    char *hex;

    memset(out, 0, sizeof(*out));
    if (!X509_digest(cert, EVP_sha1(), md, &md_len))
        return errbuf_set_ssl(err, "cannot compute the certificate thumbprint");
    for (unsigned int i = 0; i < md_len && 2 * i + 2 < sizeof(out->thumbprint) + 1; i++)
        snprintf(out->thumbprint + 2 * i, 3, "%02X", md[i]);
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    hex = serial ? BN_bn2hex(serial) : NULL;
    snprintf(out->serial, sizeof(out->serial), "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(serial);
    name_oneline(X509_get_subject_name(cert), out->subject, sizeof(out->subject));
    name_oneline(X509_get_issuer_name(cert), out->issuer, sizeof(out->issuer));
    if (asn1_time_to_time_t(X509_get0_notBefore(cert), &out->not_before) < 0 ||
        asn1_time_to_time_t(X509_get0_notAfter(cert), &out->not_after) < 0)
        return errbuf_set(err, "certificate %s has an unreadable validity period", out->subject);
    return 0;
}

long days_until(time_t t, time_t now)
{
    double secs = difftime(t, now);
    long days = (long)(secs / 86400);
    if (secs < 0 && days * 86400 != (long)secs)
        days--; /* round towards the past: 1 hour ago is day -1 */
    return days;
}

void format_utc(time_t t, char *out, size_t out_size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

X509 *cert_from_pem(const void *pem, size_t len)
{
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    ERR_clear_error();
    return cert;
}

int cert_read_pem_file(const char *path, X509 **out, int *missing, struct errbuf *err)
{
    struct bytes data = {0};

    *out = NULL;
    if (missing)
        *missing = 0;
    errno = 0; /* ENOENT below is then the open's, not left from before */
    if (bytes_read_file(path, CERT_INPUT_MAX, &data, err) < 0) {
        if (missing && errno == ENOENT) {
            *missing = 1;
            return 0;
        }
        return -1;
    }
    *out = cert_from_pem(data.data, data.len);
    bytes_free(&data);
    if (!*out)
        return errbuf_set(err, "%s: no PEM certificate found (expected \"-----BEGIN "
                               "CERTIFICATE-----\")",
                          path);
    return 0;
}
