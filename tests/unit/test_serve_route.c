/* Unit tests for src/serve/route.c: which backend a name routes to — exact names first, then a
 * "*.parent" pattern covering exactly one label — as a literal table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "serve/route.h"

static void test_table(void **state)
{
    struct route_table t = {0};
    struct errbuf err;
    static const struct {
        const char *pattern;
        size_t target;
    } routes[] = {
        {"www.example.com", 1}, {"*.example.com", 2}, {"*.api.example.com", 3},
        {"api.example.com", 4}, {"xn--bcher-kva.example", 5}, {"*.example.org", 6},
    };
    static const struct {
        const char *host;
        int found;
        size_t target;
    } cases[] = {
        {"www.example.com", 1, 1},      /* exact beats the pattern */
        {"shop.example.com", 1, 2},     /* one label under *.example.com */
        {"example.com", 0, 0},          /* a pattern does not cover its parent */
        {"a.shop.example.com", 0, 0},   /* nor two labels */
        {"api.example.com", 1, 4},      /* exact */
        {"v1.api.example.com", 1, 3},   /* its own pattern */
        {"xn--bcher-kva.example", 1, 5}, /* IDN in A-label form */
        {"a.example.org", 1, 6},
        {"a.example.net", 0, 0},
        {"com", 0, 0},
        {"", 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(route_add(&t, routes[i].pattern, routes[i].target, &err), 0);
    route_finish(&t);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t target = 99;
        int found = route_lookup(&t, cases[i].host, &target);
        if (found != cases[i].found || (found && target != cases[i].target))
            fail_msg("%s: expected %s %zu, got %s %zu", cases[i].host,
                     cases[i].found ? "route" : "no route", cases[i].target,
                     found ? "route" : "no route", target);
    }
    route_free(&t);
}

static void test_empty(void **state)
{
    struct route_table t = {0};
    size_t target = 7;

    (void)state;
    route_finish(&t);
    assert_int_equal(route_lookup(&t, "www.example.com", &target), 0);
    assert_int_equal(target, 7);
    route_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
