/* Unit tests for src/store/pfx.c: encode/decode round trips, format detection, error statuses,
 * PEM input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <unistd.h>

#include "pfxforge.h"
#include "store/pfx.h"
#include "testcert.h"

struct fixture {
    struct test_ca ca;
    struct pfx_bundle leaf;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err;
    time_t now = time(NULL);

    if (pfx_crypto_init(&err) < 0)
        return -1;
    testcert_ca(&f->ca, "Unit Test CA");
    testcert_leaf(&f->leaf, &f->ca, "www.example.com", "DNS:www.example.com,DNS:*.example.com",
                  now - 3600, now + 90 * 86400);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pfx_bundle_free(&f->leaf);
    testcert_ca_free(&f->ca);
    free(f);
    return 0;
}

static void round_trip(struct fixture *f, enum pfx_format format, const char *password,
                       const char *algorithms)
{
    struct bytes der;
    struct pfx_decoded dec;
    struct errbuf err = {""};

    assert_int_equal(pfx_encode(&f->leaf, password, format, "www.example.com (test)", &der, &err), 0);
    assert_int_equal(pfx_decode(der.data, der.len, password, &dec, &err), PFX_OK);
    assert_int_equal(dec.format, format);
    assert_string_equal(dec.algorithms, algorithms);
    assert_int_equal(X509_cmp(dec.bundle.cert, f->leaf.cert), 0);
    assert_int_equal(EVP_PKEY_eq(dec.bundle.key, f->leaf.key), 1);
    assert_true(dec.key_matches);
    assert_int_equal(sk_X509_num(dec.bundle.chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(dec.bundle.chain, 0), f->ca.cert), 0);
    assert_string_equal(dec.friendly, "www.example.com (test)");
    pfx_decoded_free(&dec);

    /* The same bytes with another password: wrong password, said so. */
    assert_int_equal(pfx_decode(der.data, der.len, "not-the-password", &dec, &err),
                     PFX_WRONG_PASSWORD);
    assert_non_null(strstr(err.msg, "wrong password"));
    bytes_free(&der);
}

static void test_round_trip_compat(void **state)
{
    round_trip(*state, PFX_FORMAT_COMPAT, "s3cret",
               "key PBE-SHA1-3DES, certs PBE-SHA1-3DES, MAC SHA1");
}

static void test_round_trip_aes256(void **state)
{
    round_trip(*state, PFX_FORMAT_AES256, "s3cret",
               "key PBES2/PBKDF2-SHA256/AES-256-CBC, certs PBES2/PBKDF2-SHA256/AES-256-CBC, "
               "MAC SHA256");
}

static void test_round_trip_empty_password(void **state)
{
    round_trip(*state, PFX_FORMAT_COMPAT, "", "key PBE-SHA1-3DES, certs PBE-SHA1-3DES, MAC SHA1");
}

/* OpenSSL's -legacy output: RC2-40 certificates, 3DES key. Needs the legacy provider. */
static void test_reads_legacy_rc2(void **state)
{
    struct fixture *f = *state;
    PKCS12 *p12 = PKCS12_create_ex("pw", "legacy", f->leaf.key, f->leaf.cert, f->leaf.chain,
                                   NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                   NID_pbe_WithSHA1And40BitRC2_CBC, 2048, 2048, 0, NULL, NULL);
    unsigned char *der = NULL;
    int len;
    struct pfx_decoded dec;
    struct errbuf err = {""};

    assert_non_null(p12);
    len = i2d_PKCS12(p12, &der);
    assert_true(len > 0);
    assert_int_equal(pfx_decode(der, (size_t)len, "pw", &dec, &err), PFX_OK);
    assert_int_equal(dec.format, PFX_FORMAT_LEGACY_RC2);
    assert_true(dec.key_matches);
    pfx_decoded_free(&dec);
    OPENSSL_free(der);
    PKCS12_free(p12);
}

