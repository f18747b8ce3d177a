/* Unit tests for src/store/smb_location.c: the three forms of a share's location, what is refused,
 * what may be shown, and the URLs libsmbclient is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/smb_location.h"

struct good {
    const char *location, *host;
    unsigned port;
    const char *share, *dir, *url;
};

static const struct good GOOD[] = {
    {"\\\\fs\\certs\\ccs", "fs", 445, "certs", "ccs", "smb://fs:445/certs/ccs"},
    {"//fs/certs/ccs", "fs", 445, "certs", "ccs", "smb://fs:445/certs/ccs"},
    {"smb://fs/certs/ccs", "fs", 445, "certs", "ccs", "smb://fs:445/certs/ccs"},
    {"smb://fs:4450/certs/a/b/", "fs", 4450, "certs", "a/b", "smb://fs:4450/certs/a/b"},
    {"\\\\fs.example.com\\IIS Certs", "fs.example.com", 445, "IIS Certs", "",
     "smb://fs.example.com:445/IIS%20Certs"},
    {"//10.0.0.5/c$/ccs", "10.0.0.5", 445, "c$", "ccs", "smb://10.0.0.5:445/c%24/ccs"},
    {"smb://[::1]:4450/rw/x", "::1", 4450, "rw", "x", "smb://[::1]:4450/rw/x"},
    {"smb://fs/a%20b/c%25d", "fs", 445, "a b", "c%d", "smb://fs:445/a%20b/c%25d"},
    {"\\\\fs\\share\\mixed/separators\\ok", "fs", 445, "share", "mixed/separators/ok",
     "smb://fs:445/share/mixed/separators/ok"},
};

struct bad {
    const char *location, *why;
};

static const struct bad BAD[] = {
    {"smb://alice:secret@fs/certs", "must not carry a user name or password"},
    {"\\\\alice@fs\\certs", "must not carry a user name or password"},
    {"//fs", "no share named"},
    {"//fs/", "no share named"},
    {"smb:///certs", "no server named"},
    {"smb://fs:0/certs", "port is not a number"},
    {"smb://fs:70000/certs", "port is not a number"},
    {"smb://fs:44x/certs", "port is not a number"},
    {"//fs/certs/../etc", "\"..\""},
    {"//fs/certs/./x", "\"..\""},
    {"//fs/certs//x", "empty"},
    {"smb://fs/certs/%2", "control character"},
    {"smb://fs/certs/a%00b", "control character"},
    {"smb://[::1/certs", "closing \"]\""},
    {"/srv/ccs", "not an SMB location"},
    {"smb://user%40fs/certs", "not a host name"}, /* a decoded '@' would be user info */
    {"smb://fs%2Fx/certs", "not a host name"},
    {"//fs:445/certs", "not a host name"}, /* only the URL form has a port */
};

static void test_good_locations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(GOOD) / sizeof(GOOD[0]); i++) {
        const struct good *g = &GOOD[i];
        struct smb_location loc;
        struct errbuf err = {""};
        char url[2048];

        if (smb_location_parse(g->location, &loc, &err) < 0)
            fail_msg("%s: %s", g->location, err.msg);
        assert_string_equal(loc.host, g->host);
        assert_int_equal(loc.port, g->port);
        assert_string_equal(loc.share, g->share);
        assert_string_equal(loc.dir, g->dir);
        assert_int_equal(smb_location_url(&loc, NULL, url, sizeof(url)), 0);
        assert_string_equal(url, g->url);
    }
}

static void test_bad_locations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        struct smb_location loc;
        struct errbuf err = {""};

        if (smb_location_parse(BAD[i].location, &loc, &err) == 0)
            fail_msg("%s: accepted", BAD[i].location);
        if (!strstr(err.msg, BAD[i].why))
            fail_msg("%s: \"%s\" does not say \"%s\"", BAD[i].location, err.msg, BAD[i].why);
        /* never the user or the password */
        assert_null(strstr(err.msg, "alice"));
        assert_null(strstr(err.msg, "secret"));
    }
}

static void test_display_drops_credentials(void **state)
{
    static const char *const CASES[][2] = {
        {"smb://alice:secret@fs/certs", "smb://fs/certs"},
        {"smb://alice:p@ss@fs:4450/certs", "smb://fs:4450/certs"}, /* the last '@' ends it */
        {"\\\\DOM;alice@fs\\certs", "\\\\fs\\certs"},
        {"//fs/certs/user@dir", "//fs/certs/user@dir"}, /* an '@' in the path is no user */
        {"\\\\fs\\certs", "\\\\fs\\certs"},
        {"", ""}, /* shorter than any scheme: found by the fuzzer, read past the end */
        {"/", "/"},
        {"\\", "\\"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        char shown[256];
        smb_location_display(CASES[i][0], shown, sizeof(shown));
        assert_string_equal(shown, CASES[i][1]);
    }
}

static void test_url_of_a_file(void **state)
{
    struct smb_location loc;
    struct errbuf err;
    char url[2048], tiny[24];
    (void)state;

    assert_int_equal(smb_location_parse("\\\\fs\\certs\\ccs", &loc, &err), 0);
    assert_int_equal(smb_location_url(&loc, "_.example.com.pfx", url, sizeof(url)), 0);
    assert_string_equal(url, "smb://fs:445/certs/ccs/_.example.com.pfx");
    assert_int_equal(smb_location_url(&loc, "b\xc3\xbc" "cher.example.pfx", url, sizeof(url)), 0);
    assert_string_equal(url, "smb://fs:445/certs/ccs/b%C3%BCcher.example.pfx");
    /* too small: refused, never cut */
    assert_int_equal(smb_location_url(&loc, "_.example.com.pfx", tiny, sizeof(tiny)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_locations),
        cmocka_unit_test(test_bad_locations),
        cmocka_unit_test(test_display_drops_credentials),
        cmocka_unit_test(test_url_of_a_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
