/* changes.c — the change feed thread (changes.h). It opens the watch itself, then waits on the
 * watch's descriptor and on an eventfd that changes_stop() writes, so stopping never waits for a
 * poll interval. */
#include "serve/changes.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "serve/serve.h"
#include "util/log.h"

/* After the watch fails (the store went away, a share dropped), try to open it again this often. */
#define CHANGES_RETRY_MS 1000

struct changes {
    struct serve_ctx *ctx;
    struct store_watch *watch;
    int stop_fd;
    pthread_t thread;
};

static void reload(struct serve_ctx *ctx, const char *file)
{
    if (loader_submit(ctx->loader, file, NULL, NULL, NULL) < 0)
        log_warning("store: %s changed, but the loader's queue is full: the next handshake "
                    "for it gets the previous certificate and reloads it",
                    file);
}

static void collect(void *arg, const struct served_item *item)
{
    struct store_events *evs = arg;
    store_events_add(evs, STORE_EVENT_CHANGED, item->file);
}

/* After a RESCAN: everything served is reloaded. */
static void reload_all(struct serve_ctx *ctx)
{
    struct store_events files = {0};

    served_each(ctx->served, (size_t)-1, collect, &files);
    for (size_t i = 0; i < files.count; i++)
        reload(ctx, files.items[i].name);
    store_events_free(&files);
}

static int apply(struct changes *ch, const struct store_events *evs)
{
    struct serve_ctx *ctx = ch->ctx;
    int rescan = 0;

    store_cache_apply(ctx->cache, evs);
    for (size_t i = 0; i < evs->count; i++) {
        const struct store_event *ev = &evs->items[i];
        switch (ev->kind) {
        case STORE_EVENT_CHANGED:
            if (served_has(ctx->served, ev->name)) {
                log_info("store: %s changed: reloading it", ev->name);
                reload(ctx, ev->name);
            } else {
                log_debug("store: %s changed (not loaded: read at its first handshake)", ev->name);
            }
            break;
        case STORE_EVENT_REMOVED:
            if (served_has(ctx->served, ev->name))
                log_info("store: %s removed: no longer served", ev->name);
            served_forget(ctx->served, ev->name);
            break;
        case STORE_EVENT_RESCAN:
            rescan = 1;
            break;
        }
    }
    if (rescan) {
        log_info("store %s: changes may have been missed: every cached file is reloaded",
                 store_display_name(ctx->store));
        reload_all(ctx);
    }
    return rescan;
}

static int reopen(struct changes *ch)
{
    struct errbuf err;

    store_watch_close(ch->watch);
    ch->watch = NULL;
    if (store_watch_open(ch->ctx->store, NULL, &ch->watch, &err) < 0) {
        log_error("cannot watch the store for changes: %s (retrying every %d ms; meanwhile "
                  "renewed certificates are not picked up)",
                  err.msg, CHANGES_RETRY_MS);
        return -1;
    }
    return 0;
}

/* The test knob SERVE_TEST_WATCH_DELAY_ENV: wait before the watch, unless stopped. Non-zero when
 * stopped meanwhile. */
static int held_back(struct changes *ch)
{
    const char *delay = getenv(SERVE_TEST_WATCH_DELAY_ENV);
    struct pollfd stop = {ch->stop_fd, POLLIN, 0};
    int ms;

    if (!delay || !*delay)
        return 0;
    ms = atoi(delay);
    log_warning("%s=%d is set: the store is watched for changes that late (a knob for tests only)",
                SERVE_TEST_WATCH_DELAY_ENV, ms);
    return poll(&stop, 1, ms) > 0;
}

/* The watch is (again) in place: whatever changed before it was, or while there was none, is
 * caught up with as after a RESCAN — every cached entry is due (absent ones forgotten), every
 * served file reloaded. At start-up that is the few files the first handshakes loaded. */
static void catch_up(struct changes *ch)
{
    struct store_events evs = {0};

    if (store_events_add(&evs, STORE_EVENT_RESCAN, "") == 0)
        store_cache_apply(ch->ctx->cache, &evs);
    store_events_free(&evs);
    reload_all(ch->ctx);
}

static void *thread_main(void *arg)
{
    struct changes *ch = arg;
    struct store_events evs = {0};
    struct errbuf err;

    /* Opened here, not in changes_start: the workers are accepting by now (changes.h). */
    if (held_back(ch))
        goto out;
    if (reopen(ch) == 0) {
        catch_up(ch);
        log_debug("store %s: watching for changes", store_display_name(ch->ctx->store));
    }
    for (;;) {
        struct pollfd fds[2] = {{ch->stop_fd, POLLIN, 0}, {-1, POLLIN, 0}};

        if (ch->watch)
            fds[1].fd = store_watch_fd(ch->watch);
        if (poll(fds, 2, ch->watch ? -1 : CHANGES_RETRY_MS) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (!ch->watch) {
            if (reopen(ch) == 0) {
                catch_up(ch);
                log_info("store %s: watching for changes again",
                         store_display_name(ch->ctx->store));
            }
            continue;
        }
        if (!fds[1].revents)
            continue;
        evs.count = 0;
        if (store_watch_read(ch->watch, 0, &evs, &err) < 0) {
            log_error("store %s: the change feed failed: %s", store_display_name(ch->ctx->store),
                      err.msg);
            reopen(ch);
            continue;
        }
        if (evs.count && apply(ch, &evs))
            reopen(ch); /* a RESCAN may mean the directory moved: watch it anew */
    }
out:
    store_events_free(&evs);
    return NULL;
}

int changes_start(struct serve_ctx *ctx, struct changes **out, struct errbuf *err)
{
    struct changes *ch = calloc(1, sizeof(*ch));

    *out = NULL;
    if (!ch)
        return errbuf_set(err, "change feed: out of memory");
    ch->ctx = ctx;
    ch->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ch->stop_fd < 0) {
        free(ch);
        return errbuf_set_errno(err, "change feed: eventfd");
    }
    if (pthread_create(&ch->thread, NULL, thread_main, ch) != 0) {
        errbuf_set(err, "change feed: cannot start its thread");
        close(ch->stop_fd);
        free(ch);
        return -1;
    }
    *out = ch;
    return 0;
}

void changes_stop(struct changes *ch)
{
    uint64_t one = 1;

    if (!ch)
        return;
    if (write(ch->stop_fd, &one, sizeof(one)) < 0)
        log_error("change feed: cannot signal its thread to stop");
    pthread_join(ch->thread, NULL);
    store_watch_close(ch->watch);
    close(ch->stop_fd);
    free(ch);
}