static void test_truncated_and_garbage(void **state)
{
    struct fixture *f = *state;
    struct bytes der;
    struct pfx_decoded dec;
    struct errbuf err = {""};
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    static const unsigned char der_int[] = {0x02, 0x01, 0x05};
    static const unsigned char other_seq[] = {0x30, 0x03, 0x02, 0x01, 0x05};

    assert_int_equal(pfx_encode(&f->leaf, "pw", PFX_FORMAT_COMPAT, "x", &der, &err), 0);
    for (size_t cut = 1; cut < der.len; cut += der.len / 7) {
        enum pfx_status st = pfx_decode(der.data, cut, "pw", &dec, &err);
        if (st != PFX_TRUNCATED)
            fail_msg("cut at %zu of %zu: status %s (%s)", cut, der.len, pfx_status_text(st), err.msg);
    }
    assert_int_equal(pfx_decode(der.data, 0, "pw", &dec, &err), PFX_TRUNCATED);
    assert_int_equal(pfx_decode((const unsigned char *)pem, sizeof(pem) - 1, "pw", &dec, &err),
                     PFX_NOT_PKCS12);
    assert_non_null(strstr(err.msg, "this is PEM"));
    assert_int_equal(pfx_decode(der_int, sizeof(der_int), "pw", &dec, &err), PFX_NOT_PKCS12);
    assert_int_equal(pfx_decode(other_seq, sizeof(other_seq), "pw", &dec, &err), PFX_NOT_PKCS12);
    bytes_free(&der);
}

static struct bytes pem_of_cert(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    struct bytes out;

    PEM_write_bio_X509(bio, cert);
    n = BIO_get_mem_data(bio, &data);
    out.data = malloc((size_t)n);
    memcpy(out.data, data, (size_t)n);
    out.len = (size_t)n;
    BIO_free(bio);
    return out;
}

static struct bytes pem_of_key(EVP_PKEY *key, const EVP_CIPHER *enc)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    struct bytes out;

    PEM_write_bio_PrivateKey(bio, key, enc, (unsigned char *)"pw", enc ? 2 : 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    out.data = malloc((size_t)n);
    memcpy(out.data, data, (size_t)n);
    out.len = (size_t)n;
    BIO_free(bio);
    return out;
}

static struct bytes concat(const struct bytes *a, const struct bytes *b)
{
    struct bytes out = {malloc(a->len + b->len), a->len + b->len};
    memcpy(out.data, a->data, a->len);
    memcpy(out.data + a->len, b->data, b->len);
    return out;
}

/* A full-chain PEM given in the wrong order (CA first) is split by key: the matching certificate
 * is the leaf, and the chain is put in issuing order. */
