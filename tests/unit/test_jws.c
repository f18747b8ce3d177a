/* Unit tests for src/acme/jws.c, ari.c (certificate identifier), csr.c and http.c's Retry-After:
 * the pieces of the ACME engine that can be checked against published values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#include "acme/ari.h"
#include "acme/b64url.h"
#include "acme/csr.h"
#include "acme/http.h"
#include "acme/jws.h"
#include "acme/key.h"
#include "testcert.h"

/* Verify the flattened JWS TEXT with KEY (as a CA would) and return its decoded protected header. */
static json_t *verify_jws(EVP_PKEY *key, const char *text, const char *expect_payload)
{
    json_t *jws = json_loads(text, 0, NULL), *header;
    const char *prot = json_string_value(json_object_get(jws, "protected"));
    const char *payload = json_string_value(json_object_get(jws, "payload"));
    const char *sig_b64 = json_string_value(json_object_get(jws, "signature"));
    size_t sig_len, hdr_len, pl_len;
    unsigned char *sig = b64url_decode(sig_b64, &sig_len);
    unsigned char *hdr = b64url_decode(prot, &hdr_len);
    unsigned char *pl = b64url_decode(payload, &pl_len);
    char *input = malloc(strlen(prot) + strlen(payload) + 2);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *alg;
    unsigned char *der = NULL;
    int der_len;

    assert_non_null(sig);
    sprintf(input, "%s.%s", prot, payload);
    header = json_loadb((const char *)hdr, hdr_len, 0, NULL);
    assert_non_null(header);
    alg = json_string_value(json_object_get(header, "alg"));
    assert_string_equal(alg, jws_alg(key));
    assert_int_equal(pl_len, strlen(expect_payload));
    assert_memory_equal(pl, expect_payload, pl_len);
    if (alg[0] == 'E') {
        /* r||s back to DER for OpenSSL's verifier */
        ECDSA_SIG *ec = ECDSA_SIG_new();
        size_t half = sig_len / 2;
        assert_true(sig_len == 64 || sig_len == 96);
        ECDSA_SIG_set0(ec, BN_bin2bn(sig, (int)half, NULL), BN_bin2bn(sig + half, (int)half, NULL));
        der_len = i2d_ECDSA_SIG(ec, &der);
        ECDSA_SIG_free(ec);
    } else {
        der = OPENSSL_memdup(sig, sig_len);
        der_len = (int)sig_len;
    }
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL,
                                          strcmp(alg, "ES384") == 0 ? EVP_sha384() : EVP_sha256(),
                                          NULL, key),
                     1);
    assert_int_equal(EVP_DigestVerify(ctx, der, (size_t)der_len, (unsigned char *)input,
                                      strlen(input)),
                     1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(input);
    free(sig);
    free(hdr);
    free(pl);
    json_decref(jws);
    return header;
}

static void sign_and_verify(enum key_type type, const char *alg)
{
    EVP_PKEY *key;
    struct errbuf err;
    char *text;
    json_t *header;

    assert_int_equal(key_generate(type, &key, &err), 0);
    assert_string_equal(jws_alg(key), alg);
    /* With a JWK (new account) ... */
    text = jws_sign(key, NULL, "nonce-1", "https://ca.test/new-acct", "{\"a\":1}", &err);
    assert_non_null(text);
    header = verify_jws(key, text, "{\"a\":1}");
    assert_string_equal(json_string_value(json_object_get(header, "nonce")), "nonce-1");
    assert_string_equal(json_string_value(json_object_get(header, "url")),
                        "https://ca.test/new-acct");
    assert_non_null(json_object_get(header, "jwk"));
    assert_null(json_object_get(header, "kid"));
    json_decref(header);
    free(text);
    /* ... and with a kid, POST-as-GET (empty payload). */
    text = jws_sign(key, "https://ca.test/acct/1", "nonce-2", "https://ca.test/order/1", NULL, &err);
    header = verify_jws(key, text, "");
    assert_string_equal(json_string_value(json_object_get(header, "kid")), "https://ca.test/acct/1");
    assert_null(json_object_get(header, "jwk"));
    json_decref(header);
    free(text);
    EVP_PKEY_free(key);
}

static void test_sign_es256(void **state)
{
    (void)state;
    sign_and_verify(KEY_EC_P256, "ES256");
}

static void test_sign_es384(void **state)
{
    (void)state;
    sign_and_verify(KEY_EC_P384, "ES384");
}

static void test_sign_rs256(void **state)
{
    (void)state;
    sign_and_verify(KEY_RSA_2048, "RS256");
}

