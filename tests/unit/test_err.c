/* Unit tests for src/util/err.c: errmsg_after_name, which keeps a name from being said twice
 * ("www.pfx: /srv/store/www.pfx: Permission denied"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"

static void test_after_name(void **state)
{
    static const struct {
        const char *msg, *name, *want;
    } cases[] = {
        /* the name alone, or at the end of a path, as the subject: dropped */
        {"www.pfx: wrong password", "www.pfx", "wrong password"},
        {"/srv/store/www.pfx: Permission denied", "www.pfx", "Permission denied"},
        {"store/sym.pfx: is a symbolic link", "sym.pfx", "is a symbolic link"},
        {"smb://fs1/certs/www.pfx: access denied", "www.pfx", "access denied"},
        {"\\\\fs1\\certs\\www.pfx: access denied", "www.pfx", "access denied"},
        /* another file, or the name inside the message rather than its subject: kept */
        {"xwww.pfx: Permission denied", "www.pfx", "xwww.pfx: Permission denied"},
        {"/srv/www.pfx.tmp: No space left", "www.pfx", "/srv/www.pfx.tmp: No space left"},
        {"cannot rename: www.pfx: busy", "www.pfx", "cannot rename: www.pfx: busy"},
        {"the certificate does not name www.pfx", "www.pfx",
         "the certificate does not name www.pfx"},
        {"www.pfx", "www.pfx", "www.pfx"},
        {"pfx: short", "www.pfx", "pfx: short"},
        {"www.pfx: x", "", "www.pfx: x"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = errmsg_after_name(cases[i].msg, cases[i].name);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("\"%s\" after \"%s\": got \"%s\", want \"%s\"", cases[i].msg, cases[i].name,
                     got, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
