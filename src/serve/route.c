/* route.c — exact and wildcard routes (route.h). */
#include "serve/route.h"

#include <stdlib.h>
#include <string.h>

static int add_entry(struct route_entry **items, size_t *count, const char *name, size_t target)
{
    struct route_entry *grown = realloc(*items, (*count + 1) * sizeof(**items));

    if (!grown)
        return -1;
    *items = grown;
    grown[*count].name = strdup(name);
    if (!grown[*count].name)
        return -1;
    grown[*count].target = target;
    (*count)++;
    return 0;
}

int route_add(struct route_table *t, const char *pattern, size_t target, struct errbuf *err)
{
    int rc = strncmp(pattern, "*.", 2) == 0
                 ? add_entry(&t->wildcard, &t->wildcard_count, pattern + 2, target)
                 : add_entry(&t->exact, &t->exact_count, pattern, target);
    if (rc < 0)
        return errbuf_set(err, "routes: out of memory");
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct route_entry *)a)->name, ((const struct route_entry *)b)->name);
}

void route_finish(struct route_table *t)
{
    if (t->exact_count)
        qsort(t->exact, t->exact_count, sizeof(*t->exact), by_name);
    if (t->wildcard_count)
        qsort(t->wildcard, t->wildcard_count, sizeof(*t->wildcard), by_name);
}

static const struct route_entry *find(const struct route_entry *items, size_t count,
                                      const char *name)
{
    struct route_entry key = {(char *)name, 0};
    return count ? bsearch(&key, items, count, sizeof(*items), by_name) : NULL;
}

int route_lookup(const struct route_table *t, const char *host, size_t *target)
{
    const struct route_entry *e = find(t->exact, t->exact_count, host);
    const char *parent;

    if (!e && (parent = strchr(host, '.')) && strchr(parent + 1, '.'))
        e = find(t->wildcard, t->wildcard_count, parent + 1);
    if (!e)
        return 0;
    *target = e->target;
    return 1;
}

void route_free(struct route_table *t)
{
    for (size_t i = 0; i < t->exact_count; i++)
        free(t->exact[i].name);
    for (size_t i = 0; i < t->wildcard_count; i++)
        free(t->wildcard[i].name);
    free(t->exact);
    free(t->wildcard);
    memset(t, 0, sizeof(*t));
}
