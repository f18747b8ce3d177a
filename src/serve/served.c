/* served.c — the files with a certificate ready to serve (served.h).
 *
 * A chained hash table keyed by file name, doubled when it holds more entries than buckets. The
 * keys are names of files that exist in the store and loaded usable, not names a client chose, so
 * an unkeyed hash (FNV-1a) cannot be steered into one chain from outside. */
#include "serve/served.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SERVED_INITIAL_BUCKETS 256

struct served_entry {
    struct served_entry *next;
    uint64_t hash;
    time_t not_after;
    char file[];
};

struct served {
    pthread_mutex_t mutex;
    struct served_entry **buckets;
    size_t nbuckets, count;
};

/* FNV-1a, 64 bits (Fowler, Noll, Vo). */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

struct served *served_new(void)
{
    struct served *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->nbuckets = SERVED_INITIAL_BUCKETS;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mutex, NULL);
    return s;
}

void served_free(struct served *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct served_entry *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->mutex);
    free(s);
}

static struct served_entry **find(struct served *s, const char *file, uint64_t hash)
{
    struct served_entry **p = &s->buckets[hash & (s->nbuckets - 1)];
    while (*p && ((*p)->hash != hash || strcmp((*p)->file, file) != 0))
        p = &(*p)->next;
    return p;
}

/* Double the buckets; without memory the chains just grow longer. */
static void grow(struct served *s)
{
    size_t n = s->nbuckets * 2;
    struct served_entry **b = calloc(n, sizeof(*b));

    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct served_entry *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

int served_set(struct served *s, const char *file, time_t not_after)
{
    uint64_t hash = fnv1a(file);
    struct served_entry **p, *e;
    size_t len = strlen(file);
    int rc = 0;

    pthread_mutex_lock(&s->mutex);
    p = find(s, file, hash);
    if (*p) {
        (*p)->not_after = not_after;
    } else if ((e = malloc(sizeof(*e) + len + 1))) {
        e->hash = hash;
        e->not_after = not_after;
        memcpy(e->file, file, len + 1);
        e->next = NULL;
        *p = e;
        if (++s->count > s->nbuckets)
            grow(s);
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&s->mutex);
    return rc;
}

void served_forget(struct served *s, const char *file)
{
    struct served_entry **p, *e;

    pthread_mutex_lock(&s->mutex);
    p = find(s, file, fnv1a(file));
    if ((e = *p)) {
        *p = e->next;
        s->count--;
        free(e);
    }
    pthread_mutex_unlock(&s->mutex);
}

int served_has(struct served *s, const char *file)
{
    int has;

    pthread_mutex_lock(&s->mutex);
    has = *find(s, file, fnv1a(file)) != NULL;
    pthread_mutex_unlock(&s->mutex);
    return has;
}

size_t served_count(struct served *s)
{
    size_t n;

    pthread_mutex_lock(&s->mutex);
    n = s->count;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

static int by_not_after(const void *a, const void *b)
{
    const struct served_entry *x = *(struct served_entry *const *)a;
    const struct served_entry *y = *(struct served_entry *const *)b;

    if (x->not_after != y->not_after)
        return x->not_after < y->not_after ? -1 : 1;
    return strcmp(x->file, y->file);
}

size_t served_each(struct served *s, size_t max, void (*fn)(void *arg, const struct served_item *),
                   void *arg)
{
    struct served_entry **all;
    size_t n = 0, shown;

    pthread_mutex_lock(&s->mutex);
    all = malloc((s->count ? s->count : 1) * sizeof(*all));
    if (!all) {
        n = s->count;
        pthread_mutex_unlock(&s->mutex);
        return n;
    }
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct served_entry *e = s->buckets[i]; e; e = e->next)
            all[n++] = e;
    qsort(all, n, sizeof(*all), by_not_after);
    shown = n < max ? n : max;
    for (size_t i = 0; i < shown; i++) {
        struct served_item item = {all[i]->file, all[i]->not_after};
        fn(arg, &item);
    }
    pthread_mutex_unlock(&s->mutex);
    free(all);
    return n - shown;
}
