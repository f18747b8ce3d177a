/* Unit tests for src/store/resolve.c: the served rule (exact, wildcard one level up, none; a file
 * that exists decides), invalid hosts touching nothing, the NOWAIT protocol, and the ASCII fast
 * path agreeing with store_lookup_plan(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/resolve.h"
#include "teststore.h"

#define PASSWORD "resolve-store-pw"
/* Random hosts compared between the fast and the slow path. */
#define RANDOM_HOSTS 20000
#define RANDOM_HOST_MAX 80

struct fixture {
    struct test_store s; /* the scratch store, its CA and "now" */
    struct store_cache *cache;
    char exact[THUMBPRINT_HEX_LEN + 1], wild[THUMBPRINT_HEX_LEN + 1];
};

/* A PFX for a certificate naming SANS (no key when NO_KEY) under PASSWORD_ as FILE. */
static void put_pfx(struct fixture *f, const char *file, const char *sans, const char *password,
                    int no_key, char *thumb)
{
    teststore_put_leaf(&f->s, file, sans, password, no_key, thumb);
}

/* The store of tests/e2e/test_lookup.sh: www.example.com.pfx (naming www and other), and the
 * wildcard _.example.com.pfx. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err;

    if (!f || teststore_open(&f->s, "Resolve Test CA") < 0 ||
        store_cache_new(f->s.st, PASSWORD, NULL, &f->cache, &err) < 0)
        return -1;
    put_pfx(f, "www.example.com.pfx", "DNS:www.example.com,DNS:other.example.com", PASSWORD, 0,
            f->exact);
    put_pfx(f, "_.example.com.pfx", "DNS:*.example.com", PASSWORD, 0, f->wild);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_cache_free(f->cache);
    teststore_close(&f->s);
    free(f);
    return 0;
}

static void resolve(struct fixture *f, const char *host, unsigned flags, struct store_resolution *r)
{
    struct errbuf err;

    if (store_resolve(f->cache, host, strlen(host), flags, r, &err) < 0)
        fail_msg("resolve %s: %s", host, err.msg);
}

static struct store_cache_stats stats(struct fixture *f)
{
    struct store_cache_stats s;
    store_cache_stats(f->cache, &s);
    return s;
}

static void assert_why(const struct store_resolution *r, size_t i, const char *needle)
{
    char why[2 * ERRBUF_SIZE];

    store_resolve_candidate_why(r, i, why, sizeof(why));
    if (!strstr(why, needle))
        fail_msg("candidate %zu (%s): \"%s\" does not say \"%s\"", i, r->candidates[i].file, why,
                 needle);
}

/* The candidate's why does not name its file: the caller shows the file beside it. */
static void assert_why_lacks_file(const struct store_resolution *r, size_t i)
{
    char why[2 * ERRBUF_SIZE], file_colon[STORE_NAME_BUF + 16];

    store_resolve_candidate_why(r, i, why, sizeof(why));
    snprintf(file_colon, sizeof(file_colon), "%s: ", r->candidates[i].file);
    if (strstr(why, file_colon))
        fail_msg("candidate %zu: \"%s\" names its file again", i, why);
}

/* ---- the rule -------------------------------------------------------------------------------- */

static void test_exact_beats_wildcard(void **state)
{
    struct fixture *f = *state;
    struct store_resolution r;

    resolve(f, "WWW.Example.COM.", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_EXACT);
    assert_string_equal(r.file, "www.example.com.pfx");
    assert_non_null(r.cert);
    assert_string_equal(r.cert->insp.summary.thumbprint, f->exact);
    assert_int_equal(r.candidate_count, 2);
    assert_int_equal(r.candidates[0].outcome, STORE_CANDIDATE_SERVED);
    assert_int_equal(r.candidates[1].outcome, STORE_CANDIDATE_NOT_TRIED);
    assert_string_equal(r.candidates[1].file, "_.example.com.pfx");
    assert_why(&r, 1, "www.example.com.pfx exists");
    store_resolution_release(&r);
    assert_int_equal(stats(f).loads, 1); /* the wildcard file was never read */
}

