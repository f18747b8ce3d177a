/* Unit tests for src/store/check.c: a store seeded with one defect per file; each is found, by its
 * code, on the right file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pkcs12.h>

#include "pfxforge.h"
#include "store/check.h"
#include "testcert.h"

#define PASSWORD "check-pw"

struct fixture {
    struct test_ca ca;
    char *dir;
    time_t now;
};

static void write_file(struct fixture *f, const char *name, const void *data, size_t len,
                       unsigned mode)
{
    char path[4400];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static void write_pfx(struct fixture *f, const char *name, const struct pfx_bundle *b,
                      enum pfx_format fmt, const char *password, unsigned mode, size_t cut)
{
    struct bytes der;
    struct errbuf err;
    assert_int_equal(pfx_encode(b, password, fmt, "check test", &der, &err), 0);
    write_file(f, name, der.data, cut ? cut : der.len, mode);
    bytes_free(&der);
}

/* PKCS12_create refuses a key that does not match; assemble the bags by hand to get one. */
static void write_mismatched_pfx(struct fixture *f, const char *name, const struct pfx_bundle *b)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    EVP_PKEY *other = testcert_key(0);
    PKCS12 *p12;
    unsigned char *der = NULL;
    int len;

    assert_non_null(PKCS12_add_cert(&bags, b->cert));
    assert_non_null(PKCS12_add_key(&bags, other, 0, 2048, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                   PASSWORD));
    assert_int_equal(PKCS12_add_safe(&safes, bags, -1, 0, NULL), 1);
    p12 = PKCS12_add_safes(safes, 0);
    assert_non_null(p12);
    assert_int_equal(PKCS12_set_mac(p12, PASSWORD, -1, NULL, 0, 2048, EVP_sha1()), 1);
    len = i2d_PKCS12(p12, &der);
    write_file(f, name, der, (size_t)len, 0640);
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    EVP_PKEY_free(other);
}

static const struct check_finding *find(const struct check_report *r, const char *file,
                                        const char *code)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i].file, file) == 0 && strcmp(r->items[i].code, code) == 0)
            return &r->items[i];
    for (size_t i = 0; i < r->count; i++)
        fprintf(stderr, "  finding: %s %s %s\n", r->items[i].file, r->items[i].code,
                r->items[i].message);
    fail_msg("no finding %s for %s", code, file);
    return NULL;
}

static int count_for(const struct check_report *r, const char *file)
{
    int n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += strcmp(r->items[i].file, file) == 0;
    return n;
}

