/* Unit tests for src/store/cache.c against a local store in a temp directory, with real PFX files:
 * invalidation, last-good, bounds, coalesced loads, stale-while-revalidate, NOWAIT. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pfxforge.h"
#include "store/cache.h"
#include "teststore.h"

#define PASSWORD "cache-store-pw"
/* How long a test waits for another thread before calling it a failure rather than hanging. */
#define WAIT_LIMIT_S 5
#define COALESCE_THREADS 4
/* The TTLs of the timer tests: long enough that a write and a lookup (slow under a sanitizer) fit
 * well inside one, short enough to wait out twice. */
#define TTL_MS 250

enum hook_mode {
    HOOK_NONE,
    HOOK_BLOCK,        /* post `started`, then wait for `go` (at most WAIT_LIMIT_S) */
    HOOK_WAIT_WAITERS, /* wait until COALESCE_THREADS - 1 lookups wait for this load */
};

struct fixture {
    struct test_store s; /* the scratch store, its CA and "now" */
    struct store_cache *cache;
    /* the report callback */
    pthread_mutex_t report_lock;
    int reports;
    char report_file[STORE_FILE_NAME_MAX + 1];
    char report_message[2 * ERRBUF_SIZE];
    /* the load hook */
    enum hook_mode hook;
    atomic_int hook_calls;
    sem_t started, go;
};

static void on_report(void *arg, const char *file, const char *message)
{
    struct fixture *f = arg;

    pthread_mutex_lock(&f->report_lock);
    f->reports++;
    snprintf(f->report_file, sizeof(f->report_file), "%s", file);
    snprintf(f->report_message, sizeof(f->report_message), "%s", message);
    pthread_mutex_unlock(&f->report_lock);
}

static void timed_wait(sem_t *sem)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_LIMIT_S;
    while (sem_timedwait(sem, &deadline) < 0 && errno == EINTR)
        ;
}

