/* route.h — which backend a connection goes to, by the name the client asked for: the [site]
 * whose hosts match it, else [serve]'s backend.
 *
 * Two sorted arrays, as HAProxy's SNI index keeps two trees (style.md): exact host names, and the
 * parents of "*.parent" patterns. A name is looked up exactly, then its parent among the patterns:
 * a pattern covers one label, like a wildcard certificate (`*.example.com` routes `a.example.com`,
 * not `example.com` nor `a.b.example.com`). Names are compared in their normalised A-label form,
 * which is how SNI carries them and how config.c keeps [site] hosts. Built once per
 * configuration, read-only after. */
#ifndef CCS_SERVE_ROUTE_H
#define CCS_SERVE_ROUTE_H

#include <stddef.h>

#include "util/err.h"

struct route_entry {
    char *name; /* the host, or the parent of a "*.parent" pattern */
    size_t target;
};

struct route_table {
    struct route_entry *exact, *wildcard;
    size_t exact_count, wildcard_count;
};

/* Add PATTERN (a normalised host or "*.parent") routing to TARGET. Call route_finish() after the
 * last one. Fails on no memory. */
int route_add(struct route_table *t, const char *pattern, size_t target, struct errbuf *err);
void route_finish(struct route_table *t);
/* The target of HOST (normalised, A-label form): 1 and *TARGET set, or 0 when nothing matches. */
int route_lookup(const struct route_table *t, const char *host, size_t *target);
void route_free(struct route_table *t);

#endif
