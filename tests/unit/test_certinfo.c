/* Unit tests for src/store/certinfo.c: a certificate's names as store file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include <cmocka.h>

#include "store/certinfo.h"
#include "util/fileio.h"
#include "testcert.h"

/* Replace CERT's subject CN with BYTES (LEN octets) of ASN.1 string TYPE. */
static void set_cn(X509 *cert, int type, const void *bytes, int len)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

    assert_true(idx >= 0);
    X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, idx));
    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName, type, bytes, len, -1, 0), 1);
}

static void expect_names(X509 *cert, const char *const *files, size_t count, size_t rejected)
{
    struct cert_names names;
    struct errbuf err;

    assert_int_equal(cert_names_collect(cert, &names, &err), 0);
    for (size_t i = 0; i < names.rejected_count; i++)
        print_message("rejected: %s: %s\n", names.rejected[i].value, names.rejected[i].why);
    assert_int_equal(names.count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(names.names[i].file, files[i]);
    assert_int_equal(names.rejected_count, rejected);
    cert_names_free(&names);
}

/* A subject CN is text in whatever string type the CA chose (issue 12): a BMPString (UTF-16BE) or
 * UniversalString CN names the same host as a UTF8String one. */
static void test_common_name_string_types(void **state)
{
    static const unsigned char bmp[] = {0,   'b', 0,   'm', 0,   'p', 0,   '.', 0,   'e', 0,
                                        'x', 0,   'a', 0,   'm', 0,   'p', 0,   'l', 0,   'e'};
    /* "bücher.example" in UTF-16BE: ü is U+00FC */
    static const unsigned char bmp_idn[] = {0, 'b', 0, 0xfc, 0, 'c', 0, 'h', 0, 'e',
                                            0, 'r', 0, '.',  0, 'e', 0, 'x', 0, 'a',
                                            0, 'm', 0, 'p',  0, 'l', 0, 'e'};
    static const unsigned char bmp_text[] = {0,   'M', 0,   'y', 0,   ' ', 0,
                                             'c', 0,   'e', 0,   'r', 0,   't'};
    static const unsigned char universal[] = {0, 0, 0, 'u', 0, 0, 0, '.',
                                              0, 0, 0, 'e', 0, 0, 0, 'x'};
    static const char *const bmp_files[] = {"bmp.example.pfx"};
    static const char *const idn_files[] = {"b\xc3\xbc"
                                            "cher.example.pfx"};
    static const char *const u_files[] = {"u.ex.pfx"};
    struct pfx_bundle leaf;
    time_t now = time(NULL);
    (void)state;

    testcert_leaf(&leaf, NULL, "placeholder", NULL, now - 60, now + 86400);
    set_cn(leaf.cert, V_ASN1_BMPSTRING, bmp, sizeof(bmp));
    expect_names(leaf.cert, bmp_files, 1, 0);
    set_cn(leaf.cert, V_ASN1_BMPSTRING, bmp_idn, sizeof(bmp_idn));
    expect_names(leaf.cert, idn_files, 1, 0);
    set_cn(leaf.cert, V_ASN1_UTF8STRING,
           "b\xc3\xbc"
           "cher.example",
           -1);
    expect_names(leaf.cert, idn_files, 1, 0);
    set_cn(leaf.cert, V_ASN1_UNIVERSALSTRING, universal, sizeof(universal));
    expect_names(leaf.cert, u_files, 1, 0);
    /* Text that is not a host name stays silently so, whatever the string type. */
    set_cn(leaf.cert, V_ASN1_BMPSTRING, bmp_text, sizeof(bmp_text));
    expect_names(leaf.cert, NULL, 0, 0);
    pfx_bundle_free(&leaf);
}

/* PEM text of CERT followed by TAIL (malloc'd). */
static char *pem_of(X509 *cert, const char *tail)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    assert_non_null(mem);
    assert_int_equal(PEM_write_bio_X509(mem, cert), 1);
    len = BIO_get_mem_data(mem, &data);
    out = malloc((size_t)len + strlen(tail) + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)len);
    strcpy(out + len, tail);
    BIO_free(mem);
    return out;
}

static void write_text(const char *path, const char *text)
{
    struct errbuf err;

    if (file_write_atomic(path, (const unsigned char *)text, strlen(text), 0644, &err) < 0)
        fail_msg("%s", err.msg);
}

/* The one reader of "the certificate in this file": the first certificate of a chain, a missing
 * file told apart from an unreadable or wrong one, every error naming the file. */
static void test_read_pem_file(void **state)
{
    struct test_ca ca;
    struct pfx_bundle leaf;
    time_t now = time(NULL);
    char *dir = testcert_tmpdir(), path[512], *pem;
    struct errbuf err;
    X509 *got;
    int missing;

    (void)state;
    testcert_ca(&ca, "Test CA");
    testcert_leaf(&leaf, &ca, "a.example", "DNS:a.example", now - 60, now + 86400);
    /* a full chain: the leaf is the one read, the CA after it is not looked at */
    snprintf(path, sizeof(path), "%s/fullchain.pem", dir);
    pem = pem_of(ca.cert, "");
    {
        char *both = pem_of(leaf.cert, pem);
        write_text(path, both);
        got = cert_from_pem(both, strlen(both));
        assert_non_null(got);
        assert_int_equal(X509_cmp(got, leaf.cert), 0);
        X509_free(got);
        free(both);
    }
    free(pem);
    assert_int_equal(cert_read_pem_file(path, &got, &missing, &err), 0);
    assert_int_equal(missing, 0);
    assert_non_null(got);
    assert_int_equal(X509_cmp(got, leaf.cert), 0);
    X509_free(got);

    /* missing: no error when the caller allows it, an error naming the file when not */
    snprintf(path, sizeof(path), "%s/none.pem", dir);
    assert_int_equal(cert_read_pem_file(path, &got, &missing, &err), 0);
    assert_int_equal(missing, 1);
    assert_null(got);
    assert_int_equal(cert_read_pem_file(path, &got, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "none.pem"));

    /* not a certificate (a key, text): an error naming the file, whether or not missing is asked */
    snprintf(path, sizeof(path), "%s/text.pem", dir);
    write_text(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert_int_equal(cert_read_pem_file(path, &got, &missing, &err), -1);
    assert_int_equal(missing, 0);
    assert_null(got);
    assert_non_null(strstr(err.msg, "text.pem: no PEM certificate found"));
    assert_null(cert_from_pem("garbage", 7));

    pfx_bundle_free(&leaf);
    testcert_ca_free(&ca);
    testcert_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_name_string_types),
        cmocka_unit_test(test_read_pem_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