/* RFC 7638 §3.1: the example RSA key's thumbprint. */
static void test_thumbprint_rfc7638(void **state)
{
    static const char n_b64[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    static const unsigned char e[] = {1, 0, 1};
    size_t n_len;
    unsigned char *n = b64url_decode(n_b64, &n_len);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, 3, NULL);
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;
    struct errbuf err;
    char *thumb;
    (void)state;

    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    thumb = jws_thumbprint(key, &err);
    assert_string_equal(thumb, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    free(thumb);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
}

/* The EAB object: a JWS with alg HS256, the kid, the URL, and the account JWK as payload, MAC'd
 * with the key. */
static void test_eab(void **state)
{
    static const unsigned char hmac_key[] = "0123456789abcdef0123456789abcdef";
    EVP_PKEY *key;
    struct errbuf err;
    json_t *eab, *hdr, *jwk;
    size_t len;
    unsigned char *raw, mac[32];
    size_t mac_len;
    char *input;
    const char *prot, *payload;
    (void)state;

    assert_int_equal(key_generate(KEY_EC_P256, &key, &err), 0);
    eab = jws_eab("kid-1", hmac_key, 32, "HS256", key, "https://ca.test/new-acct", &err);
    assert_non_null(eab);
    prot = json_string_value(json_object_get(eab, "protected"));
    payload = json_string_value(json_object_get(eab, "payload"));
    raw = b64url_decode(prot, &len);
    hdr = json_loadb((char *)raw, len, 0, NULL);
    free(raw);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "kid-1");
    assert_string_equal(json_string_value(json_object_get(hdr, "url")), "https://ca.test/new-acct");
    assert_null(json_object_get(hdr, "nonce"));
    raw = b64url_decode(payload, &len);
    jwk = json_loadb((char *)raw, len, 0, NULL);
    free(raw);
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
    input = malloc(strlen(prot) + strlen(payload) + 2);
    sprintf(input, "%s.%s", prot, payload);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hmac_key, 32,
                              (unsigned char *)input, strlen(input), mac, sizeof(mac), &mac_len));
    raw = b64url_decode(json_string_value(json_object_get(eab, "signature")), &len);
    assert_int_equal(len, 32);
    assert_memory_equal(raw, mac, 32);
    assert_null(jws_eab("kid-1", hmac_key, 32, "HS1", key, "u", &err));
    free(raw);
    free(input);
    json_decref(jwk);
    json_decref(hdr);
    json_decref(eab);
    EVP_PKEY_free(key);
}

/* RFC 9773 §4.1 example: AKI 69:88:5B:..., serial 0x87654321 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" */
static void test_ari_cert_id_rfc9773(void **state)
{
    static const unsigned char aki[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    struct pfx_bundle b;
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ASN1_INTEGER *serial;
    BIGNUM *bn = NULL;
    struct errbuf err;
    char *id;
    time_t now = time(NULL);
    (void)state;

    testcert_leaf(&b, NULL, "ari", "DNS:ari.example", now - 60, now + 86400);
    akid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(akid->keyid, aki, sizeof(aki));
    X509_add1_ext_i2d(b.cert, NID_authority_key_identifier, akid, 0, X509V3_ADD_REPLACE);
    BN_hex2bn(&bn, "87654321");
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_serialNumber(b.cert, serial);
    id = acme_ari_cert_id(b.cert, &err);
    assert_non_null(id);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    free(id);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    AUTHORITY_KEYID_free(akid);
    pfx_bundle_free(&b);
}

static void test_ari_pick_time(void **state)
{
    struct acme_suggested_window w = {.start = 1000, .end = 2000};
    (void)state;
    assert_int_equal(acme_ari_pick_time(&w, 0.0), 1000);
    assert_int_equal(acme_ari_pick_time(&w, 0.5), 1500);
    assert_true(acme_ari_pick_time(&w, 0.999) < 2000);
    assert_int_equal(acme_ari_pick_time(&w, 1.5), 1000); /* out of range: the start */
}

static void test_retry_after(void **state)
{
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    (void)state;
    assert_int_equal(http_retry_after_seconds("120", now), 120);
    assert_int_equal(http_retry_after_seconds("0", now), 0);
    assert_int_equal(http_retry_after_seconds("Tue, 14 Nov 2023 22:15:20 GMT", now), 120);
    assert_int_equal(http_retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);
    assert_int_equal(http_retry_after_seconds("soon", now), -1);
    assert_int_equal(http_retry_after_seconds("", now), -1);
    assert_int_equal(http_retry_after_seconds(NULL, now), -1);
}

/* The CSR carries every identifier as a SAN, the first DNS name as CN, and verifies. */
static void test_csr(void **state)
{
    struct acme_identifier ids[] = {{"dns", "www.example.com"}, {"dns", "*.example.com"},
                                    {"ip", "192.0.2.7"}};
    EVP_PKEY *key;
    struct errbuf err;
    char *b64;
    unsigned char *der;
    const unsigned char *p;
    size_t len;
    X509_REQ *req;
    GENERAL_NAMES *sans;
    char cn[128];
    (void)state;

    assert_int_equal(key_generate(KEY_EC_P256, &key, &err), 0);
    b64 = csr_build_b64url(key, ids, 3, &err);
    assert_non_null(b64);
    der = b64url_decode(b64, &len);
    p = der;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, key), 1);
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "www.example.com");
    {
        STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
        sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
        assert_int_equal(sk_GENERAL_NAME_num(sans), 3);
        assert_int_equal(sk_GENERAL_NAME_value(sans, 2)->type, GEN_IPADD);
        GENERAL_NAMES_free(sans);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    {
        struct acme_identifier bad[] = {{"email", "a@b"}};
        char *none = csr_build_b64url(key, bad, 1, &err);
        assert_null(none);
        assert_non_null(strstr(err.msg, "email"));
    }
    X509_REQ_free(req);
    free(der);
    free(b64);
    EVP_PKEY_free(key);
}

int main(void)
{
    struct errbuf err;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_es256),        cmocka_unit_test(test_sign_es384),
        cmocka_unit_test(test_sign_rs256),        cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test(test_eab),               cmocka_unit_test(test_ari_cert_id_rfc9773),
        cmocka_unit_test(test_ari_pick_time),     cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_csr),
    };
    pfx_crypto_init(&err);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
