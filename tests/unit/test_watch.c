/* Unit tests for src/store/watch.c: the change feed of a local store, both as notified (inotify,
 * through the local backend) and as polled (force_poll, a 50 ms interval), each test run in both.
 *
 * Every event read is checked against the filter: a temp file, the lock file or a non-pfx name in
 * the feed fails the test whichever test it shows up in. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

/* The polled mode's interval in these tests, and how many intervals a change may take to show:
 * one to fire, one more for timer slack under sanitizers; ten is a wide margin. */
#define POLL_MS 50
#define POLL_LIMIT_MS (10 * POLL_MS)
/* The promise for a local store: a file renamed into place is seen within 100 ms. */
#define NOTIFY_LIMIT_MS 100

struct fixture {
    char dir[64];
    int polling;
    struct store *st;
    struct store_watch *w;
    struct store_events evs;
};

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int setup_mode(void **state, int polling)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err = {""};

    snprintf(f->dir, sizeof(f->dir), "/tmp/ccs-watch-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir, NULL, &f->st, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    f->polling = polling;
    *state = f;
    return 0;
}

static int setup_notified(void **state)
{
    return setup_mode(state, 0);
}

static int setup_polled(void **state)
{
    return setup_mode(state, 1);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    store_watch_close(f->w);
    store_close(f->st);
    store_events_free(&f->evs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void start_watch(struct fixture *f)
{
    struct errbuf err = {""};
    const struct store_watch_options opts = {.poll_interval_ms = POLL_MS, .force_poll = f->polling};

    if (store_watch_open(f->st, &opts, &f->w, &err) < 0)
        fail_msg("store_watch_open: %s", err.msg);
    assert_int_equal(!!store_watch_is_polling(f->w), f->polling);
    assert_true(store_watch_fd(f->w) >= 0);
}

static int limit_ms(const struct fixture *f)
{
    return f->polling ? POLL_LIMIT_MS : NOTIFY_LIMIT_MS;
}

static const char *mode_name(const struct fixture *f)
{
    return f->polling ? "polled" : "inotify";
}

/* Read for up to TIMEOUT_MS; every event must pass the filter. Returns how many were appended. */
static size_t read_some(struct fixture *f, int timeout_ms)
{
    struct errbuf err = {""};
    size_t before = f->evs.count;

    if (store_watch_read(f->w, timeout_ms, &f->evs, &err) < 0)
        fail_msg("store_watch_read: %s", err.msg);
    for (size_t i = before; i < f->evs.count; i++) {
        const struct store_event *ev = &f->evs.items[i];
        if (ev->kind == STORE_EVENT_RESCAN)
            assert_string_equal(ev->name, "");
        else if (!store_is_pfx_name(ev->name))
            fail_msg("%s: reported \"%s\", which is not a pfx name", mode_name(f), ev->name);
    }
    return f->evs.count - before;
}

static int has_event(const struct fixture *f, enum store_event_kind kind, const char *name)
{
    for (size_t i = 0; i < f->evs.count; i++)
        if (f->evs.items[i].kind == kind && strcmp(f->evs.items[i].name, name) == 0)
            return 1;
    return 0;
}

/* Wait for KIND NAME within the mode's limit; returns how long it took (µs) from START_US. */
static long long await_event(struct fixture *f, enum store_event_kind kind, const char *name,
                             long long start_us)
{
    long long deadline = start_us + (long long)limit_ms(f) * 1000;

    while (!has_event(f, kind, name)) {
        long long left_us = deadline - mono_us();
        if (left_us <= 0)
            fail_msg("%s: no %s event for \"%s\" within %d ms (%zu other events)", mode_name(f),
                     kind == STORE_EVENT_CHANGED ? "CHANGED" : "REMOVED", name, limit_ms(f),
                     f->evs.count);
        read_some(f, (int)((left_us + 999) / 1000));
    }
    return mono_us() - start_us;
}

/* Nothing at all is reported for MS milliseconds. */
static void expect_quiet(struct fixture *f, int ms)
{
    long long deadline = mono_us() + (long long)ms * 1000;
    long long left;

    while ((left = deadline - mono_us()) > 0)
        read_some(f, (int)((left + 999) / 1000));
    if (f->evs.count)
        fail_msg("%s: expected no events, got %zu (first: \"%s\")", mode_name(f), f->evs.count,
                 f->evs.items[0].name);
}

static void write_file(const struct fixture *f, const char *name, const char *text, int flags)
{
    char path[400];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void rename_file(const struct fixture *f, const char *from, const char *to)
{
    char a[400], b[400];
    snprintf(a, sizeof(a), "%s/%s", f->dir, from);
    snprintf(b, sizeof(b), "%s/%s", f->dir, to);
    assert_int_equal(rename(a, b), 0);
}

static void remove_file(const struct fixture *f, const char *name)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    assert_int_equal(unlink(path), 0);
}

static void store_write(struct fixture *f, const char *name, const char *text)
{
    struct errbuf err = {""};
    const struct bytes data = {(unsigned char *)text, strlen(text)};
    const struct store_write_options opts = {.mode = 0, .gid = -1};

    if (store_write_atomic(f->st, name, &data, &opts, &err) < 0)
        fail_msg("store_write_atomic %s: %s", name, err.msg);
}

/* ---- the tests (each runs in both modes) ------------------------------------------------------
 */

static void test_nothing_times_out_empty(void **state)
{
    struct fixture *f = *state;
    long long t0;

    write_file(f, "before.example.com.pfx", "existing", 0); /* what exists at open is not news */
    start_watch(f);
    assert_int_equal(read_some(f, 0), 0);
    t0 = mono_us();
    assert_int_equal(read_some(f, 3 * POLL_MS), 0); /* the poll timer fires, nothing changed */
    assert_true(mono_us() - t0 >= (3 * POLL_MS - 1) * 1000LL);
    assert_int_equal(read_some(f, 0), 0);
}

static void test_write_atomic_is_changed(void **state)
{
    struct fixture *f = *state;
    long long t0, written, took;

    start_watch(f);
    t0 = mono_us();
    store_write(f, "a.example.com.pfx", "first version");
    written = mono_us();
    took = await_event(f, STORE_EVENT_CHANGED, "a.example.com.pfx", t0);
    printf("%s: store_write_atomic seen %lld us after it began, %lld us after it returned\n",
           mode_name(f), took, t0 + took - written);
}

static void test_rename_into_place_is_changed(void **state)
{
    struct fixture *f = *state;
    long long t0, took;

    start_watch(f);
    write_file(f, ".ccs-tmp-x", "renamed in", O_EXCL);
    t0 = mono_us();
    rename_file(f, ".ccs-tmp-x", "b.example.com.pfx");
    took = await_event(f, STORE_EVENT_CHANGED, "b.example.com.pfx", t0);
    printf("%s: rename(2) into place seen after %lld us\n", mode_name(f), took);
}

static void test_remove_is_removed(void **state)
{
    struct fixture *f = *state;

    write_file(f, "gone.example.com.pfx", "about to go", 0);
    start_watch(f);
    remove_file(f, "gone.example.com.pfx");
    await_event(f, STORE_EVENT_REMOVED, "gone.example.com.pfx", mono_us());
    assert_false(has_event(f, STORE_EVENT_CHANGED, "gone.example.com.pfx"));
}

static void test_overwrite_in_place_is_changed(void **state)
{
    struct fixture *f = *state;

    write_file(f, "c.example.com.pfx", "old", 0);
    start_watch(f);
    /* A different length, so the polled version differs even within one mtime tick. */
    write_file(f, "c.example.com.pfx", "new contents", O_TRUNC);
    await_event(f, STORE_EVENT_CHANGED, "c.example.com.pfx", mono_us());
}

/* Temp files, the lock file and other names never reach the feed; then a pfx write does, proving
 * the watch was listening all along. */
static void test_other_names_never_reported(void **state)
{
    struct fixture *f = *state;
    static const char *const others[] = {".ccs-tmp-x",        STORE_LOCK_FILE,
                                         "notes.txt",         "d.example.com.pfx.bak",
                                         ".ccs-tmp-lease-00", ".ccs-tmp-z.pfx"};
    long long t0;

    start_watch(f);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        write_file(f, others[i], "not a certificate", 0);
    write_file(f, ".ccs-tmp-x", "overwritten", O_TRUNC);
    rename_file(f, ".ccs-tmp-x", ".ccs-tmp-y");
    for (size_t i = 1; i < sizeof(others) / sizeof(others[0]); i++)
        remove_file(f, others[i]);
    expect_quiet(f, f->polling ? 4 * POLL_MS : NOTIFY_LIMIT_MS);
    t0 = mono_us();
    store_write(f, "e.example.com.pfx", "a certificate");
    await_event(f, STORE_EVENT_CHANGED, "e.example.com.pfx", t0);
}

/* Several changes at once: each reported, none invented. */
static void test_batch_of_changes(void **state)
{
    struct fixture *f = *state;
    static const char *const created[] = {"n1.example.com.pfx", "n2.example.com.pfx",
                                          "n3.example.com.pfx"};
    long long t0;

    write_file(f, "keep.example.com.pfx", "unchanged", 0);
    write_file(f, "edit.example.com.pfx", "v1", 0);
    write_file(f, "drop.example.com.pfx", "v1", 0);
    start_watch(f);
    t0 = mono_us();
    for (size_t i = 0; i < 3; i++)
        store_write(f, created[i], "new");
    write_file(f, "edit.example.com.pfx", "version two", O_TRUNC);
    remove_file(f, "drop.example.com.pfx");
    for (size_t i = 0; i < 3; i++)
        await_event(f, STORE_EVENT_CHANGED, created[i], t0);
    await_event(f, STORE_EVENT_CHANGED, "edit.example.com.pfx", t0);
    await_event(f, STORE_EVENT_REMOVED, "drop.example.com.pfx", t0);
    read_some(f, f->polling ? 2 * POLL_MS : 20); /* anything else that was coming */
    for (size_t i = 0; i < f->evs.count; i++) {
        const char *name = f->evs.items[i].name;
        if (strcmp(name, "keep.example.com.pfx") == 0 || f->evs.items[i].kind == STORE_EVENT_RESCAN)
            fail_msg("%s: invented an event for \"%s\"", mode_name(f), name);
    }
}

/* The descriptor is what an event loop waits on: it becomes readable after a change, and a read
 * with timeout 0 then returns the change. */
static void test_fd_becomes_readable(void **state)
{
    struct fixture *f = *state;
    struct pollfd p = {.events = POLLIN};

    start_watch(f);
    p.fd = store_watch_fd(f->w);
    store_write(f, "fd.example.com.pfx", "x");
    assert_int_equal(poll(&p, 1, limit_ms(f)), 1);
    /* The file was in place before the wait began, so the change is there to read at once. */
    read_some(f, 0);
    assert_true(has_event(f, STORE_EVENT_CHANGED, "fd.example.com.pfx"));
}

static void test_events_list_grows(void **state)
{
    struct store_events evs = {NULL, 0, 0};
    char name[32];
    (void)state;

    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "h%d.pfx", i);
        assert_int_equal(store_events_add(&evs, STORE_EVENT_CHANGED, name), 0);
    }
    assert_int_equal(store_events_add(&evs, STORE_EVENT_RESCAN, NULL), 0);
    assert_int_equal(evs.count, 101);
    assert_true(evs.capacity >= evs.count);
    assert_string_equal(evs.items[57].name, "h57.pfx");
    assert_string_equal(evs.items[100].name, "");
    store_events_free(&evs);
    assert_null(evs.items);
    assert_int_equal(evs.count, 0);
}

/* One test, two entries: notified and polled. */
/* clang-format off */
#define BOTH(test)                                                                                 \
    {#test " (inotify)", test, setup_notified, teardown, NULL},                                    \
    {#test " (polled)", test, setup_polled, teardown, NULL}
/* clang-format on */

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_nothing_times_out_empty),
        BOTH(test_write_atomic_is_changed),
        BOTH(test_rename_into_place_is_changed),
        BOTH(test_remove_is_removed),
        BOTH(test_overwrite_in_place_is_changed),
        BOTH(test_other_names_never_reported),
        BOTH(test_batch_of_changes),
        BOTH(test_fd_becomes_readable),
        cmocka_unit_test(test_events_list_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