static void test_seeded_defects(void **state)
{
    struct fixture f;
    struct pfx_bundle good, wild, expired, future, soon, selfsigned;
    struct check_report r;
    struct check_options o;
    struct store *st;
    struct errbuf err;
    char path[4400];
    (void)state;

    assert_int_equal(pfx_crypto_init(&err), 0);
    testcert_ca(&f.ca, "Check CA");
    f.dir = testcert_tmpdir();
    f.now = time(NULL);
    testcert_leaf(&good, &f.ca, "good cert", "DNS:good.example,DNS:other.example", f.now - 60,
                  f.now + 90 * 86400L);
    testcert_leaf(&wild, &f.ca, "wild cert", "DNS:*.wild.example", f.now - 60, f.now + 90 * 86400L);
    testcert_leaf(&expired, &f.ca, "old cert", "DNS:expired.example", f.now - 90 * 86400L,
                  f.now - 86400);
    /* Valid from tomorrow: what deploy refuses unless forced (issue 12, item 3). */
    testcert_leaf(&future, &f.ca, "future cert", "DNS:future.example", f.now + 86400,
                  f.now + 90 * 86400L);
    testcert_leaf(&soon, &f.ca, "soon cert", "DNS:soon.example", f.now - 60, f.now + 5 * 86400L);
    testcert_leaf(&selfsigned, NULL, "self", "DNS:self.example", f.now - 60, f.now + 90 * 86400L);

    write_pfx(&f, "good.example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "_.wild.example.pfx", &wild, PFX_FORMAT_COMPAT, PASSWORD, 0600, 0);
    write_pfx(&f, "self.example.pfx", &selfsigned, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "wrongpw.example.pfx", &good, PFX_FORMAT_COMPAT, "other", 0640, 0);
    write_pfx(&f, "cut.example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0640, 300);
    write_file(&f, "pem.example.pfx", "-----BEGIN CERTIFICATE-----\n", 28, 0640);
    write_pfx(&f, "mismatch.example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_mismatched_pfx(&f, "other.example.pfx", &good);
    write_pfx(&f, "expired.example.pfx", &expired, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "future.example.pfx", &future, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "soon.example.pfx", &soon, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "aes.good.example.pfx", &good, PFX_FORMAT_AES256, PASSWORD, 0640, 0);
    write_pfx(&f, "Good.Example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
    write_pfx(&f, "readable.example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0644, 0);
    write_pfx(&f, "writable.example.pfx", &good, PFX_FORMAT_COMPAT, PASSWORD, 0660, 0);
    write_file(&f, ".ccs-tmp-123-abc", "x", 1, 0600);
    write_file(&f, "notes.txt", "x", 1, 0640);
    snprintf(path, sizeof(path), "%s/link.example.pfx", f.dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    {
        /* Chain missing the issuer: a CA-signed leaf written without its chain. */
        struct pfx_bundle nochain = good;
        nochain.chain = sk_X509_new_null();
        write_pfx(&f, "nochain.example.pfx", &nochain, PFX_FORMAT_COMPAT, PASSWORD, 0640, 0);
        sk_X509_free(nochain.chain);
    }

    assert_int_equal(store_open(f.dir, NULL, &st, &err), 0);
    o = (struct check_options){.password = PASSWORD, .warn_days = 14, .now = f.now};
    assert_int_equal(store_check(st, &o, &r, &err), 0);

    assert_int_equal(count_for(&r, "good.example.pfx"), 0);
    assert_int_equal(count_for(&r, "_.wild.example.pfx"), 0);
    assert_int_equal(count_for(&r, "self.example.pfx"), 0);
    find(&r, "wrongpw.example.pfx", "wrong-password");
    find(&r, "cut.example.pfx", "truncated");
    find(&r, "pem.example.pfx", "not-pkcs12");
    find(&r, "mismatch.example.pfx", "name-mismatch");
    find(&r, "other.example.pfx", "key-mismatch");
    find(&r, "expired.example.pfx", "expired");
    assert_int_equal(find(&r, "future.example.pfx", "not-yet-valid")->severity, CHECK_ERROR);
    assert_int_equal(count_for(&r, "future.example.pfx"), 1);
    assert_int_equal(find(&r, "soon.example.pfx", "expiring")->severity, CHECK_WARNING);
    find(&r, "aes.good.example.pfx", "aes-format");
    find(&r, "aes.good.example.pfx", "name-mismatch");
    find(&r, "Good.Example.pfx", "bad-file-name");
    find(&r, "readable.example.pfx", "world-readable");
    find(&r, "writable.example.pfx", "writable");
    find(&r, ".ccs-tmp-123-abc", "temp-file");
    find(&r, "notes.txt", "not-pfx");
    assert_non_null(strstr(find(&r, "link.example.pfx", "symlink")->message, "/etc/passwd"));
    find(&r, "nochain.example.pfx", "chain-incomplete");
    assert_true(r.errors >= 14);

    /* --warn-days 3: "soon" (5 days) no longer warns. */
    check_report_free(&r);
    o.warn_days = 3;
    assert_int_equal(store_check(st, &o, &r, &err), 0);
    assert_int_equal(count_for(&r, "soon.example.pfx"), 0);

    check_report_free(&r);
    store_close(st);
    pfx_bundle_free(&good);
    pfx_bundle_free(&wild);
    pfx_bundle_free(&expired);
    pfx_bundle_free(&future);
    pfx_bundle_free(&soon);
    pfx_bundle_free(&selfsigned);
    testcert_ca_free(&f.ca);
    testcert_rmdir(f.dir);
}

/* A leaf for NAME.example with its CA, written as SPEC says (pfxforge.h) to NAME.example.pfx. */
static void write_forged(struct fixture *f, const char *name, struct pfxforge spec)
{
    struct pfx_bundle leaf;
    struct bytes der;
    char host[128], sans[160], file[160];

    snprintf(host, sizeof(host), "%s.example", name);
    snprintf(sans, sizeof(sans), "DNS:%s", host);
    snprintf(file, sizeof(file), "%s.pfx", host);
    testcert_leaf(&leaf, &f->ca, host, sans, f->now - 60, f->now + 90 * 86400L);
    spec.bundle = &leaf;
    spec.password = PASSWORD;
    pfxforge(&spec, &der);
    write_file(f, file, der.data, der.len, 0640);
    bytes_free(&der);
    pfx_bundle_free(&leaf);
}

/* What makes Windows pair the key with the wrong certificate (issue 12, item 4), and a file whose
 * iteration count would stall the check for hours (item 1). */
static void test_key_pairing_and_cost(void **state)
{
    struct fixture f;
    struct check_report r;
    struct check_options o;
    struct store *st;
    struct errbuf err;
    EVP_PKEY *decoy = testcert_key(0);
    (void)state;

    assert_int_equal(pfx_crypto_init(&err), 0);
    testcert_ca(&f.ca, "Pairing CA");
    f.dir = testcert_tmpdir();
    f.now = time(NULL);
    write_forged(&f, "paired", (struct pfxforge){0});
    write_forged(&f, "nokeyid", (struct pfxforge){.key_id = PFXFORGE_ID_NONE});
    write_forged(&f, "chainid", (struct pfxforge){.key_id = PFXFORGE_ID_CHAIN});
    write_forged(&f, "twokeys", (struct pfxforge){.extra_key = decoy});
    write_forged(&f, "leaflast", (struct pfxforge){.leaf_last = 1});
    write_forged(&f, "hostile", (struct pfxforge){.mac_iter = 2147483647LL});

    assert_int_equal(store_open(f.dir, NULL, &st, &err), 0);
    o = (struct check_options){.password = PASSWORD, .warn_days = 14, .now = f.now};
    alarm(60); /* watchdog: before the cap, the hostile file took hours (nothing timed here) */
    assert_int_equal(store_check(st, &o, &r, &err), 0);
    alarm(0);

    assert_int_equal(count_for(&r, "paired.example.pfx"), 0);
    assert_int_equal(find(&r, "nokeyid.example.pfx", "no-key-id")->severity, CHECK_ERROR);
    assert_int_equal(count_for(&r, "nokeyid.example.pfx"), 1);
    assert_int_equal(find(&r, "chainid.example.pfx", "key-id-on-chain")->severity, CHECK_ERROR);
    assert_int_equal(count_for(&r, "chainid.example.pfx"), 1);
    /* Two keys: judged by the one the leaf's localKeyID names, so no key-mismatch. */
    assert_int_equal(find(&r, "twokeys.example.pfx", "several-keys")->severity, CHECK_WARNING);
    assert_int_equal(count_for(&r, "twokeys.example.pfx"), 1);
    assert_int_equal(find(&r, "leaflast.example.pfx", "leaf-not-first")->severity, CHECK_WARNING);
    assert_int_equal(count_for(&r, "leaflast.example.pfx"), 1);
    assert_non_null(strstr(find(&r, "hostile.example.pfx", "too-costly")->message, "2147483647"));
    assert_int_equal(r.errors, 3);

    check_report_free(&r);
    store_close(st);
    EVP_PKEY_free(decoy);
    testcert_ca_free(&f.ca);
    testcert_rmdir(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeded_defects),
        cmocka_unit_test(test_key_pairing_and_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