static void on_load(void *arg, const char *file)
{
    struct fixture *f = arg;
    struct store_cache_stats s;

    (void)file;
    atomic_fetch_add(&f->hook_calls, 1);
    if (f->hook == HOOK_BLOCK) {
        sem_post(&f->started);
        timed_wait(&f->go);
    } else if (f->hook == HOOK_WAIT_WAITERS) {
        for (int i = 0; i < WAIT_LIMIT_S * 1000; i++) {
            store_cache_stats(f->cache, &s);
            if (s.coalesced >= COALESCE_THREADS - 1)
                return;
            usleep(1000);
        }
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    pthread_mutex_init(&f->report_lock, NULL);
    sem_init(&f->started, 0, 0);
    sem_init(&f->go, 0, 0);
    if (teststore_open(&f->s, "Cache Test CA") < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_cache_free(f->cache);
    teststore_close(&f->s);
    pthread_mutex_destroy(&f->report_lock);
    sem_destroy(&f->started);
    sem_destroy(&f->go);
    free(f);
    return 0;
}

/* The fixture's cache with OPTS (NULL: defaults), reporting and hooking into the fixture. */
static void make_cache(struct fixture *f, const struct store_cache_options *opts)
{
    struct store_cache_options o = {0};
    struct errbuf err;

    if (opts)
        o = *opts;
    o.report = on_report;
    o.report_arg = f;
    o.load_hook = on_load;
    o.load_hook_arg = f;
    if (store_cache_new(f->s.st, PASSWORD, &o, &f->cache, &err) < 0)
        fail_msg("cache: %s", err.msg);
}

static void put_bytes(struct fixture *f, const char *file, const unsigned char *data, size_t len)
{
    teststore_put(&f->s, file, data, len);
}

/* The PFX of a new certificate naming SANS, under PASSWORD; its thumbprint into THUMB (or NULL). */
static struct bytes leaf_pfx(struct fixture *f, const char *sans, const char *password, char *thumb)
{
    return teststore_leaf_pfx(&f->s, sans, password, 0, thumb);
}

/* Such a PFX written as FILE. */
static void put_pfx(struct fixture *f, const char *file, const char *sans, const char *password,
                    char *thumb)
{
    struct bytes data = leaf_pfx(f, sans, password, thumb);

    put_bytes(f, file, data.data, data.len);
    bytes_free(&data);
}

static struct store_cache_answer get(struct fixture *f, const char *file, unsigned flags)
{
    struct store_cache_answer a;
    struct errbuf err;

    if (store_cache_get(f->cache, file, flags, &a, &err) < 0)
        fail_msg("get %s: %s", file, err.msg);
    return a;
}

/* The thumbprint FILE serves now ("" when nothing is served). */
static const char *served(struct fixture *f, const char *file, char out[THUMBPRINT_HEX_LEN + 1])
{
    struct store_cache_answer a = get(f, file, 0);

    snprintf(out, THUMBPRINT_HEX_LEN + 1, "%s", a.serve ? a.serve->insp.summary.thumbprint : "");
    store_cache_answer_release(&a);
    return out;
}

static struct store_cache_stats stats(struct fixture *f)
{
    struct store_cache_stats s;
    store_cache_stats(f->cache, &s);
    return s;
}

static void event(struct fixture *f, enum store_event_kind kind, const char *file)
{
    struct store_event ev = {.kind = kind};
    snprintf(ev.name, sizeof(ev.name), "%s", file);
    store_cache_apply_event(f->cache, &ev);
}

/* ---- invalidation ---------------------------------------------------------------------------- */

static void test_changed_serves_the_new_file(void **state)
{
    struct fixture *f = *state;
    char t1[THUMBPRINT_HEX_LEN + 1], t2[THUMBPRINT_HEX_LEN + 1], got[THUMBPRINT_HEX_LEN + 1];
    struct store_events evs = {0};

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
    assert_int_equal(stats(f).loads, 1);
    assert_int_equal(stats(f).hits, 1);

    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t2);
    assert_string_not_equal(t1, t2);
    /* No event yet: the cache answers without reading the store. */
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
    assert_int_equal(stats(f).loads, 1);

    store_events_add(&evs, STORE_EVENT_CHANGED, "a.example.com.pfx");
    store_cache_apply(f->cache, &evs);
    store_events_free(&evs);
    assert_string_equal(served(f, "a.example.com.pfx", got), t2);
    assert_int_equal(stats(f).loads, 2);
    assert_int_equal(f->reports, 0);
}

static void test_removed_stops_serving(void **state)
{
    struct fixture *f = *state;
    char t1[THUMBPRINT_HEX_LEN + 1];
    struct store_cache_answer held, a;
    struct errbuf err;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    held = get(f, "a.example.com.pfx", 0);
    assert_non_null(held.serve);

    assert_int_equal(store_remove(f->s.st, "a.example.com.pfx", &err), 0);
    event(f, STORE_EVENT_REMOVED, "a.example.com.pfx");
    /* Absent at once, without a read: even a lookup that may not load gets "absent". */
    a = get(f, "a.example.com.pfx", STORE_CACHE_NOWAIT);
    assert_int_equal(a.state, STORE_CACHE_ABSENT);
    assert_null(a.serve);
    assert_int_equal(a.want_load, 0);
    assert_int_equal(stats(f).loads, 1);
    /* A reference taken before the removal stays valid (ASan would catch a use after free). */
    assert_string_equal(held.serve->insp.summary.thumbprint, t1);
    store_cache_answer_release(&held);
}

static void test_rescan_reloads_and_forgets_absent(void **state)
{
    struct fixture *f = *state;
    char t1[THUMBPRINT_HEX_LEN + 1], got[THUMBPRINT_HEX_LEN + 1];
    struct store_cache_answer a;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    served(f, "a.example.com.pfx", got);
    a = get(f, "b.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_ABSENT);
    assert_int_equal(stats(f).negative_entries, 1);

    put_pfx(f, "b.example.com.pfx", "DNS:b.example.com", PASSWORD, NULL);
    event(f, STORE_EVENT_RESCAN, "");
    assert_int_equal(stats(f).negative_entries, 0);
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
    assert_int_equal(stats(f).loads, 3); /* a, b, a again after the rescan */
    a = get(f, "b.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_PRESENT);
    assert_non_null(a.serve);
    store_cache_answer_release(&a);
}

/* ---- last-good ------------------------------------------------------------------------------- */

/* Replace a.example.com.pfx with DATA, apply CHANGED: the old certificate stays served, the new
 * result is what the last load found, and the report names the file. */
static void check_last_good(struct fixture *f, const unsigned char *data, size_t len,
                            enum store_cert_verdict want_verdict, enum pfx_status want_status)
{
    char t1[THUMBPRINT_HEX_LEN + 1];
    struct store_cache_answer a;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    a = get(f, "a.example.com.pfx", 0);
    store_cache_answer_release(&a);

    put_bytes(f, "a.example.com.pfx", data, len);
    event(f, STORE_EVENT_CHANGED, "a.example.com.pfx");
    a = get(f, "a.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_PRESENT);
    assert_non_null(a.serve);
    assert_string_equal(a.serve->insp.summary.thumbprint, t1);
    assert_ptr_not_equal(a.latest, a.serve);
    assert_int_equal(a.latest->verdict, want_verdict);
    assert_int_equal(a.latest->insp.status, want_status);
    assert_non_null(strstr(a.latest->why, "a.example.com.pfx"));
    store_cache_answer_release(&a);

    assert_int_equal(f->reports, 1);
    assert_string_equal(f->report_file, "a.example.com.pfx");
    assert_non_null(strstr(f->report_message, "a.example.com.pfx"));
    assert_non_null(strstr(f->report_message, t1));
    assert_non_null(strstr(f->report_message, "stays in service"));
    assert_int_equal(stats(f).load_failures, 1);

    /* Still served on the next lookup, without another read. */
    a = get(f, "a.example.com.pfx", 0);
    assert_string_equal(a.serve->insp.summary.thumbprint, t1);
    store_cache_answer_release(&a);
    assert_int_equal(stats(f).loads, 2);
}

static void test_last_good_on_truncated_replacement(void **state)
{
    struct fixture *f = *state;
    struct bytes data = leaf_pfx(f, "DNS:a.example.com", PASSWORD, NULL);

    check_last_good(f, data.data, data.len / 2, STORE_CERT_DOES_NOT_OPEN, PFX_TRUNCATED);
    bytes_free(&data);
}

static void test_last_good_on_wrong_password_replacement(void **state)
{
    struct fixture *f = *state;
    struct bytes data = leaf_pfx(f, "DNS:a.example.com", "another password", NULL);

    check_last_good(f, data.data, data.len, STORE_CERT_DOES_NOT_OPEN, PFX_WRONG_PASSWORD);
    bytes_free(&data);
}

/* A replacement that opens, under the right password, but whose private key belongs to another
 * certificate (a writer that paired the wrong files): the previous certificate stays in service.
 * Built with pfxforge, since ccs's own encoder refuses such a pair. */
static void test_last_good_on_key_mismatch_replacement(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle leaf, other;
    struct pfxforge forge = {.bundle = &leaf, .password = PASSWORD};
    struct bytes data;
    EVP_PKEY *key;

    testcert_leaf(&leaf, &f->s.ca, "store test", "DNS:a.example.com", f->s.now - 3600,
                  f->s.now + 90 * 86400L);
    testcert_leaf(&other, &f->s.ca, "store test", "DNS:a.example.com", f->s.now - 3600,
                  f->s.now + 90 * 86400L);
    key = leaf.key;
    leaf.key = other.key;
    other.key = key;
    pfxforge(&forge, &data);
    pfx_bundle_free(&leaf);
    pfx_bundle_free(&other);
    check_last_good(f, data.data, data.len, STORE_CERT_KEY_MISMATCH, PFX_OK);
    bytes_free(&data);
}

static void test_unusable_first_load_is_reported_and_cached(void **state)
{
    struct fixture *f = *state;
    struct store_cache_answer a;

    make_cache(f, NULL);
    /* The certificate names another host: the file exists, nothing in it is usable. */
    put_pfx(f, "a.example.com.pfx", "DNS:b.example.com", PASSWORD, NULL);
    a = get(f, "a.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_PRESENT);
    assert_null(a.serve);
    assert_int_equal(a.latest->verdict, STORE_CERT_WRONG_NAME);
    assert_non_null(strstr(a.latest->why, "does not name a.example.com"));
    store_cache_answer_release(&a);
    assert_int_equal(f->reports, 1);
    assert_null(strstr(f->report_message, "stays in service"));
    /* Cached like any result: a flood of lookups for it does not parse it again. */
    a = get(f, "a.example.com.pfx", 0);
    store_cache_answer_release(&a);
    assert_int_equal(stats(f).loads, 1);
}

static void test_unreadable_is_retried(void **state)
{
    struct fixture *f = *state;
    struct store_cache_options o = {.unreadable_retry_ms = TTL_MS};
    char path[4096], got[THUMBPRINT_HEX_LEN + 1], t1[THUMBPRINT_HEX_LEN + 1];
    struct bytes data = leaf_pfx(f, "DNS:a.example.com", PASSWORD, t1); /* before the clock runs */
    struct store_cache_answer a;

    make_cache(f, &o);
    snprintf(path, sizeof(path), "%s/a.example.com.pfx", f->s.dir);
    assert_int_equal(symlink("elsewhere.pfx", path), 0);
    a = get(f, "a.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_PRESENT);
    assert_int_equal(a.latest->verdict, STORE_CERT_UNREADABLE);
    assert_non_null(strstr(a.latest->why, "a.example.com.pfx"));
    store_cache_answer_release(&a);

    unlink(path);
    put_bytes(f, "a.example.com.pfx", data.data, data.len);
    bytes_free(&data);
    /* No event: within the retry interval the cached verdict stands, after it the file is read. */
    assert_string_equal(served(f, "a.example.com.pfx", got), "");
    usleep(2 * TTL_MS * 1000);
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
}

/* ---- bounds ---------------------------------------------------------------------------------- */

static void test_negative_cache_is_bounded(void **state)
{
    struct fixture *f = *state;
    struct store_cache_options o = {.max_negative = 4};
    struct store_cache_answer a;
    char file[64];

    make_cache(f, &o);
    for (int i = 0; i < 10; i++) {
        snprintf(file, sizeof(file), "miss%d.example.com.pfx", i);
        a = get(f, file, 0);
        assert_int_equal(a.state, STORE_CACHE_ABSENT);
    }
    assert_int_equal(stats(f).negative_entries, 4);
    assert_int_equal(stats(f).evictions, 6);
    assert_int_equal(stats(f).loads, 10);
    /* The most recent misses are answered without a read; the oldest was recycled. */
    a = get(f, "miss9.example.com.pfx", 0);
    assert_int_equal(a.state, STORE_CACHE_ABSENT);
    assert_int_equal(stats(f).negative_hits, 1);
    assert_int_equal(stats(f).loads, 10);
    a = get(f, "miss0.example.com.pfx", 0);
    assert_int_equal(stats(f).loads, 11);
    assert_int_equal(stats(f).negative_entries, 4);
}

static void test_negative_ttl(void **state)
{
    struct fixture *f = *state;
    struct store_cache_options o = {.negative_ttl_ms = TTL_MS};
    char got[THUMBPRINT_HEX_LEN + 1], t1[THUMBPRINT_HEX_LEN + 1];
    struct bytes data = leaf_pfx(f, "DNS:a.example.com", PASSWORD, t1); /* before the clock runs */

    make_cache(f, &o);
    assert_string_equal(served(f, "a.example.com.pfx", got), "");
    put_bytes(f, "a.example.com.pfx", data.data, data.len);
    bytes_free(&data);
    assert_string_equal(served(f, "a.example.com.pfx", got), ""); /* cached absence */
    usleep(2 * TTL_MS * 1000);
    assert_string_equal(served(f, "a.example.com.pfx", got), t1);
}

static void test_lru_evicts_least_recently_used(void **state)
{
    struct fixture *f = *state;
    struct store_cache_options o = {.max_entries = 2};
    char ta[THUMBPRINT_HEX_LEN + 1], tb[THUMBPRINT_HEX_LEN + 1], tc[THUMBPRINT_HEX_LEN + 1];
    char got[THUMBPRINT_HEX_LEN + 1];

    make_cache(f, &o);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, ta);
    put_pfx(f, "b.example.com.pfx", "DNS:b.example.com", PASSWORD, tb);
    put_pfx(f, "c.example.com.pfx", "DNS:c.example.com", PASSWORD, tc);
    served(f, "a.example.com.pfx", got);
    served(f, "b.example.com.pfx", got);
    served(f, "a.example.com.pfx", got); /* a is now more recent than b */
    assert_string_equal(served(f, "c.example.com.pfx", got), tc);
    assert_int_equal(stats(f).entries, 2);
    assert_int_equal(stats(f).evictions, 1);
    assert_int_equal(stats(f).loads, 3);
    assert_string_equal(served(f, "a.example.com.pfx", got), ta); /* kept */
    assert_int_equal(stats(f).loads, 3);
    assert_string_equal(served(f, "b.example.com.pfx", got), tb); /* evicted: read again */
    assert_int_equal(stats(f).loads, 4);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

struct racer {
    struct fixture *f;
    pthread_barrier_t *barrier;
    const char *file;
    unsigned flags;
    struct store_cache_answer answer;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct errbuf err;

    if (r->barrier)
        pthread_barrier_wait(r->barrier);
    r->rc = store_cache_get(r->f->cache, r->file, r->flags, &r->answer, &err);
    return NULL;
}

static void test_concurrent_loads_are_coalesced(void **state)
{
    struct fixture *f = *state;
    pthread_barrier_t barrier;
    pthread_t threads[COALESCE_THREADS];
    struct racer racers[COALESCE_THREADS];
    char t1[THUMBPRINT_HEX_LEN + 1];

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    /* The load waits until every other lookup waits for it, so they all needed it at once. */
    f->hook = HOOK_WAIT_WAITERS;
    pthread_barrier_init(&barrier, NULL, COALESCE_THREADS);
    for (int i = 0; i < COALESCE_THREADS; i++) {
        racers[i] = (struct racer){.f = f, .barrier = &barrier, .file = "a.example.com.pfx"};
        pthread_create(&threads[i], NULL, race, &racers[i]);
    }
    for (int i = 0; i < COALESCE_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    assert_int_equal(atomic_load(&f->hook_calls), 1); /* one read, one parse */
    assert_int_equal(stats(f).loads, 1);
    assert_int_equal(stats(f).coalesced, COALESCE_THREADS - 1);
    for (int i = 0; i < COALESCE_THREADS; i++) {
        assert_int_equal(racers[i].rc, 0);
        assert_non_null(racers[i].answer.serve);
        assert_ptr_equal(racers[i].answer.serve, racers[0].answer.serve);
    }
    for (int i = 0; i < COALESCE_THREADS; i++)
        store_cache_answer_release(&racers[i].answer);
}

static void test_stale_is_served_while_reloading(void **state)
{
    struct fixture *f = *state;
    char t1[THUMBPRINT_HEX_LEN + 1], t2[THUMBPRINT_HEX_LEN + 1], got[THUMBPRINT_HEX_LEN + 1];
    struct racer reloader = {.f = f, .file = "a.example.com.pfx"};
    struct store_cache_answer a;
    pthread_t thread;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    served(f, "a.example.com.pfx", got);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t2);
    event(f, STORE_EVENT_CHANGED, "a.example.com.pfx");

    f->hook = HOOK_BLOCK;
    pthread_create(&thread, NULL, race, &reloader);
    timed_wait(&f->started);
    /* The reload is stuck in its read: this lookup must not wait for it. */
    a = get(f, "a.example.com.pfx", 0);
    assert_non_null(a.serve);
    assert_string_equal(a.serve->insp.summary.thumbprint, t1);
    assert_int_equal(a.stale, 1);
    store_cache_answer_release(&a);
    assert_int_equal(stats(f).stale_hits, 1);

    sem_post(&f->go);
    pthread_join(thread, NULL);
    f->hook = HOOK_NONE;
    assert_int_equal(reloader.rc, 0);
    assert_string_equal(reloader.answer.serve->insp.summary.thumbprint, t2);
    store_cache_answer_release(&reloader.answer);
    a = get(f, "a.example.com.pfx", 0);
    assert_string_equal(a.serve->insp.summary.thumbprint, t2);
    assert_int_equal(a.stale, 0);
    store_cache_answer_release(&a);
}

static void test_removed_during_load_wins(void **state)
{
    struct fixture *f = *state;
    struct racer loader = {.f = f, .file = "a.example.com.pfx"};
    struct store_cache_answer a;
    pthread_t thread;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, NULL);
    f->hook = HOOK_BLOCK;
    pthread_create(&thread, NULL, race, &loader);
    timed_wait(&f->started);
    /* The event arrives while the load (which may have read the old file) is running. */
    event(f, STORE_EVENT_REMOVED, "a.example.com.pfx");
    sem_post(&f->go);
    pthread_join(thread, NULL);
    f->hook = HOOK_NONE;
    assert_int_equal(loader.rc, 0);
    store_cache_answer_release(&loader.answer);

    a = get(f, "a.example.com.pfx", STORE_CACHE_NOWAIT);
    assert_int_equal(a.state, STORE_CACHE_ABSENT);
    assert_null(a.serve);
    assert_int_equal(stats(f).loads, 1);
}

static void test_nowait_never_reads(void **state)
{
    struct fixture *f = *state;
    char t1[THUMBPRINT_HEX_LEN + 1];
    struct store_cache_answer a;
    struct errbuf err;

    make_cache(f, NULL);
    put_pfx(f, "a.example.com.pfx", "DNS:a.example.com", PASSWORD, t1);
    a = get(f, "a.example.com.pfx", STORE_CACHE_NOWAIT);
    assert_int_equal(a.state, STORE_CACHE_UNKNOWN);
    assert_int_equal(a.want_load, 1);
    assert_null(a.serve);
    assert_int_equal(stats(f).loads, 0);

    assert_int_equal(store_cache_load(f->cache, "a.example.com.pfx", &err), 0);
    assert_int_equal(stats(f).loads, 1);
    a = get(f, "a.example.com.pfx", STORE_CACHE_NOWAIT);
    assert_int_equal(a.state, STORE_CACHE_PRESENT);
    assert_string_equal(a.serve->insp.summary.thumbprint, t1);
    assert_int_equal(a.want_load, 0);
    store_cache_answer_release(&a);

    /* Stale: served at once, and the answer asks for the reload. */
    event(f, STORE_EVENT_CHANGED, "a.example.com.pfx");
    a = get(f, "a.example.com.pfx", STORE_CACHE_NOWAIT);
    assert_string_equal(a.serve->insp.summary.thumbprint, t1);
    assert_int_equal(a.stale, 1);
    assert_int_equal(a.want_load, 1);
    store_cache_answer_release(&a);
    assert_int_equal(stats(f).loads, 1);
}

static void test_bad_file_names_are_refused(void **state)
{
    struct fixture *f = *state;
    struct store_cache_answer a;
    struct errbuf err;

    make_cache(f, NULL);
    assert_int_equal(store_cache_get(f->cache, "", 0, &a, &err), -1);
    assert_int_equal(store_cache_get(f->cache, "../x.pfx", 0, &a, &err), -1);
    assert_non_null(strstr(err.msg, "../x.pfx"));
    assert_int_equal(stats(f).loads, 0);
    assert_int_equal(stats(f).negative_entries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changed_serves_the_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_stops_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rescan_reloads_and_forgets_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_good_on_truncated_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_good_on_wrong_password_replacement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_last_good_on_key_mismatch_replacement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unusable_first_load_is_reported_and_cached, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_cache_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_evicts_least_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_loads_are_coalesced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_is_served_while_reloading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_during_load_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_never_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_file_names_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
