/* watch.c — the change feed: "NAME changed / removed" for the "*.pfx" files of a store.
 *
 * Two ways to know, one interface:
 * - notified: the backend reports changes itself (inotify on a local store). Its watch_read gives
 *   raw events for any name; this file waits on its descriptor and filters.
 * - polled: a backend without notification (or force_poll). A snapshot of the listing (name → type
 *   and version) is compared with a fresh listing each time a timerfd fires: new or different →
 *   CHANGED, gone → REMOVED. The timerfd is the descriptor an event loop waits on.
 *
 * Invariants:
 * - Only store_is_pfx_name() names are ever reported (temp files and the lock file never are);
 *   RESCAN passes always, with "" as its name.
 * - A call appends nothing and returns 0 only when its timeout ran out: events that the filter
 *   drops do not end the wait early.
 * - The polled snapshot holds only pfx names, sorted by name as store_list() promises, so a diff is
 *   one merge walk, linear in the two listings. It is replaced only by a listing that succeeded: a
 *   failed listing leaves it as it was, and the next tick compares against it again.
 * - Backend watch calls run as store.c runs backend calls (under the I/O mutex unless the backend
 *   is thread-safe); waiting never holds the mutex.
 * - A watch is used by one thread at a time (it keeps the snapshot and the timer); the store under
 *   it may be shared. */
#include "store/backend.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Backend watch calls under the store's I/O mutex, as store.c makes every backend call (a
 * thread-safe backend runs without it). */

/* First allocation of an event list: a handful of changes is the common case. */
#define STORE_EVENTS_INITIAL 16
#define MS_PER_SECOND 1000
#define NS_PER_MS 1000000L

struct store_watch {
    struct store *st;
    struct backend_watch *backend; /* notified; NULL when polling */
    int timer_fd;                  /* polled; -1 when notified */
    struct store_entries snapshot; /* polled: pfx names only, sorted */
};

int store_events_add(struct store_events *evs, enum store_event_kind kind, const char *name)
{
    struct store_event *ev;

    if (evs->count == evs->capacity) {
        size_t cap = evs->capacity ? evs->capacity * 2 : STORE_EVENTS_INITIAL;
        struct store_event *grown = realloc(evs->items, cap * sizeof(*grown));
        if (!grown)
            return -1;
        evs->items = grown;
        evs->capacity = cap;
    }
    ev = &evs->items[evs->count++];
    ev->kind = kind;
    snprintf(ev->name, sizeof(ev->name), "%s", name ? name : "");
    return 0;
}

void store_events_free(struct store_events *evs)
{
    free(evs->items);
    evs->items = NULL;
    evs->count = evs->capacity = 0;
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * MS_PER_SECOND + ts.tv_nsec / NS_PER_MS;
}

/* What poll(2) should wait to reach DEADLINE_MS (-1: forever); its int caps a long wait. */
static int poll_timeout(long long deadline_ms)
{
    long long left;

    if (deadline_ms < 0)
        return -1;
    left = deadline_ms - monotonic_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait until FD is readable or DEADLINE_MS (monotonic; -1: never) passes. *READY = 1 when
 * readable. */
static int wait_readable(int fd, long long deadline_ms, int *ready, struct errbuf *err)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    *ready = 0;
    for (;;) {
        int n = poll(&p, 1, poll_timeout(deadline_ms));

        if (n > 0) {
            *ready = 1;
            return 0;
        }
        if (n < 0 && errno != EINTR)
            return errbuf_set_errno(err, "cannot wait for changes");
        /* A timeout short of the deadline (a capped wait) or EINTR: wait again. */
        if (n == 0 && monotonic_ms() >= deadline_ms)
            return 0;
    }
}

/* Keep only pfx names in E (order kept, so still sorted). */
static void keep_pfx_names(struct store_entries *e)
{
    size_t kept = 0;

    for (size_t i = 0; i < e->count; i++)
        if (store_is_pfx_name(e->items[i].name))
            e->items[kept++] = e->items[i];
    e->count = kept;
}

static int same_entry(const struct store_entry *a, const struct store_entry *b)
{
    return a->type == b->type && store_version_equal(&a->version, &b->version);
}

/* Append to OUT what changed from OLD to NEW: one merge walk over the two sorted listings. */
static int diff_listings(const struct store_entries *old, const struct store_entries *new_,
                         struct store_events *out)
{
    size_t i = 0, j = 0;