static void test_wildcard_one_level_up(void **state)
{
    struct fixture *f = *state;
    struct store_resolution r;

    resolve(f, "a.example.com", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_WILDCARD);
    assert_string_equal(r.file, "_.example.com.pfx");
    assert_string_equal(r.cert->insp.summary.thumbprint, f->wild);
    assert_int_equal(r.candidates[0].outcome, STORE_CANDIDATE_ABSENT);
    assert_null(r.candidates[0].latest);
    assert_why(&r, 0, "no such file");
    assert_int_equal(r.candidates[1].outcome, STORE_CANDIDATE_SERVED);
    store_resolution_release(&r);

    /* Every host under the wildcard shares its one cache entry. */
    resolve(f, "b.example.com", 0, &r);
    assert_string_equal(r.cert->insp.summary.thumbprint, f->wild);
    store_resolution_release(&r);
    assert_int_equal(stats(f).entries, 1);
    assert_int_equal(stats(f).loads, 3); /* a.example.com (absent), _.example.com, b.example.com */
}

static void test_none(void **state)
{
    struct fixture *f = *state;
    struct store_resolution r;

    /* Two levels below the wildcard: only _.b.example.com.pfx is tried, never _.example.com.pfx. */
    resolve(f, "a.b.example.com", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_NONE);
    assert_null(r.file);
    assert_null(r.cert);
    assert_string_equal(r.candidates[0].file, "a.b.example.com.pfx");
    assert_string_equal(r.candidates[1].file, "_.b.example.com.pfx");
    assert_int_equal(r.candidates[1].outcome, STORE_CANDIDATE_ABSENT);
    store_resolution_release(&r);

    /* Never onto a single label: example.com has one candidate. */
    resolve(f, "example.com", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_NONE);
    assert_int_equal(r.candidate_count, 1);
    store_resolution_release(&r);
}

/* An exact file that exists but cannot be served is "none served", not the wildcard. */
static void check_no_fallthrough(struct fixture *f, enum store_cert_verdict verdict,
                                 const char *says)
{
    struct store_resolution r;

    resolve(f, "stray.example.com", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_EXACT);
    assert_string_equal(r.file, "stray.example.com.pfx");
    assert_null(r.cert);
    assert_int_equal(r.candidates[0].outcome, STORE_CANDIDATE_UNUSABLE);
    assert_int_equal(r.candidates[0].latest->verdict, verdict);
    assert_why(&r, 0, says);
    assert_why_lacks_file(&r, 0);
    assert_int_equal(r.candidates[1].outcome, STORE_CANDIDATE_NOT_TRIED);
    store_resolution_release(&r);
    assert_int_equal(stats(f).loads, 1); /* the wildcard file was never read */
}

static void test_exact_not_naming_the_host_is_not_a_fallthrough(void **state)
{
    struct fixture *f = *state;

    put_pfx(f, "stray.example.com.pfx", "DNS:www.example.com", PASSWORD, 0, NULL);
    check_no_fallthrough(f, STORE_CERT_WRONG_NAME, "does not name stray.example.com");
}

static void test_exact_with_wrong_password_is_not_a_fallthrough(void **state)
{
    struct fixture *f = *state;

    put_pfx(f, "stray.example.com.pfx", "DNS:stray.example.com", "not the store's", 0, NULL);
    check_no_fallthrough(f, STORE_CERT_DOES_NOT_OPEN, "wrong password");
}

static void test_exact_without_key_is_not_a_fallthrough(void **state)
{
    struct fixture *f = *state;

    put_pfx(f, "stray.example.com.pfx", "DNS:stray.example.com", PASSWORD, 1, NULL);
    check_no_fallthrough(f, STORE_CERT_NO_KEY, "no private key");
}

static void test_exact_symlink_is_not_a_fallthrough(void **state)
{
    struct fixture *f = *state;
    char path[4096];

    snprintf(path, sizeof(path), "%s/stray.example.com.pfx", f->s.dir);
    assert_int_equal(symlink("_.example.com.pfx", path), 0);
    check_no_fallthrough(f, STORE_CERT_UNREADABLE, "symbolic link");
}

