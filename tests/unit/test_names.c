/* Unit tests for src/store/names.c: the mapping from host names to store file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/names.h"

static void assert_file(const char *input, const char *file)
{
    struct store_name n;
    struct errbuf err = {""};
    int rc = store_name_normalise(input, strlen(input), &n, &err);
    if (rc != 0)
        fail_msg("\"%s\" rejected: %s", input, err.msg);
    assert_string_equal(n.file, file);
}

/* Rejected, and the message names the value (escaped) and contains WHY. */
static void assert_rejected_raw(const char *input, size_t len, const char *why)
{
    struct store_name n;
    struct errbuf err = {""};
    assert_int_equal(store_name_normalise(input, len, &n, &err), -1);
    if (!strstr(err.msg, why))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", input, err.msg, why);
    assert_non_null(strstr(err.msg, "name \""));
    assert_string_equal(n.file, ""); /* nothing usable as a path leaks out */
}

static void assert_rejected(const char *input, const char *why)
{
    assert_rejected_raw(input, strlen(input), why);
}

static void test_plain_and_case(void **state)
{
    (void)state;
    assert_file("www.example.com", "www.example.com.pfx");
    assert_file("WWW.Example.COM", "www.example.com.pfx");
    assert_file("www.example.com.", "www.example.com.pfx");
    assert_file("localhost", "localhost.pfx");
    assert_file("a-b.c_d.example", "a-b.c_d.example.pfx");
}

static void test_wildcards(void **state)
{
    struct store_name n;
    struct errbuf err;
    (void)state;
    assert_file("*.example.com", "_.example.com.pfx");
    assert_file("*.EXAMPLE.com.", "_.example.com.pfx");
    assert_int_equal(store_name_normalise("*.example.com", 13, &n, &err), 0);
    assert_true(n.wildcard);
    assert_string_equal(n.unicode, "*.example.com");
    assert_rejected("a.*.example.com", "'*' is allowed only as the whole first label");
    assert_rejected("*a.example.com", "'*' is allowed only as the whole first label");
    assert_rejected("a*.example.com", "'*' is allowed only as the whole first label");
    assert_rejected("*.*.example.com", "'*' is allowed only as the whole first label");
    assert_rejected("*", "'*' is allowed only as the whole first label");
    assert_rejected("*.com", "at least two labels");
    /* "_" as a real first label would collide with the wildcard file name. */
    assert_rejected("_.example.com", "reserved for wildcard");
}

static void test_idn_both_forms(void **state)
{
    struct store_name n;
    struct errbuf err;
    (void)state;
    assert_file("xn--bcher-kva.example", "bücher.example.pfx");
    assert_file("XN--BCHER-KVA.Example", "bücher.example.pfx");
    assert_file("bücher.example", "bücher.example.pfx");
    assert_file("BÜCHER.example", "bücher.example.pfx");
    /* NFD input ("u" + combining diaeresis) becomes the same NFC file name. */
    assert_file("bu\xcc\x88" "cher.example", "bücher.example.pfx");
    assert_file("*.xn--bcher-kva.example", "_.bücher.example.pfx");
    assert_int_equal(store_name_normalise("bücher.example", strlen("bücher.example"), &n, &err), 0);
    assert_string_equal(n.ace, "xn--bcher-kva.example");
    assert_string_equal(n.unicode, "bücher.example");
}