    while (i < old->count || j < new_->count) {
        int cmp = i == old->count    ? 1
                  : j == new_->count ? -1
                                     : strcmp(old->items[i].name, new_->items[j].name);
        int rc = 0;

        if (cmp < 0) {
            rc = store_events_add(out, STORE_EVENT_REMOVED, old->items[i++].name);
        } else if (cmp > 0) {
            rc = store_events_add(out, STORE_EVENT_CHANGED, new_->items[j++].name);
        } else {
            if (!same_entry(&old->items[i], &new_->items[j]))
                rc = store_events_add(out, STORE_EVENT_CHANGED, new_->items[j].name);
            i++;
            j++;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The timer fired: list again, report the difference, keep the new listing. */
static int poll_once(struct store_watch *w, struct store_events *out, struct errbuf *err)
{
    struct store_entries now = {NULL, 0};
    uint64_t expirations;

    /* Drain the timer first: a failed listing is retried at the next tick, not in a busy loop. */
    if (read(w->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return errbuf_set_errno(err, "store %s: cannot read the poll timer",
                                store_display_name(w->st));
    if (store_list(w->st, &now, err) < 0)
        return -1;
    keep_pfx_names(&now);
    if (diff_listings(&w->snapshot, &now, out) < 0) {
        store_entries_free(&now);
        return errbuf_set(err, "store %s: out of memory comparing listings",
                          store_display_name(w->st));
    }
    store_entries_free(&w->snapshot);
    w->snapshot = now;
    return 0;
}

/* Append the filtered events of one backend read; consecutive duplicates (an overwrite in place
 * is a truncate, writes and a close) become one. Only events appended by this call are merged. */
static int notified_once(struct store_watch *w, size_t first, struct store_events *out,
                         struct errbuf *err)
{
    struct store_events raw = {NULL, 0, 0};
    int rc = -1;

    store_io_begin(w->st);
    rc = w->st->ops->watch_read(w->backend, &raw, err);
    store_io_end(w->st);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < raw.count; i++) {
        const struct store_event *ev = &raw.items[i], *last;

        if (ev->kind != STORE_EVENT_RESCAN && !store_is_pfx_name(ev->name))
            continue;
        last = out->count > first ? &out->items[out->count - 1] : NULL;
        if (last && last->kind == ev->kind && strcmp(last->name, ev->name) == 0)
            continue;
        if (store_events_add(out, ev->kind, ev->kind == STORE_EVENT_RESCAN ? "" : ev->name) < 0) {
            rc = errbuf_set(err, "store %s: out of memory reading changes",
                            store_display_name(w->st));
            goto out;
        }
    }
    rc = 0;
out:
    store_events_free(&raw);
    return rc;
}

int store_watch_read(struct store_watch *w, int timeout_ms, struct store_events *out,
                     struct errbuf *err)
{
    long long deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    size_t first = out->count;

    for (;;) {
        int ready = 0;

        if (wait_readable(store_watch_fd(w), deadline, &ready, err) < 0)
            return errbuf_prefix(err, "store %s", store_display_name(w->st));
        if (!ready)
            return 0;
        if ((w->backend ? notified_once(w, first, out, err) : poll_once(w, out, err)) < 0)
            return -1;
        if (out->count > first)
            return 0;
    }
}

static int open_notified(struct store_watch *w, struct errbuf *err)
{
    int rc;

    store_io_begin(w->st);
    rc = w->st->ops->watch_open(w->st, &w->backend, err);
    store_io_end(w->st);
    return rc;
}

static int open_polled(struct store_watch *w, unsigned interval_ms, struct errbuf *err)
{
    struct itimerspec every = {0};

    every.it_interval.tv_sec = interval_ms / MS_PER_SECOND;
    every.it_interval.tv_nsec = (long)(interval_ms % MS_PER_SECOND) * NS_PER_MS;
    every.it_value = every.it_interval;
    w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->timer_fd < 0 || timerfd_settime(w->timer_fd, 0, &every, NULL) < 0)
        return errbuf_set_errno(err, "store %s: cannot start the poll timer",
                                store_display_name(w->st));
    /* The first listing is the baseline: what exists when the watch opens is not news. */
    if (store_list(w->st, &w->snapshot, err) < 0)
        return -1;
    keep_pfx_names(&w->snapshot);
    return 0;
}

int store_watch_open(struct store *st, const struct store_watch_options *opts,
                     struct store_watch **out, struct errbuf *err)
{
    struct store_watch *w = calloc(1, sizeof(*w));
    unsigned interval_ms =
        opts && opts->poll_interval_ms ? opts->poll_interval_ms : STORE_WATCH_DEFAULT_POLL_MS;
    int rc;

    *out = NULL;
    if (!w)
        return errbuf_set(err, "store %s: out of memory", store_display_name(st));
    w->st = st;
    w->timer_fd = -1;
    if (st->ops->watch_open && !(opts && opts->force_poll))
        rc = open_notified(w, err);
    else
        rc = open_polled(w, interval_ms, err);
    if (rc < 0) {
        store_watch_close(w);
        return -1;
    }
    *out = w;
    return 0;
}

int store_watch_fd(const struct store_watch *w)
{
    return w->backend ? w->st->ops->watch_fd(w->backend) : w->timer_fd;
}

int store_watch_is_polling(const struct store_watch *w)
{
    return w->backend == NULL;
}

void store_watch_close(struct store_watch *w)
{
    if (!w)
        return;
    if (w->backend) {
        store_io_begin(w->st);
        w->st->ops->watch_close(w->backend);
        store_io_end(w->st);
    }
    if (w->timer_fd >= 0)
        close(w->timer_fd);
    store_entries_free(&w->snapshot);
    free(w);
}
