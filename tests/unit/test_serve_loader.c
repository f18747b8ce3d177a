/* Unit tests for src/serve/loader.c (and served.c, which it updates): loads off the caller's
 * thread over a real store and parsed cache; a burst of requests for one file costs one load and
 * every request's callback runs exactly once; the queue's bound refuses at once; stopping calls the
 * queued callbacks with LOADED 0; the SNI name that asked reaches the cache's failure report; the
 * served map follows what the file serves. Threaded: TSan runs it (scripts/test). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "serve/loader.h"
#include "testcert.h"

#define PASSWORD "loader-store-pw"
#define SUBMITTERS 4
#define SUBMITS_EACH 25

struct fixture {
    struct test_ca ca;
    char *dir;
    struct store *st;
    struct store_cache *cache;
    struct served *served;
    time_t not_after;
    /* the gate: loads of gated files wait until it opens */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int gate_open;
    int gated_waiting; /* loads blocked at the gate now */
    const char *gated;
    /* callbacks */
    int done_loaded, done_stopped;
    char report_host[256], report_file[256];
    int reports;
};

static void put_pfx(struct fixture *f, const char *file, const char *sans, const char *password)
{
    struct pfx_bundle b;
    struct bytes data;
    struct store_write_options w = {.mode = 0, .gid = -1};
    struct errbuf err;

    testcert_leaf(&b, &f->ca, "loader test", sans, time(NULL) - 60, f->not_after);
    if (pfx_encode(&b, password, PFX_FORMAT_COMPAT, "loader test", &data, &err) < 0 ||
        store_write_atomic(f->st, file, &data, &w, &err) < 0)
        fail_msg("%s: %s", file, err.msg);
    bytes_free(&data);
    pfx_bundle_free(&b);
}

static void load_hook(void *arg, const char *file)
{
    struct fixture *f = arg;

    pthread_mutex_lock(&f->mutex);
    if (f->gated && strcmp(file, f->gated) == 0) {
        f->gated_waiting++;
        pthread_cond_broadcast(&f->cond);
        while (!f->gate_open)
            pthread_cond_wait(&f->cond, &f->mutex);
        f->gated_waiting--;
    }
    pthread_mutex_unlock(&f->mutex);
}

static void report(void *arg, const char *file, const char *message)
{
    struct fixture *f = arg;
    const char *host = loader_current_host();

    (void)message;
    pthread_mutex_lock(&f->mutex);
    snprintf(f->report_host, sizeof(f->report_host), "%s", host ? host : "(none)");
    snprintf(f->report_file, sizeof(f->report_file), "%s", file);
    f->reports++;
    pthread_mutex_unlock(&f->mutex);
}

static void done(void *arg, const char *file, int loaded)
{
    struct fixture *f = arg;

    (void)file;
    pthread_mutex_lock(&f->mutex);
    if (loaded)
        f->done_loaded++;
    else
        f->done_stopped++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mutex);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_cache_options opts;
    struct errbuf err;

    f->not_after = time(NULL) + 30 * 86400L;
    testcert_ca(&f->ca, "loader test CA");
    f->dir = testcert_tmpdir();
    pthread_mutex_init(&f->mutex, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (store_open(f->dir, NULL, &f->st, &err) < 0)
        fail_msg("%s", err.msg);
    put_pfx(f, "www.example.com.pfx", "DNS:www.example.com", PASSWORD);
    put_pfx(f, "bad.example.com.pfx", "DNS:bad.example.com", "another password");
    opts = (struct store_cache_options){.report = report, .report_arg = f, .load_hook = load_hook,
                                        .load_hook_arg = f};
    if (store_cache_new(f->st, PASSWORD, &opts, &f->cache, &err) < 0)
        fail_msg("%s", err.msg);
    f->served = served_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_cache_free(f->cache);
    store_close(f->st);
    served_free(f->served);
    testcert_rmdir(f->dir);
    testcert_ca_free(&f->ca);
    pthread_mutex_destroy(&f->mutex);
    pthread_cond_destroy(&f->cond);
    free(f);
    return 0;
}

static struct loader *new_loader(struct fixture *f, unsigned threads, size_t max_queued)
{
    struct loader_options o = {.threads = threads, .max_queued = max_queued, .served = f->served};
    struct loader *l;
    struct errbuf err;

    if (loader_new(f->cache, &o, &l, &err) < 0)
        fail_msg("%s", err.msg);
    return l;
}

static void wait_for(struct fixture *f, int *counter, int value)
{
    pthread_mutex_lock(&f->mutex);
    while (*counter < value)
        pthread_cond_wait(&f->cond, &f->mutex);
    pthread_mutex_unlock(&f->mutex);
}

static void open_gate(struct fixture *f)
{
    pthread_mutex_lock(&f->mutex);
    f->gate_open = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mutex);
}

struct submitter {
    struct fixture *f;
    struct loader *l;
    int refused;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;

    for (int i = 0; i < SUBMITS_EACH; i++)
        s->refused += loader_submit(s->l, "www.example.com.pfx", "www.example.com", done, s->f) < 0;
    return NULL;
}