static void test_rejections(void **state)
{
    char long_label[80], long_name[300];
    (void)state;
    assert_rejected("", "empty name");
    assert_rejected(".", "empty name");
    assert_rejected("a..b", "empty label");
    assert_rejected(".example.com", "empty label");
    assert_rejected("example.com..", "empty label");
    assert_rejected("../etc/passwd", "path separator");
    assert_rejected("a/b.example", "path separator");
    assert_rejected("a\\b.example", "path separator");
    assert_rejected_raw("a\0b.example", 11, "NUL");
    assert_rejected("a\tb.example", "control character");
    assert_rejected("a\x7f" "b.example", "control character");
    assert_rejected("a b.example", "not allowed");
    assert_rejected("-a.example", "IDNA2008");
    assert_rejected("xn--zz.example", "IDNA2008"); /* invalid punycode */
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".example");
    assert_rejected(long_label, "label longer than 63");
    memset(long_label, 'a', 63);
    strcpy(long_label + 63, ".example");
    assert_file(long_label, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.pfx");
    /* 254 octets: over the DNS limit. */
    long_name[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(long_name, "abcd.");
    strcat(long_name, "abcd");
    assert_rejected(long_name, "longer than 253");
    /* 252 octets is a valid DNS name, but "name.pfx" would exceed NAME_MAX (255). */
    long_name[252] = '\0';
    assert_rejected(long_name, "file name would exceed 255");
    /* 251 octets: the longest name that fits a file name. */
    long_name[251] = '\0';
    {
        struct store_name n;
        struct errbuf err;
        if (store_name_normalise(long_name, strlen(long_name), &n, &err) != 0)
            fail_msg("251 octets rejected: %s", err.msg);
        assert_int_equal(strlen(n.file), 255);
    }
}

/* UTS #46 mapping happens inside libidn2; the rules must hold for what comes out (issue 12). */
static void test_rules_after_mapping(void **state)
{
    (void)state;
    /* An ideographic (and a fullwidth) full stop maps to '.': "_.t.test" is the wildcard file of
     * t.test, which a certificate without a wildcard must never write. */
    assert_rejected("_\xe3\x80\x82t.test", "reserved for wildcard file names");
    assert_rejected("_\xe3\x80\x82t.test", "after IDNA mapping: \"_.t.test\"");
    assert_rejected("_\xef\xbc\x8et.test", "reserved for wildcard file names");
    /* A fullwidth asterisk maps to '*', a fullwidth solidus to '/', a fullwidth reverse solidus
     * to '\\'. */
    assert_rejected("\xef\xbc\x8a.example.com", "'*' is allowed only as the whole first label");
    assert_rejected("a\xef\xbc\x8f" "b.example", "path separator");
    assert_rejected("a\xef\xbc\xbc" "b.example", "path separator");
    /* Full-stop variants between ordinary labels are just dots. */
    assert_file("www\xe3\x80\x82" "example\xef\xbc\x8e" "com", "www.example.com.pfx");
    /* An A-label that decodes to a fullwidth solidus (U+FF0F, "a／b"): libidn2 passes it through,
     * and the file "a／b.test.pfx" would be one the next check calls bad. */
    assert_rejected("xn--ab-1u3n.test", "does not round-trip");
    assert_rejected("shop.xn--ab-1u3n.test", "\"xn--ab-1u3n\" does not round-trip");
    /* Round-tripping A-labels are still fine, wildcard included. */
    assert_file("xn--zca.example", "\xc3\x9f.example.pfx");
    assert_file("*.xn--bcher-kva.example", "_.b\xc3\xbc" "cher.example.pfx");
}

static void test_error_escapes_value(void **state)
{
    struct store_name n;
    struct errbuf err;
    (void)state;
    assert_int_equal(store_name_normalise("a\nb", 3, &n, &err), -1);
    assert_non_null(strstr(err.msg, "a\\x0ab"));
    assert_null(strchr(err.msg, '\n'));
}

static void test_ip_literals(void **state)
{
    (void)state;
    assert_true(store_name_is_ip_literal("127.0.0.1", 9));
    assert_true(store_name_is_ip_literal("::1", 3));
    assert_true(store_name_is_ip_literal("[2001:db8::1]", 13));
    assert_false(store_name_is_ip_literal("1.2.3.example", 13));
    assert_false(store_name_is_ip_literal("example.com", 11));
}

struct lookup_case {
    const char *host, *exact, *wildcard;
};

static void test_lookup_table(void **state)
{
    static const struct lookup_case cases[] = {
        {"www.example.com", "www.example.com.pfx", "_.example.com.pfx"},
        {"WWW.EXAMPLE.COM.", "www.example.com.pfx", "_.example.com.pfx"},
        {"a.b.example.com", "a.b.example.com.pfx", "_.b.example.com.pfx"},
        {"example.com", "example.com.pfx", ""}, /* never _.com */
        {"localhost", "localhost.pfx", ""},
        {"shop.xn--bcher-kva.example", "shop.bücher.example.pfx", "_.bücher.example.pfx"},
        {"shop.bücher.example", "shop.bücher.example.pfx", "_.bücher.example.pfx"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct store_lookup_plan plan;
        struct errbuf err = {""};
        if (store_lookup_plan(cases[i].host, strlen(cases[i].host), &plan, &err) != 0)
            fail_msg("%s: %s", cases[i].host, err.msg);
        assert_string_equal(plan.exact_file, cases[i].exact);
        assert_string_equal(plan.wildcard_file, cases[i].wildcard);
    }
}

static void test_lookup_rejects(void **state)
{
    static const struct {
        const char *host, *why;
    } cases[] = {
        {"*.example.com", "cannot contain '*'"},
        {"127.0.0.1", "IP address"},
        {"::1", "IP address"},
        {"../../etc/passwd", "path separator"},
        {"a..example.com", "empty label"},
        {"", "empty name"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct store_lookup_plan plan;
        struct errbuf err = {""};
        assert_int_equal(store_lookup_plan(cases[i].host, strlen(cases[i].host), &plan, &err), -1);
        if (!strstr(err.msg, cases[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].host, err.msg, cases[i].why);
        assert_string_equal(plan.exact_file, "");
    }
}

/* The plain-ASCII path of store_name_normalise skips libidn2. Wherever it is taken, libidn2 must
 * agree: accept the name and give it back unchanged as both A-label and Unicode form. Checked on a
 * table of edge cases and on 20,000 random names over the characters that matter. */
static void assert_plain_agrees_with_libidn2(const char *name)
{
    struct store_name n;
    struct errbuf err = {""};
    char *ace = NULL, *unicode = NULL;
    const char *rest = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
    int rc;

    if (!store_name_is_plain_ascii(rest, strlen(rest)))
        return;
    if (store_name_normalise(name, strlen(name), &n, &err) < 0)
        return; /* refused by ccs's own rules before libidn2 would be asked */
    rc = idn2_lookup_u8((const uint8_t *)rest, (uint8_t **)&ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK)
        fail_msg("\"%s\": taken as plain ASCII, but libidn2 refuses it: %s", name, idn2_strerror(rc));
    assert_int_equal(idn2_to_unicode_8z8z(ace, &unicode, 0), IDN2_OK);
    if (strcmp(ace, rest) != 0 || strcmp(unicode, rest) != 0)
        fail_msg("\"%s\": libidn2 maps it to %s / %s", name, ace, unicode);
    assert_string_equal(n.ace, name);
    free(ace);
    free(unicode);
}

static void test_plain_ascii_agrees_with_libidn2(void **state)
{
    static const char *const table[] = {
        "a", "www.example.com", "*.example.com", "a-b.c", "_acme.example.com", "x_y.example",
        "ab--c.example", "a1.2b", "1.2.3.4a", "0x1.example", "a.b.c.d.e.f.g",
        "xn--bcher-kva.de", "-a.example", "a-.example", "1.2.3.4", "",
    };
    const char alphabet[] = "ax0-_.";
    char name[40];

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        assert_plain_agrees_with_libidn2(table[i]);
    /* the fast path takes these; its refusals are libidn2's business */
    assert_true(store_name_is_plain_ascii("www.example.com", 15));
    assert_true(store_name_is_plain_ascii("_acme.x", 7));
    assert_false(store_name_is_plain_ascii("xn--bcher-kva.de", 16));
    assert_false(store_name_is_plain_ascii("ab--c.example", 13));
    assert_false(store_name_is_plain_ascii("-a.example", 10));
    assert_false(store_name_is_plain_ascii("a..b", 4));
    assert_false(store_name_is_plain_ascii("1.2.3.4", 7));
    assert_false(store_name_is_plain_ascii("b\xc3\xbc" "cher.de", 10));
    srand(11);
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + (size_t)rand() % (sizeof(name) - 1);
        for (size_t k = 0; k < len; k++)
            name[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
        name[len] = '\0';
        assert_plain_agrees_with_libidn2(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_case),     cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_idn_both_forms),     cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_error_escapes_value), cmocka_unit_test(test_ip_literals),
        cmocka_unit_test(test_lookup_table),       cmocka_unit_test(test_lookup_rejects),
        cmocka_unit_test(test_rules_after_mapping),
        cmocka_unit_test(test_plain_ascii_agrees_with_libidn2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