static void test_last_good_is_served_and_said(void **state)
{
    struct fixture *f = *state;
    struct store_event ev = {.kind = STORE_EVENT_CHANGED, .name = "www.example.com.pfx"};
    struct store_resolution r;

    resolve(f, "www.example.com", 0, &r);
    store_resolution_release(&r);
    put_pfx(f, "www.example.com.pfx", "DNS:www.example.com", "not the store's", 0, NULL);
    store_cache_apply_event(f->cache, &ev);
    resolve(f, "www.example.com", 0, &r);
    assert_int_equal(r.rule, STORE_RESOLVE_EXACT);
    assert_string_equal(r.cert->insp.summary.thumbprint, f->exact);
    assert_int_equal(r.candidates[0].last_good, 1);
    assert_why(&r, 0, "previous certificate");
    assert_why(&r, 0, "wrong password");
    assert_why_lacks_file(&r, 0);
    store_resolution_release(&r);
}

/* ---- invalid hosts --------------------------------------------------------------------------- */

static void test_invalid_host_touches_nothing(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *host, *says;
    } cases[] = {
        {"../etc/passwd", "path separator"},
        {"a/b", "path separator"},
        {"a..b", "empty label"},
        {"*.example.com", "'*'"},
        {"127.0.0.1", "IP address"},
        {"::1", "IP address"},
        {"", "empty"},
        {"_.example.com", "'_'"},
        {"www.example.com:443", "':'"},
        {"-a.example.com", "hyphen"},
        {"a\nb.example.com", "control character"},
    };
    struct store_resolution r;
    struct errbuf err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(store_resolve(f->cache, cases[i].host, strlen(cases[i].host), 0, &r, &err),
                         -1);
        if (!strstr(err.msg, cases[i].says))
            fail_msg("%s: \"%s\" does not say %s", cases[i].host, err.msg, cases[i].says);
        store_resolution_release(&r);
    }
    /* Nothing reached the cache, so nothing reached the store. */
    assert_int_equal(stats(f).loads, 0);
    assert_int_equal(stats(f).misses, 0);
    assert_int_equal(stats(f).entries + stats(f).negative_entries, 0);
}

/* ---- NOWAIT ---------------------------------------------------------------------------------- */

static void test_nowait_asks_for_each_load(void **state)
{
    struct fixture *f = *state;
    struct store_resolution r;
    struct errbuf err;

    resolve(f, "a.example.com", STORE_CACHE_NOWAIT, &r);
    assert_null(r.cert);
    assert_string_equal(r.load_needed, "a.example.com.pfx");
    assert_int_equal(r.candidates[0].outcome, STORE_CANDIDATE_NOT_LOADED);
    assert_int_equal(r.candidates[1].outcome, STORE_CANDIDATE_NOT_TRIED);
    assert_int_equal(store_cache_load(f->cache, r.load_needed, &err), 0);
    store_resolution_release(&r);

    resolve(f, "a.example.com", STORE_CACHE_NOWAIT, &r);
    assert_null(r.cert);
    assert_string_equal(r.load_needed, "_.example.com.pfx");
    assert_int_equal(r.candidates[0].outcome, STORE_CANDIDATE_ABSENT);
    assert_int_equal(store_cache_load(f->cache, r.load_needed, &err), 0);
    store_resolution_release(&r);

    resolve(f, "a.example.com", STORE_CACHE_NOWAIT, &r);
    assert_non_null(r.cert);
    assert_int_equal(r.rule, STORE_RESOLVE_WILDCARD);
    assert_null(r.load_needed);
    store_resolution_release(&r);
    assert_int_equal(stats(f).loads, 2);
}

/* ---- the ASCII fast path --------------------------------------------------------------------- */

/* Both paths on HOST: whenever the fast one plans it, the slow one plans it identically. Returns
 * whether the fast path took it. */
static int compare_paths(const char *host, size_t len)
{
    static struct store_lookup_plan fast, slow; /* 4 KiB each: not on the stack */
    struct errbuf err;
    char shown[400];
    int took = store_resolve_plan_ascii(host, len, &fast);
    int rc = store_lookup_plan(host, len, &slow, &err);

    if (!took)
        return 0;
    store_name_escape(host, len, shown, sizeof(shown));
    if (rc < 0)
        fail_msg("fast path took \"%s\", store_lookup_plan refuses it: %s", shown, err.msg);
    if (fast.host.wildcard != slow.host.wildcard ||
        strcmp(fast.host.unicode, slow.host.unicode) != 0 ||
        strcmp(fast.host.ace, slow.host.ace) != 0 || strcmp(fast.host.file, slow.host.file) != 0 ||
        strcmp(fast.exact_file, slow.exact_file) != 0 ||
        strcmp(fast.wildcard_file, slow.wildcard_file) != 0)
        fail_msg("\"%s\": fast plan %s/%s/%s, slow plan %s/%s/%s", shown, fast.host.unicode,
                 fast.exact_file, fast.wildcard_file, slow.host.unicode, slow.exact_file,
                 slow.wildcard_file);
    return 1;
}

