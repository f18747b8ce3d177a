/* loader.h — loads of store files off the event loops: a handshake whose name is not cached yet is
 * suspended, its file loaded here, and the worker told when the load is done; a stale entry is
 * refreshed here while its last certificate keeps being served.
 *
 * Invariants:
 *  - one job per file, queued or running: a second request for the file joins it (its callback
 *    is added), so a burst of handshakes for one cold name costs one load and one thread;
 *  - the queue is bounded (max_queued); a request beyond it is refused at once, never blocks;
 *  - every accepted request's callback is called exactly once, from a loader thread, after the
 *    load (or, at loader_stop(), without one: DONE's LOADED argument says which). */
#ifndef CCS_SERVE_LOADER_H
#define CCS_SERVE_LOADER_H

#include <stddef.h>

#include "serve/served.h"
#include "store/cache.h"

/* Jobs waiting at most: each is a store file name and a few callbacks (< 1 KiB). */
#define LOADER_DEFAULT_MAX_QUEUED 4096

/* FILE's load is over (LOADED 1), or the loader stopped before it (LOADED 0). */
typedef void loader_done_fn(void *arg, const char *file, int loaded);

struct loader_options {
    unsigned threads;  /* 0: 2 */
    size_t max_queued; /* 0: LOADER_DEFAULT_MAX_QUEUED */
    struct served *served; /* updated after each load; may be NULL */
};

struct loader;

int loader_new(struct store_cache *cache, const struct loader_options *opts, struct loader **out,
               struct errbuf *err);
/* Queue a load of FILE (a store file name) on behalf of HOST (for the log: the SNI name that
 * asked, or NULL); DONE(ARG, FILE, 1) once it is loaded (DONE may be NULL: a refresh nobody waits
 * for). Returns -1 when the queue is full or memory is short: nothing was queued. */
int loader_submit(struct loader *l, const char *file, const char *host, loader_done_fn *done,
                  void *arg);
/* Jobs queued and not yet started. */
size_t loader_queued(struct loader *l);
/* The SNI name the calling loader thread is loading for, or NULL (the cache's report callback
 * runs in that thread and names it in the log). */
const char *loader_current_host(void);
/* Stop the threads: running loads finish, queued jobs get DONE(..., 0). Then free. */
void loader_free(struct loader *l);

#endif