/* SUBMITTERS threads ask for one file SUBMITS_EACH times while its load is held at the gate. */
static void test_burst_is_one_load(void **state)
{
    struct fixture *f = *state;
    struct loader *l = new_loader(f, 3, 0); /* idle threads that must find nothing to do */
    struct submitter subs[SUBMITTERS];
    pthread_t threads[SUBMITTERS];
    struct store_cache_stats st;
    size_t queued;

    f->gated = "www.example.com.pfx";
    assert_int_equal(loader_submit(l, "www.example.com.pfx", NULL, done, f), 0);
    wait_for(f, &f->gated_waiting, 1); /* the first load is running, held */
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (struct submitter){f, l, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, submit_many, &subs[i]), 0);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(threads[i], NULL);
    queued = loader_queued(l);
    open_gate(f); /* before any assertion: a failed one must not leave a thread at the gate */
    wait_for(f, &f->done_loaded, 1 + SUBMITTERS * SUBMITS_EACH);
    loader_free(l);
    for (int i = 0; i < SUBMITTERS; i++)
        assert_int_equal(subs[i].refused, 0);
    /* every later request joined the running job: nothing was queued */
    assert_int_equal(queued, 0);
    assert_int_equal(f->done_loaded, 1 + SUBMITTERS * SUBMITS_EACH);
    assert_int_equal(f->done_stopped, 0);
    store_cache_stats(f->cache, &st);
    assert_int_equal(st.loads, 1);
    assert_true(served_has(f->served, "www.example.com.pfx"));
}

/* A full queue refuses at once; stopping hands the queued requests back with LOADED 0. */
static void test_bound_and_stop(void **state)
{
    struct fixture *f = *state;
    struct loader *l = new_loader(f, 1, 2);

    int rc[4];
    size_t queued;

    f->gated = "www.example.com.pfx";
    assert_int_equal(loader_submit(l, "www.example.com.pfx", NULL, done, f), 0);
    wait_for(f, &f->gated_waiting, 1);
    rc[0] = loader_submit(l, "a.example.com.pfx", NULL, done, f);
    rc[1] = loader_submit(l, "b.example.com.pfx", NULL, done, f);
    rc[2] = loader_submit(l, "c.example.com.pfx", NULL, done, f); /* over the bound */
    rc[3] = loader_submit(l, "a.example.com.pfx", NULL, done, f); /* joins a's job */
    queued = loader_queued(l);
    open_gate(f);
    wait_for(f, &f->done_loaded, 1);
    loader_free(l); /* the queued ones may or may not have run: each callback exactly once */
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], -1);
    assert_int_equal(rc[3], 0);
    assert_int_equal(queued, 2);
    assert_int_equal(f->done_loaded + f->done_stopped, 4);
}

/* The cache's report of a bad file runs in the loader thread, which knows who asked. */
static void test_report_names_host(void **state)
{
    struct fixture *f = *state;
    struct loader *l = new_loader(f, 1, 0);

    assert_int_equal(loader_submit(l, "bad.example.com.pfx", "Bad.Example.com", done, f), 0);
    wait_for(f, &f->done_loaded, 1);
    loader_free(l);
    assert_int_equal(f->reports, 1);
    assert_string_equal(f->report_host, "Bad.Example.com");
    assert_string_equal(f->report_file, "bad.example.com.pfx");
    assert_false(served_has(f->served, "bad.example.com.pfx"));
}

/* served.c: set, replace, forget, listed soonest first, bounded listing. */
static void count_item(void *arg, const struct served_item *item)
{
    char *order = arg;
    strcat(order, item->file);
    strcat(order, ";");
}

static void test_served_map(void **state)
{
    struct served *s = served_new();
    char order[256] = "";

    (void)state;
    assert_int_equal(served_set(s, "b.pfx", 200), 0);
    assert_int_equal(served_set(s, "a.pfx", 300), 0);
    assert_int_equal(served_set(s, "c.pfx", 100), 0);
    assert_int_equal(served_set(s, "a.pfx", 50), 0); /* renewed: replaced, not added */
    assert_int_equal(served_count(s), 3);
    assert_int_equal(served_each(s, 2, count_item, order), 1);
    assert_string_equal(order, "a.pfx;c.pfx;");
    served_forget(s, "a.pfx");
    served_forget(s, "zzz.pfx");
    assert_false(served_has(s, "a.pfx"));
    assert_true(served_has(s, "b.pfx"));
    assert_int_equal(served_count(s), 2);
    for (int i = 0; i < 2000; i++) { /* past several doublings of the table */
        char name[32];
        snprintf(name, sizeof(name), "n%d.pfx", i);
        assert_int_equal(served_set(s, name, i), 0);
    }
    assert_int_equal(served_count(s), 2002);
    assert_true(served_has(s, "n1999.pfx"));
    served_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_is_one_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_names_host, setup, teardown),
        cmocka_unit_test(test_served_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
