/* Unit tests for src/util/secret.c: what a password file means (issue 12, item 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testcert.h"
#include "util/secret.h"

struct file_case {
    const char *content;
    size_t len;
    const char *value; /* the secret, or NULL when refused */
    const char *why;   /* refused: part of the message */
};

#define TEXT(s) s, sizeof(s) - 1

static void test_password_file_rules(void **state)
{
    static const struct file_case cases[] = {
        {TEXT("pw\n"), "pw", NULL},
        {TEXT("pw"), "pw", NULL},
        {TEXT("pw\r\n"), "pw", NULL}, /* CRLF: the whole line ending goes */
        {TEXT("pw\n\n"), "pw", NULL}, /* empty lines may follow */
        {TEXT("pw\r\n\r\n\n"), "pw", NULL},
        {TEXT("with space\n"), "with space", NULL},
        {TEXT(""), "", NULL}, /* empty: allowed (IIS allows it; the caller warns) */
        {TEXT("\n"), "", NULL},
        {TEXT("b\xc3\xbc" "cher\n"), "b\xc3\xbc" "cher", NULL}, /* non-ASCII: a warning only */
        {TEXT("line1\nline2\n"), NULL, "holds more than one line"},
        {TEXT("line1\nline2"), NULL, "holds more than one line"},
        {TEXT("\npw\n"), NULL, "holds more than one line"}, /* the password is the first line */
        {TEXT("pw\n \n"), NULL, "holds more than one line"},
        {TEXT("p\0w\n"), NULL, "NUL"},
        {TEXT("pw\n\0"), NULL, "NUL"},
        {TEXT("p\tw\n"), NULL, "control character (a tab)"},
        {TEXT("pw\r"), NULL, "control character (a carriage return)"},
        {TEXT("p\rw\n"), NULL, "control character (a carriage return)"},
        {TEXT("pw\r\r\n"), NULL, "control character (a carriage return)"},
        {TEXT("p\x1b[2Jw\n"), NULL, "control character"},
        {TEXT("p\x7fw\n"), NULL, "control character"},
        {TEXT("\xff\xfe" "pw\n"), NULL, "not UTF-8"},
        {TEXT("\xc3\n"), NULL, "not UTF-8"},
    };
    char *dir = testcert_tmpdir();
    char path[4200];
    (void)state;

    snprintf(path, sizeof(path), "%s/pw", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct file_case *c = &cases[i];
        struct secret_source src = {.what = "PFX password", .option = "--password-file",
                                    .path = path};
        struct secret s;
        struct errbuf err = {""};
        FILE *f = fopen(path, "wb");
        int rc;

        assert_non_null(f);
        assert_int_equal(fwrite(c->content, 1, c->len, f), c->len);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0600), 0);
        rc = secret_load(&src, &s, &err);
        if (c->value) {
            if (rc != 0)
                fail_msg("case %zu: refused: %s", i, err.msg);
            assert_int_equal(s.len, strlen(c->value));
            assert_memory_equal(s.value, c->value, s.len);
            secret_free(&s);
        } else {
            if (rc == 0)
                fail_msg("case %zu: accepted as %zu octets, expected \"%s\"", i, s.len, c->why);
            if (!strstr(err.msg, c->why) || !strstr(err.msg, path))
                fail_msg("case %zu: \"%s\" lacks \"%s\" or the file name", i, err.msg, c->why);
        }
    }
    testcert_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_file_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