static void test_fast_path_agrees_on_a_table(void **state)
{
    /* Taken by the fast path (the common case must not pay for libidn2). */
    static const char *fast[] = {
        "www.example.com",
        "WWW.Example.COM.",
        "a.b.example.com",
        "example.com",
        "localhost",
        "a-b.example.com",
        "abc--d.example.com",
        "a_b.example.com",
        "_dmarc.example.com",
        "x.y",
        "a.",
        "1a.example",
        "123.example",
        "a.1.2.3",
        "xn-a.example",
        "a.b.c.d.e.f.g.h",
        "a23456789012345678901234567890123456789012345678901234567890123.com",
    };
    /* Left to the slow path: valid ones it plans its way, invalid ones it refuses in its words. */
    static const char *slow[] = {
        "xn--bcher-kva.example",
        "XN--BCHER-KVA.EXAMPLE",
        "bücher.example",
        "ab--cd.example",
        "-a.example",
        "a-.example",
        "a..b",
        ".a",
        "a..",
        "..",
        ".",
        "",
        "_",
        "_.example.com",
        "*.example.com",
        "a*.example",
        "127.0.0.1",
        "1.2.3.4.",
        "1.2.3",
        "::1",
        "[::1]",
        "a b",
        "a/b",
        "a\\b",
        "a:443",
        "a@b",
        "a\tb",
        "a234567890123456789012345678901234567890123456789012345678901234.com",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++)
        if (!compare_paths(fast[i], strlen(fast[i])))
            fail_msg("the fast path does not take \"%s\"", fast[i]);
    for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
        if (compare_paths(slow[i], strlen(slow[i])))
            fail_msg("the fast path takes \"%s\"", slow[i]);
}

static void test_fast_path_agrees_on_lengths(void **state)
{
    char host[DNS_NAME_MAX + 8];
    int took_longest = 0;

    (void)state;
    /* Labels of 50 and a growing last one: across the 251-octet file-name limit and 253. */
    for (size_t len = 200; len <= DNS_NAME_MAX + 4; len++) {
        memset(host, 'a', len);
        for (size_t i = 50; i < len; i += 51)
            host[i] = '.';
        if (compare_paths(host, len))
            took_longest = (int)len;
    }
    assert_int_equal(took_longest, STORE_FILE_NAME_MAX - 4);
}

static void test_fast_path_agrees_on_random_hosts(void **state)
{
    static const char alphabet[] = "abcxyzABXZ0129-_..";
    char host[RANDOM_HOST_MAX];
    unsigned seed = 7, taken = 0;

    (void)state;
    for (int n = 0; n < RANDOM_HOSTS; n++) {
        size_t len = 1 + (size_t)rand_r(&seed) % (RANDOM_HOST_MAX - 1);
        for (size_t i = 0; i < len; i++)
            host[i] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
        if (rand_r(&seed) % 8 == 0 && len > 6)
            memcpy(host + (size_t)rand_r(&seed) % (len - 4), "xn--", 4);
        taken += (unsigned)compare_paths(host, len);
    }
    /* The comparison means something only if the fast path took a fair share. */
    assert_true(taken > RANDOM_HOSTS / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_beats_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard_one_level_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_not_naming_the_host_is_not_a_fallthrough, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exact_with_wrong_password_is_not_a_fallthrough, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exact_without_key_is_not_a_fallthrough, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exact_symlink_is_not_a_fallthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_good_is_served_and_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_host_touches_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_asks_for_each_load, setup, teardown),
        cmocka_unit_test(test_fast_path_agrees_on_a_table),
        cmocka_unit_test(test_fast_path_agrees_on_lengths),
        cmocka_unit_test(test_fast_path_agrees_on_random_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
