/* Unit tests for src/store/certinfo.c: a certificate's names as store file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/certinfo.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_name_string_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
