/* Unit tests for src/util/credfile.c: Samba credentials files, as smbclient -A and mount.cifs
 * read them, and the refusals (loose modes, unknown keys, no user name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testcert.h"
#include "util/credfile.h"

static char *DIR_;

static int setup(void **state)
{
    (void)state;
    DIR_ = testcert_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcert_rmdir(DIR_);
    return 0;
}

static const char *write_creds(const char *name, const char *text, unsigned mode)
{
    static char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", DIR_, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_samba_format(void **state)
{
    static const struct {
        const char *text, *user, *password, *domain;
    } CASES[] = {
        {"username = alice\npassword = s3cret = with equals \ndomain = EXAMPLE\n", "alice",
         "s3cret = with equals", "EXAMPLE"},
        {"# comment\n; other comment\n\nuser=bob\r\npass=pw\r\n", "bob", "pw", ""},
        {"username = EXAMPLE\\carol\npassword = x\n", "carol", "x", "EXAMPLE"},
        {"username = dave@EXAMPLE.COM\npassword = y\n", "dave", "y", "EXAMPLE.COM"},
        {"username = erin\nworkgroup = WG\n", "erin", "", "WG"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct credentials c;
        struct errbuf err = {""};
        const char *path = write_creds("ok", CASES[i].text, 0600);

        if (credfile_load(path, &c, &err) < 0)
            fail_msg("case %zu: %s", i, err.msg);
        assert_string_equal(c.username, CASES[i].user);
        assert_string_equal(c.password, CASES[i].password);
        assert_string_equal(c.domain, CASES[i].domain);
        credentials_wipe(&c);
        assert_int_equal(c.password[0], 0);
    }
}

static void test_refusals(void **state)
{
    static const struct {
        const char *text;
        unsigned mode;
        const char *why;
    } CASES[] = {
        {"username = a\npassword = topsecret\n", 0644, "readable by others (mode 0644)"},
        {"username = a\npassword = topsecret\n", 0640, "readable by its group (mode 0640)"},
        {"username = a\npassword = topsecret\n", 0604, "readable by others"},
        {"username = a\npassword = topsecret\nserver = fs\n", 0600, ":3: unknown key \"server\""},
        {"username a\n", 0600, ":1: expected \"key = value\""},
        {"password = topsecret\n", 0600, "no \"username =\" line"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct credentials c;
        struct errbuf err = {""};
        const char *path = write_creds("bad", CASES[i].text, CASES[i].mode);

        assert_int_equal(credfile_load(path, &c, &err), -1);
        if (!strstr(err.msg, CASES[i].why))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, CASES[i].why);
        assert_non_null(strstr(err.msg, path)); /* names the file */
        assert_null(strstr(err.msg, "topsecret"));
        assert_int_equal(c.password[0], 0); /* nothing half-loaded */
    }
}

static void test_not_a_file(void **state)
{
    struct credentials c;
    struct errbuf err = {""};
    char missing[4096];
    (void)state;

    assert_int_equal(credfile_load(DIR_, &c, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    snprintf(missing, sizeof(missing), "%s/none", DIR_);
    assert_int_equal(credfile_load(missing, &c, &err), -1);
    assert_non_null(strstr(err.msg, missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_samba_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
