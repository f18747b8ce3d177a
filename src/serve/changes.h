/* changes.h — the change feed of `ccs serve`: a thread that reads the store's watch (inotify
 * locally, polling or change notification on a share) and applies each event to the shared cache,
 * so that no reload is ever needed for certificates:
 *  - a file written or renamed in: the cache marks it due; if a certificate of it is being served,
 *    the loader reloads it at once, so the next handshake gets the new one;
 *  - a file removed: the cache stops serving it at once;
 *  - events lost (RESCAN): every cached file is due, every served one reloaded, and the watch is
 *    opened anew (it may have lost the directory).
 * The watch is set up by the thread, after changes_start() returns, and serve.c starts the feed
 * after the workers: `ccs serve` answers its first handshake without waiting for it (an inotify
 * watch on a directory of 100,000 cached entries costs ~10 ms of CPU, a share's notification a
 * round trip or more). What changed in between is not lost: once the watch is in place the feed
 * rescans once (every cached entry due, every served file reloaded), and so again whenever the
 * watch had to be opened anew. Until then, handshakes load files as they are. */
#ifndef CCS_SERVE_CHANGES_H
#define CCS_SERVE_CHANGES_H

#include "serve/context.h"

struct changes;

int changes_start(struct serve_ctx *ctx, struct changes **out, struct errbuf *err);
void changes_stop(struct changes *ch);

#endif