static void test_pem_full_chain_split(void **state)
{
    struct fixture *f = *state;
    struct bytes leaf = pem_of_cert(f->leaf.cert), ca = pem_of_cert(f->ca.cert);
    struct bytes key = pem_of_key(f->leaf.key, NULL);
    struct bytes chain = concat(&ca, &leaf);
    struct pfx_bundle b;
    struct errbuf err = {""};

    if (pfx_bundle_from_pem((struct pem_input){&chain, "full.pem"}, (struct pem_input){&key, "k.pem"},
                            NULL, &b, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(X509_cmp(b.cert, f->leaf.cert), 0);
    assert_int_equal(sk_X509_num(b.chain), 1);
    pfx_bundle_free(&b);

    /* The chain given twice (in the cert file and --chain) is de-duplicated. */
    if (pfx_bundle_from_pem((struct pem_input){&chain, "full.pem"}, (struct pem_input){&key, "k.pem"},
                            &(struct pem_input){&ca, "ca.pem"}, &b, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sk_X509_num(b.chain), 1);
    pfx_bundle_free(&b);
    bytes_free(&leaf);
    bytes_free(&ca);
    bytes_free(&key);
    bytes_free(&chain);
}

static void expect_pem_error(struct bytes *cert, struct bytes *key, const char *needle)
{
    struct pfx_bundle b;
    struct errbuf err = {""};
    assert_int_equal(pfx_bundle_from_pem((struct pem_input){cert, "cert.pem"},
                                         (struct pem_input){key, "key.pem"}, NULL, &b, &err),
                     -1);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, needle);
    assert_null(b.cert);
    assert_null(b.key);
}

static void test_pem_errors(void **state)
{
    struct fixture *f = *state;
    struct bytes leaf = pem_of_cert(f->leaf.cert), ca_only = pem_of_cert(f->ca.cert);
    struct bytes key = pem_of_key(f->leaf.key, NULL);
    struct bytes enc_key = pem_of_key(f->leaf.key, EVP_aes_128_cbc());
    struct bytes garbage = {(unsigned char *)strdup("hello, not PEM\n"), 15};
    struct bytes cut = {malloc(leaf.len / 2), leaf.len / 2};

    memcpy(cut.data, leaf.data, cut.len);
    expect_pem_error(&garbage, &key, "cert.pem: no PEM certificate found");
    expect_pem_error(&cut, &key, "cert.pem: malformed or truncated PEM");
    expect_pem_error(&leaf, &garbage, "key.pem: no PEM private key found");
    expect_pem_error(&leaf, &enc_key, "key.pem: the private key is encrypted");
    expect_pem_error(&ca_only, &key, "key.pem: the private key does not match the certificate in cert.pem");
    bytes_free(&leaf);
    bytes_free(&ca_only);
    bytes_free(&key);
    bytes_free(&enc_key);
    bytes_free(&garbage);
    bytes_free(&cut);
}

/* ---- hostile iteration counts (issue 12) ------------------------------------------------------ */

/* 2^31 - 1: the largest count a signed 32-bit reader takes; hours of work for OpenSSL. */
#define HOSTILE_ITERATIONS 2147483647LL

/* Watchdog: before the cap, each decode below ran for hours. A test that fails must end, so the
 * process is killed (and the test fails) if one call takes a minute; nothing here measures speed. */
#define WATCHDOG_SECONDS 60

static void expect_refused(struct fixture *f, struct pfxforge spec, const char *what)
{
    struct bytes der;
    struct pfx_decoded dec;
    struct errbuf err = {""};
    enum pfx_status st;
    char needle[128];

    spec.bundle = &f->leaf;
    spec.password = "pw";
    pfxforge(&spec, &der);
    alarm(WATCHDOG_SECONDS);
    st = pfx_decode(der.data, der.len, "pw", &dec, &err);
    alarm(0);
    if (st != PFX_TOO_COSTLY)
        fail_msg("%s: status %s (%s), expected refused", what, pfx_status_text(st), err.msg);
    snprintf(needle, sizeof(needle), "the %s iteration count is %lld", what, HOSTILE_ITERATIONS);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, needle);
    assert_string_equal(pfx_status_text(st), "refused");
    bytes_free(&der);
}

static void test_hostile_iteration_counts(void **state)
{
    struct fixture *f = *state;

    for (int aes = 0; aes <= 1; aes++) {
        expect_refused(f, (struct pfxforge){.aes256 = aes, .mac_iter = HOSTILE_ITERATIONS}, "MAC");
        expect_refused(f, (struct pfxforge){.aes256 = aes, .key_iter = HOSTILE_ITERATIONS},
                       "private key");
        expect_refused(f, (struct pfxforge){.aes256 = aes, .cert_iter = HOSTILE_ITERATIONS},
                       "certificates");
    }
}

/* The limit is a limit, not a ban on large counts: the cap itself is exceeded by one to refuse,
 * and a count of 100,000 (the most a real writer uses) opens. */
static void test_iteration_limit_edges(void **state)
{
    struct fixture *f = *state;
    struct bytes der;
    struct pfx_decoded dec;
    struct errbuf err = {""};

    pfxforge(&(struct pfxforge){.bundle = &f->leaf, .password = "pw",
                                .mac_iter = PFX_READ_ITERATIONS_MAX + 1LL},
             &der);
    assert_int_equal(pfx_decode(der.data, der.len, "pw", &dec, &err), PFX_TOO_COSTLY);
    assert_non_null(strstr(err.msg, "1000001"));
    bytes_free(&der);
    pfxforge(&(struct pfxforge){.bundle = &f->leaf, .password = "pw", .mac_iter = 100000,
                                .key_iter = 100000, .cert_iter = 100000},
             &der);
    if (pfx_decode(der.data, der.len, "pw", &dec, &err) != PFX_OK)
        fail_msg("100,000 iterations: %s", err.msg);
    assert_true(dec.key_matches);
    pfx_decoded_free(&dec);
    bytes_free(&der);
}

/* ---- localKeyID pairing (issue 12) ------------------------------------------------------------- */

static void decode_forged(struct fixture *f, struct pfxforge spec, struct pfx_decoded *dec)
{
    struct bytes der;
    struct errbuf err = {""};

    spec.bundle = &f->leaf;
    spec.password = "pw";
    pfxforge(&spec, &der);
    if (pfx_decode(der.data, der.len, "pw", dec, &err) != PFX_OK)
        fail_msg("%s", err.msg);
    bytes_free(&der);
}

static void expect_leaf_and_key(struct fixture *f, const struct pfx_decoded *dec)
{
    assert_int_equal(X509_cmp(dec->bundle.cert, f->leaf.cert), 0);
    assert_int_equal(EVP_PKEY_eq(dec->bundle.key, f->leaf.key), 1);
    assert_true(dec->key_matches);
    assert_int_equal(sk_X509_num(dec->bundle.chain), 1);
}

static void test_pairing_by_local_key_id(void **state)
{
    struct fixture *f = *state;
    struct pfx_decoded dec;
    struct bytes der;
    struct errbuf err = {""};
    EVP_PKEY *decoy = testcert_key(0);

    /* What ccs writes: the key's localKeyID is the leaf's, the leaf first. */
    assert_int_equal(pfx_encode(&f->leaf, "pw", PFX_FORMAT_COMPAT, "x", &der, &err), 0);
    assert_int_equal(pfx_decode(der.data, der.len, "pw", &dec, &err), PFX_OK);
    expect_leaf_and_key(f, &dec);
    assert_int_equal(dec.pairing, PFX_PAIRED);
    assert_true(dec.leaf_first);
    assert_int_equal(dec.key_count, 1);
    pfx_decoded_free(&dec);
    bytes_free(&der);

    decode_forged(f, (struct pfxforge){.key_id = PFXFORGE_ID_NONE}, &dec);
    expect_leaf_and_key(f, &dec);
    assert_int_equal(dec.pairing, PFX_PAIR_NO_KEY_ID);
    pfx_decoded_free(&dec);

    decode_forged(f, (struct pfxforge){.key_id = PFXFORGE_ID_CHAIN}, &dec);
    expect_leaf_and_key(f, &dec);
    assert_int_equal(dec.pairing, PFX_PAIR_OTHER_CERT);
    pfx_decoded_free(&dec);

    decode_forged(f, (struct pfxforge){.leaf_last = 1}, &dec);
    expect_leaf_and_key(f, &dec);
    assert_int_equal(dec.pairing, PFX_PAIRED);
    assert_false(dec.leaf_first);
    pfx_decoded_free(&dec);

    /* Two keys, an unrelated one first: judged by localKeyID, not "the first key". */
    decode_forged(f, (struct pfxforge){.extra_key = decoy}, &dec);
    expect_leaf_and_key(f, &dec);
    assert_int_equal(dec.pairing, PFX_PAIRED);
    assert_int_equal(dec.key_count, 2);
    pfx_decoded_free(&dec);
    EVP_PKEY_free(decoy);
}

/* The per-file sum: four key derivations (the MAC, the certificates, two keys), each well under the
 * per-count cap. 4 x SPLIT_OVER is just over the sum cap, 4 x SPLIT_AT at it. */
#define SPLIT_OVER (PFX_READ_ITERATIONS_TOTAL_MAX / 4 + 1LL) /* 750,001: 4 x = 3,000,004 */
#define SPLIT_AT (PFX_READ_ITERATIONS_TOTAL_MAX / 4 + 0LL)   /* 750,000: 4 x = 3,000,000 */

/* Decode the file SPEC describes (the leaf, "pw", a decoy key, every count COUNT) under the
 * watchdog: its status, and the message in ERR. */
static enum pfx_status decode_split(struct fixture *f, struct pfxforge spec, EVP_PKEY *decoy,
                                    long long count, struct pfx_decoded *dec, struct errbuf *err)
{
    struct bytes der;
    enum pfx_status st;

    spec.bundle = &f->leaf;
    spec.password = "pw";
    spec.extra_key = decoy;
    spec.mac_iter = spec.key_iter = spec.cert_iter = count;
    pfxforge(&spec, &der);
    alarm(WATCHDOG_SECONDS);
    st = pfx_decode(der.data, der.len, "pw", dec, err);
    alarm(0);
    bytes_free(&der);
    return st;
}

static void expect_sum_refused(enum pfx_status st, const struct errbuf *err, const char *what)
{
    char needle[64];

    if (st != PFX_TOO_COSTLY)
        fail_msg("%s: status %s (%s), expected refused", what, pfx_status_text(st), err->msg);
    snprintf(needle, sizeof(needle), "add up to %lld over 4 key derivations", 4 * SPLIT_OVER);
    if (!strstr(err->msg, needle))
        fail_msg("%s: \"%s\" lacks \"%s\"", what, err->msg, needle);
}

/* Over the sum cap: refused from the counts alone, naming the sum. The counts are claimed, not
 * computed: a reader that derived a key before refusing would find a wrong password instead. At
 * the sum cap (computed): opens. */
static void test_iteration_total(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *decoy = testcert_key(0);
    struct pfx_decoded dec;
    struct errbuf err = {""};
    enum pfx_status st;

    for (int aes = 0; aes <= 1; aes++) {
        st = decode_split(f, (struct pfxforge){.aes256 = aes, .uncomputed = 1}, decoy, SPLIT_OVER,
                          &dec, &err);
        expect_sum_refused(st, &err, aes ? "aes256, 4 x 750,001" : "compat, 4 x 750,001");
        st = decode_split(f, (struct pfxforge){.aes256 = aes}, decoy, SPLIT_AT, &dec, &err);
        if (st != PFX_OK)
            fail_msg("4 x %lld (the sum cap): %s", SPLIT_AT, err.msg);
        assert_int_equal(dec.key_count, 2);
        expect_leaf_and_key(f, &dec);
        pfx_decoded_free(&dec);
    }
    EVP_PKEY_free(decoy);
}

/* Keys inside an encrypted part are seen only once it is decrypted: the MAC and the two parts
 * (3 x 750,001) pass the count made before any derivation, and the sum is refused when the walk
 * reaches the first key inside (4 x 750,001), before deriving it. A real file: opened whole, it
 * would succeed. */
static void test_iteration_total_hidden_keys(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *decoy = testcert_key(0);
    struct pfx_decoded dec;
    struct errbuf err = {""};
    enum pfx_status st;

    st = decode_split(f, (struct pfxforge){.keys_encrypted = 1}, decoy, SPLIT_OVER, &dec, &err);
    expect_sum_refused(st, &err, "keys in an encrypted part, 5 x 750,001");
    EVP_PKEY_free(decoy);
}

/* An encrypted part whose content is absent (OPTIONAL in the DER), in a file without a MAC:
 * damaged, said so — not a crash (it dereferenced the absent content), not "wrong password". */
static void test_encrypted_part_without_content(void **state)
{
    static const unsigned char der[] = {
        /* PFX, version 3; its authSafe: ContentInfo data, holding an AuthenticatedSafe */
        0x30, 0x23, 0x02, 0x01, 0x03, 0x30, 0x1e, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
        0x01, 0x07, 0x01, 0xa0, 0x11, 0x04, 0x0f, 0x30, 0x0d,
        /* whose one part is a ContentInfo encryptedData with no content */
        0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06,
    };
    struct pfx_decoded dec;
    struct errbuf err = {""};
    (void)state;

    assert_int_equal(pfx_decode(der, sizeof(der), "pw", &dec, &err), PFX_DAMAGED);
    assert_non_null(strstr(err.msg, "an encrypted part of the PFX has no content"));
}

static void test_format_names(void **state)
{
    enum pfx_format fmt;
    (void)state;
    assert_int_equal(pfx_format_parse("compat", &fmt), 0);
    assert_int_equal(fmt, PFX_FORMAT_COMPAT);
    assert_int_equal(pfx_format_parse("aes256", &fmt), 0);
    assert_int_equal(fmt, PFX_FORMAT_AES256);
    assert_int_equal(pfx_format_parse("rc2", &fmt), -1);
    assert_string_equal(pfx_format_name(PFX_FORMAT_LEGACY_RC2), "legacy-rc2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_compat),
        cmocka_unit_test(test_round_trip_aes256),
        cmocka_unit_test(test_round_trip_empty_password),
        cmocka_unit_test(test_reads_legacy_rc2),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_encrypted_part_without_content),
        cmocka_unit_test(test_pem_full_chain_split),
        cmocka_unit_test(test_pem_errors),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_hostile_iteration_counts),
        cmocka_unit_test(test_iteration_limit_edges),
        cmocka_unit_test(test_iteration_total),
        cmocka_unit_test(test_iteration_total_hidden_keys),
        cmocka_unit_test(test_pairing_by_local_key_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
