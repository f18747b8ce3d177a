/* Unit tests for src/util/strmap.c: the string → index map the configuration looks names up in.
 * Checked against a plain linear search over the same keys, through growth, with keys that
 * differ in one character, and at the limits (an empty map, a value too large). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strmap.h"

/* Enough keys to grow the table from its first size many times over. */
#define MANY 20000

static void test_empty(void **state)
{
    struct strmap m = STRMAP_INIT;
    size_t v = 7;
    (void)state;

    assert_int_equal(strmap_get(&m, "a", &v), 0);
    assert_int_equal(strmap_get(&m, "", NULL), 0);
    assert_int_equal(v, 7); /* untouched when not found */
    strmap_free(&m);
    strmap_free(&m); /* twice is harmless */
}

static void test_put_get_first_wins(void **state)
{
    struct strmap m = STRMAP_INIT;
    char again[] = "www"; /* equal text, other storage: compared by content */
    size_t v = 0;
    (void)state;

    assert_int_equal(strmap_put(&m, "www", 3, NULL), 0);
    assert_int_equal(strmap_put(&m, "mail", 5, NULL), 0);
    assert_int_equal(strmap_put(&m, "", 9, NULL), 0); /* the empty name is a key like any */
    assert_int_equal(strmap_put(&m, again, 4, &v), 1);
    assert_int_equal(v, 3);
    assert_int_equal(m.count, 3);
    assert_int_equal(strmap_get(&m, "www", &v), 1);
    assert_int_equal(v, 3); /* the first value stays */
    assert_int_equal(strmap_get(&m, "mail", &v), 1);
    assert_int_equal(v, 5);
    assert_int_equal(strmap_get(&m, "", &v), 1);
    assert_int_equal(v, 9);
    assert_int_equal(strmap_get(&m, "ww", NULL), 0);
    assert_int_equal(strmap_get(&m, "wwww", NULL), 0);
    assert_int_equal(strmap_get(&m, "WWW", NULL), 0); /* case matters */
    strmap_free(&m);
}

/* MANY keys that differ only in their last characters, as generated names do (cert-00001,
 * cert-00002...): every one found with its own value, none found that was not put, and the
 * table never more than half full. */
static void test_many_against_linear(void **state)
{
    struct strmap m = STRMAP_INIT;
    char(*keys)[32] = calloc(MANY, sizeof(*keys));
    (void)state;

    assert_non_null(keys);
    for (size_t i = 0; i < MANY; i++) {
        snprintf(keys[i], sizeof(keys[i]), "cert-%05zu.example", i);
        assert_int_equal(strmap_put(&m, keys[i], i, NULL), 0);
        assert_true(m.count <= m.cap / 2);
    }
    assert_int_equal(m.count, MANY);
    for (size_t i = 0; i < MANY; i++) {
        size_t v = SIZE_MAX;
        char other[40];
        assert_int_equal(strmap_get(&m, keys[i], &v), 1);
        assert_int_equal(v, i);
        if (i % 97 == 0) { /* a linear search, for a sample: the reference */
            size_t linear = 0;
            while (strcmp(keys[linear], keys[i]) != 0)
                linear++;
            assert_int_equal(v, linear);
        }
        snprintf(other, sizeof(other), "cert-%05zu.example.", i);
        assert_int_equal(strmap_get(&m, other, NULL), 0);
        snprintf(other, sizeof(other), "cert-%05zu.exampl", i);
        assert_int_equal(strmap_get(&m, other, NULL), 0);
    }
    /* Putting them again changes nothing and reports each as there. */
    for (size_t i = 0; i < MANY; i += 101) {
        size_t v = SIZE_MAX;
        assert_int_equal(strmap_put(&m, keys[i], 0, &v), 1);
        assert_int_equal(v, i);
    }
    assert_int_equal(m.count, MANY);
    strmap_free(&m);
    free(keys);
}

static void test_reserve(void **state)
{
    struct strmap m = STRMAP_INIT;
    size_t cap;
    (void)state;

    assert_int_equal(strmap_reserve(&m, 1000), 0);
    cap = m.cap;
    assert_true(cap >= 2000);
    assert_int_equal(cap & (cap - 1), 0); /* a power of two */
    assert_int_equal(strmap_put(&m, "a", 1, NULL), 0);
    assert_int_equal(strmap_reserve(&m, 10), 0); /* never shrinks */
    assert_int_equal(m.cap, cap);
    assert_int_equal(strmap_get(&m, "a", NULL), 1);
    strmap_free(&m);
}

static void test_value_too_large(void **state)
{
    struct strmap m = STRMAP_INIT;
    (void)state;

#if SIZE_MAX > UINT32_MAX
    errno = 0;
    assert_int_equal(strmap_put(&m, "big", (size_t)STRMAP_VALUE_MAX + 1, NULL), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(strmap_get(&m, "big", NULL), 0);
#endif
    assert_int_equal(strmap_put(&m, "max", STRMAP_VALUE_MAX, NULL), 0);
    {
        size_t v = 0;
        assert_int_equal(strmap_get(&m, "max", &v), 1);
        assert_int_equal(v, (size_t)STRMAP_VALUE_MAX);
    }
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_put_get_first_wins),
        cmocka_unit_test(test_many_against_linear),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_value_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
