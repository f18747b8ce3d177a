#include "testcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

static void die(const char *what)
{
    fprintf(stderr, "testcert: %s failed\n", what);
    abort();
}

EVP_PKEY *testcert_key(int rsa_bits)
{
    EVP_PKEY *key = rsa_bits > 0 ? EVP_RSA_gen((unsigned)rsa_bits) : EVP_EC_gen("P-256");
    if (!key)
        die("key generation");
    return key;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext || !X509_add_ext(cert, ext, -1))
        die(value);
    X509_EXTENSION_free(ext);
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, time_t not_before, time_t not_after)
{
    static long serial = 1;
    X509 *cert = X509_new();
    X509_NAME *name;

    if (!cert)
        die("X509_new");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    if (!X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &not_before) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &not_after))
        die("validity");
    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_pubkey(cert, key);
    return cert;
}

void testcert_ca(struct test_ca *ca, const char *cn)
{
    time_t now = time(NULL);

    ca->key = testcert_key(0);
    ca->cert = new_cert(ca->key, cn, now - 86400, now + 3650 * 86400L);
    X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert));
    add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash");
    if (!X509_sign(ca->cert, ca->key, EVP_sha256()))
        die("CA signature");
}

void testcert_ca_free(struct test_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    memset(ca, 0, sizeof(*ca));
}

void testcert_leaf(struct pfx_bundle *out, const struct test_ca *ca, const char *cn,
                   const char *sans, time_t not_before, time_t not_after)
{
    X509 *issuer;
    EVP_PKEY *signer;

    memset(out, 0, sizeof(*out));
    out->key = testcert_key(0);
    out->cert = new_cert(out->key, cn, not_before, not_after);
    issuer = ca ? ca->cert : out->cert;
    signer = ca ? ca->key : out->key;
    X509_set_issuer_name(out->cert, X509_get_subject_name(issuer));
    add_ext(out->cert, issuer, NID_basic_constraints, "CA:FALSE");
    if (sans && *sans)
        add_ext(out->cert, issuer, NID_subject_alt_name, sans);
    if (ca)
        add_ext(out->cert, issuer, NID_authority_key_identifier, "keyid");
    if (!X509_sign(out->cert, signer, EVP_sha256()))
        die("leaf signature");
    out->chain = sk_X509_new_null();
    if (ca) {
        X509_up_ref(ca->cert);
        sk_X509_push(out->chain, ca->cert);
    }
}

char *testcert_tmpdir(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t size = strlen(base) + 32;
    char *dir = malloc(size);

    if (!dir)
        die("out of memory");
    snprintf(dir, size, "%s/ccs-unit-XXXXXX", base);
    if (!mkdtemp(dir))
        die("mkdtemp");
    return dir;
}

void testcert_rmdir(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "testcert: could not remove %s\n", dir);
    free(dir);
}
