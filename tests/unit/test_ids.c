/* Unit tests for src/manage/ids.c: user and group names as ids, through the reentrant lookups,
 * against this system's real databases (root exists everywhere; the missing names are made up). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "manage/ids.h"

static void test_names_numbers_and_none(void **state)
{
    struct errbuf err;
    long id = 12345;

    (void)state;
    assert_int_equal(ids_user("root", &id, &err), 0);
    assert_int_equal(id, 0);
    id = 12345;
    assert_int_equal(ids_group("root", &id, &err), 0);
    assert_int_equal(id, 0);
    /* a plain decimal id is taken as it is, as chown(1) does, whether or not it has a name */
    assert_int_equal(ids_group("4242", &id, &err), 0);
    assert_int_equal(id, 4242);
    assert_int_equal(ids_user("4243", &id, &err), 0);
    assert_int_equal(id, 4243);
    /* no name: leave unchanged */
    assert_int_equal(ids_user(NULL, &id, &err), 0);
    assert_int_equal(id, -1);
    assert_int_equal(ids_group(NULL, &id, &err), 0);
    assert_int_equal(id, -1);
}

static void test_missing_names_are_named(void **state)
{
    struct errbuf err;
    long id;

    (void)state;
    assert_int_equal(ids_group("ccs-no-such-group", &id, &err), -1);
    assert_string_equal(err.msg, "no group \"ccs-no-such-group\" on this system");
    assert_int_equal(ids_user("ccs-no-such-user", &id, &err), -1);
    assert_string_equal(err.msg, "no user \"ccs-no-such-user\" on this system");
    /* not a plain number, so looked up by name (and not found) */
    assert_int_equal(ids_group("12ab", &id, &err), -1);
    assert_int_equal(ids_user("-1", &id, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_numbers_and_none),
        cmocka_unit_test(test_missing_names_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
