/* context.h — what every thread of `ccs serve` shares: the store and its parsed cache, the loader,
 * the counters, the ticket keys, and the current settings (swapped at a SIGHUP). Owned by serve.c;
 * the workers, the change feed and the admin endpoint only read it. */
#ifndef CCS_SERVE_CONTEXT_H
#define CCS_SERVE_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/loader.h"
#include "serve/served.h"
#include "serve/settings.h"
#include "serve/stats.h"
#include "serve/tickets.h"
#include "store/cache.h"
#include "store/store.h"

struct serve_ctx {
    struct store *store;
    struct store_cache *cache;
    struct loader *loader;
    struct served *served;
    struct serve_stats stats;
    struct ticket_keys *tickets;
    pthread_mutex_t settings_mutex;
    struct serve_settings *settings; /* the current ones: serve_ctx_settings() */
    atomic_int active;               /* connections open, all workers */
    atomic_int max_connections;      /* the current settings' */
    atomic_int draining;             /* SIGTERM: /healthz says so */
    atomic_uint workers_running;
};

/* A reference to the current settings (release with serve_settings_unref). */
struct serve_settings *serve_ctx_settings(struct serve_ctx *ctx);
/* Make NEW the current settings (the context takes the reference). */
void serve_ctx_set_settings(struct serve_ctx *ctx, struct serve_settings *settings);

#endif
