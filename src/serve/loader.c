/* loader.c — loader threads (loader.h).
 *
 * The queue is a FIFO list of jobs plus a hash table of the same jobs by file name, so that a
 * request for a file already asked for finds its job in one lookup. A job stays in the table while
 * it runs: a request that comes in meanwhile joins it rather than queueing a second load that would
 * only wait for the first in the cache (holding a loader thread: with a slow share, half of them).
 * Joining a running load is safe: what it installs may predate a change event that came in during
 * it, and then the woken handshake finds its file due again and asks anew (conn.h's rounds).
 * The hash is plain FNV-1a: file names come from clients' SNI, so a client could pick names that
 * share a chain, but a chain is never longer than the jobs that exist (queued, bounded, plus one
 * per thread), so the worst case is that many string compares under the mutex. */
#include "serve/loader.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/names.h"

#define LOADER_DEFAULT_THREADS 2
#define LOADER_BUCKETS 1024 /* a power of two */

struct waiter {
    struct waiter *next;
    loader_done_fn *done;
    void *arg;
};

struct job {
    struct job *next_fifo, *next_hash;
    uint64_t hash;
    struct waiter *waiters;
    char host[DNS_NAME_MAX + 1];
    char file[STORE_FILE_NAME_MAX + 1];
};

struct loader {
    struct store_cache *cache;
    struct served *served;
    pthread_mutex_t mutex;
    pthread_cond_t work;
    struct job *head, *tail;
    struct job *buckets[LOADER_BUCKETS];
    size_t queued, max_queued;
    int stopping;
    pthread_t *threads;
    unsigned nthreads;
};

static __thread const char *current_host;

const char *loader_current_host(void)
{
    return current_host;
}

static uint64_t hash_file(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static struct job **bucket_find(struct loader *l, const char *file, uint64_t hash)
{
    struct job **p = &l->buckets[hash & (LOADER_BUCKETS - 1)];
    while (*p && ((*p)->hash != hash || strcmp((*p)->file, file) != 0))
        p = &(*p)->next_hash;
    return p;
}

/* Take the oldest job off the queue; it stays in the table until finish(). Mutex held; the queue
 * is not empty. */
static struct job *dequeue(struct loader *l)
{
    struct job *j = l->head;

    l->head = j->next_fifo;
    if (!l->head)
        l->tail = NULL;
    l->queued--;
    return j;
}

/* Take J out of the table and call its waiters (the mutex not held: they may submit again). */
static void finish(struct loader *l, struct job *j, int loaded)
{
    struct waiter *w, *next;
    struct job **p;

    pthread_mutex_lock(&l->mutex);
    p = bucket_find(l, j->file, j->hash);
    *p = j->next_hash;
    w = j->waiters;
    j->waiters = NULL;
    pthread_mutex_unlock(&l->mutex);
    for (; w; w = next) {
        next = w->next;
        if (w->done)
            w->done(w->arg, j->file, loaded);
        free(w);
    }
    free(j);
}

/* Load J's file and note what it serves now. */
static void run(struct loader *l, struct job *j)
{
    struct store_cache_answer a;
    struct errbuf err;

    current_host = j->host[0] ? j->host : NULL;
    if (store_cache_get(l->cache, j->file, 0, &a, &err) == 0) {
        if (l->served && a.serve)
            served_set(l->served, j->file, a.serve->insp.summary.not_after);
        else if (l->served)
            served_forget(l->served, j->file);
        store_cache_answer_release(&a);
    }
    current_host = NULL;
}

static void *thread_main(void *arg)
{
    struct loader *l = arg;

    pthread_mutex_lock(&l->mutex);
    for (;;) {
        struct job *j;

        while (!l->head && !l->stopping)
            pthread_cond_wait(&l->work, &l->mutex);
        if (l->stopping)
            break;
        j = dequeue(l);
        pthread_mutex_unlock(&l->mutex);
        run(l, j);
        finish(l, j, 1);
        pthread_mutex_lock(&l->mutex);
    }
    pthread_mutex_unlock(&l->mutex);
    return NULL;
}

int loader_new(struct store_cache *cache, const struct loader_options *opts, struct loader **out,
               struct errbuf *err)
{
    struct loader *l = calloc(1, sizeof(*l));
    unsigned want = opts && opts->threads ? opts->threads : LOADER_DEFAULT_THREADS;

    *out = NULL;
    if (!l || !(l->threads = calloc(want, sizeof(*l->threads)))) {
        free(l);
        return errbuf_set(err, "loader: out of memory");
    }
    l->cache = cache;
    l->served = opts ? opts->served : NULL;
    l->max_queued = opts && opts->max_queued ? opts->max_queued : LOADER_DEFAULT_MAX_QUEUED;
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->work, NULL);
    for (; l->nthreads < want; l->nthreads++) {
        if (pthread_create(&l->threads[l->nthreads], NULL, thread_main, l) != 0) {
            loader_free(l);
            return errbuf_set_errno(err, "loader: cannot start a thread");
        }
    }
    *out = l;
    return 0;
}

int loader_submit(struct loader *l, const char *file, const char *host, loader_done_fn *done,
                  void *arg)
{
    struct waiter *w = calloc(1, sizeof(*w));
    uint64_t hash = hash_file(file);
    struct job **p, *j;
    int rc = 0;

    if (!w || strlen(file) > STORE_FILE_NAME_MAX) {
        free(w);
        return -1;
    }
    w->done = done;
    w->arg = arg;
    pthread_mutex_lock(&l->mutex);
    p = bucket_find(l, file, hash);
    if ((j = *p)) {
        w->next = j->waiters;
        j->waiters = w;
    } else if (l->stopping || l->queued >= l->max_queued || !(j = calloc(1, sizeof(*j)))) {
        free(w);
        rc = -1;
    } else {
        j->hash = hash;
        j->waiters = w;
        snprintf(j->file, sizeof(j->file), "%s", file);
        snprintf(j->host, sizeof(j->host), "%s", host ? host : "");
        *p = j;
        if (l->tail)
            l->tail->next_fifo = j;
        else
            l->head = j;
        l->tail = j;
        l->queued++;
        pthread_cond_signal(&l->work);
    }
    pthread_mutex_unlock(&l->mutex);
    return rc;
}

size_t loader_queued(struct loader *l)
{
    size_t n;

    pthread_mutex_lock(&l->mutex);
    n = l->queued;
    pthread_mutex_unlock(&l->mutex);
    return n;
}

void loader_free(struct loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mutex);
    l->stopping = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mutex);
    for (unsigned i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
    while (l->head)
        finish(l, dequeue(l), 0);
    pthread_mutex_destroy(&l->mutex);
    pthread_cond_destroy(&l->work);
    free(l->threads);
    free(l);
}
