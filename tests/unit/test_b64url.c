/* Unit tests for src/acme/b64url.c: base64url without padding (RFC 4648 §5, RFC 7515 §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/b64url.h"

static void assert_encodes(const void *data, size_t len, const char *want)
{
    char *got = b64url_encode(data, len);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void assert_decodes(const char *text, const void *want, size_t want_len)
{
    size_t len = 12345;
    unsigned char *got = b64url_decode(text, &len);
    if (!got)
        fail_msg("\"%s\" rejected", text);
    if (len != want_len)
        fail_msg("\"%s\": %zu octets, want %zu", text, len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
}

static void assert_rejected(const char *text)
{
    size_t len = 12345;
    unsigned char *got = b64url_decode(text, &len);
    if (got) {
        free(got);
        fail_msg("\"%s\" accepted as %zu octets", text, len);
    }
}

/* RFC 4648 §10 test vectors, without padding. */
static void test_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_encodes(plain[i], strlen(plain[i]), coded[i]);
        assert_decodes(coded[i], plain[i], strlen(plain[i]));
    }
}

/* The two characters where base64url differs from base64: '-' for '+', '_' for '/'. */
static void test_url_alphabet(void **state)
{
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    static const unsigned char jws_e[] = {0x01, 0x00, 0x01}; /* RSA exponent 65537 */

    (void)state;
    assert_encodes(bytes, sizeof(bytes), "-_-_");
    assert_decodes("-_-_", bytes, sizeof(bytes));
    assert_encodes(bytes, 2, "-_8");
    assert_decodes("-_8", bytes, 2);
    assert_encodes(jws_e, sizeof(jws_e), "AQAB");
    assert_decodes("AQAB", jws_e, sizeof(jws_e));
}

static void test_padding_tolerated(void **state)
{
    (void)state;
    assert_decodes("Zg==", "f", 1);
    assert_decodes("Zm8=", "fo", 2);
    assert_decodes("Zm9v", "foo", 3);
    assert_decodes("Zm9vYg==", "foob", 4);
    assert_decodes("-_8=", "\xfb\xff", 2);
}

static void test_standard_alphabet_rejected(void **state)
{
    (void)state;
    assert_rejected("+/+/");
    assert_rejected("-_+/");
    assert_rejected("Zm9v+A");
    assert_rejected("Zm9v/w==");
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    assert_rejected("Z");      /* one character cannot carry an octet */
    assert_rejected("Zm9vY");  /* 4n + 1 */
    assert_rejected("Zm9vY==");
    assert_rejected("Zm9v!A");
    assert_rejected("Zm 9vA");
    assert_rejected("Zm9v\x80" "A");
}

/* What b64url.h promises ("NULL when TEXT is not base64url") for text OpenSSL's block decoder is
 * lenient about: it strips leading and trailing whitespace and decodes '=' anywhere as zero bits,
 * so these used to decode to wrong octets (e.g. "AB==    " to 3 octets, "A=AA" to 3 zeros). */
static void test_lenient_inputs_rejected(void **state)
{
    (void)state;
    assert_rejected("    ");
    assert_rejected("    Zm9v");
    assert_rejected("Zm9v    ");
    assert_rejected("Zm9v\n\n\n\n");
    assert_rejected("AB==    ");
    assert_rejected("A=AA");
    assert_rejected("Zg=a");
}

static void test_round_trip(void **state)
{
    unsigned char data[300];

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(data); len += (len < 10 ? 1 : 37)) {
        char *text = b64url_encode(data, len), *padded;
        size_t tlen, pad;

        assert_non_null(text);
        tlen = strlen(text);
        assert_int_equal(tlen, (len * 4 + 2) / 3);
        assert_int_equal(strcspn(text, "+/="), tlen);
        assert_decodes(text, data, len);

        pad = (4 - tlen % 4) % 4;
        padded = malloc(tlen + pad + 1);
        assert_non_null(padded);
        memcpy(padded, text, tlen);
        memset(padded + tlen, '=', pad);
        padded[tlen + pad] = '\0';
        assert_decodes(padded, data, len);
        free(padded);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_padding_tolerated),
        cmocka_unit_test(test_standard_alphabet_rejected),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_lenient_inputs_rejected),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
