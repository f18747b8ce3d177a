/* admin.h — the admin endpoint of `ccs serve`, on its own address (never the TLS listeners'):
 *   GET /metrics  Prometheus text format 0.0.4: handshakes by result and protocol, certificate
 *                 choices, the cache (hits, misses, loads, load errors, certificates cached), each
 *                 served certificate's not-after, backend connection errors, connections;
 *   GET /healthz  200 "ok" while serving, 503 "draining" after SIGTERM.
 * Served by libmicrohttpd on its own thread, from a socket bound before privileges are dropped. */
#ifndef CCS_SERVE_ADMIN_H
#define CCS_SERVE_ADMIN_H

#include <stddef.h>

#include "serve/context.h"
#include "serve/settings.h"

/* At most this many certificates are listed one by one in /metrics (soonest expiry first): a
 * store of 100,000 names would make every scrape megabytes. The rest are counted, and the soonest
 * not-after of all is its own metric. */
#define ADMIN_CERTS_LISTED_MAX 10000

struct admin;

/* Bind ADDR (before privileges are dropped). */
int admin_bind(const struct serve_addr *addr, int *fd, struct errbuf *err);
/* Serve on FD (admin_bind's) until admin_stop(). */
int admin_start(struct serve_ctx *ctx, int fd, struct admin **out, struct errbuf *err);
void admin_stop(struct admin *a);

/* The /metrics text (malloc'd, NUL-terminated); NULL without memory. Also for tests. */
char *admin_metrics_text(struct serve_ctx *ctx, size_t *len);

#endif
