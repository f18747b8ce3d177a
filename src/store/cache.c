/* cache.c — the parsed cache (cache.h).
 *
 * The data structure. Entries keyed by store file name live in SHARDS independent shards, each a
 * chained hash table, two intrusive lists — loaded files ("present") and absent or not-yet-loaded
 * names ("negative") — each with its share of the bound, a mutex and a condition variable. A
 * name's shard is fixed by its hash, so one lookup takes one shard's mutex, and lookups of
 * different names rarely meet: with one mutex for everything, two threads resolving cached names
 * spent most of their time waiting for each other (bench/resolve: p99 of a hit 16 µs at two
 * threads, 0.8 µs at one). Small bounds get one shard, so they stay exact.
 *
 * The hash is SipHash-1-3 under a random key: file names come from clients' SNI, and an unkeyed
 * hash (FNV) would let a client pick names that all fall into one chain and turn every lookup into
 * a list walk. Eviction is second-chance LRU: a hit only marks its entry referenced (no list
 * surgery in the hot path, which would touch two more entries' cache lines); the eviction scan
 * moves a referenced entry back to the front instead of dropping it.
 *
 * Entry states:
 *   UNKNOWN  created by a lookup (or invalidated with nothing servable): a load is due;
 *   ABSENT   the last load, or a REMOVED event, found no file;
 *   PRESENT  current = the last load's result; good = the last usable result, or NULL.
 *
 * Invariants, kept under the shard's mutex:
 *   - an entry is on its shard's present list iff its state is PRESENT, on the negative list
 *     otherwise;
 *   - current is non-NULL iff the state is PRESENT; good is NULL or USABLE, and is current itself
 *     whenever current is USABLE;
 *   - at most one thread loads an entry (loading); an entry being loaded or waited for is pinned:
 *     never evicted, never freed;
 *   - every invalidation of an entry bumps its epoch; a load installs its result only if the epoch
 *     did not move while it ran. Otherwise the invalidation's state stands (a REMOVED file stays
 *     unserved) and only the loading lookup itself gets what it read;
 *   - no read, parse or free of a certificate happens with a shard's mutex held: what a critical
 *     section drops goes to a graveyard freed after the unlock. */
#include "store/cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
/* A shard's table starts this small and doubles when it holds more entries than buckets (load
 * factor 1: chains average one entry). A doubling rehashes under the shard's mutex, but only while
 * the cache fills, and a shard holds a sixteenth of it. */
#define TABLE_INITIAL_BUCKETS 64
/* Shards: a power of two, at most SHARDS_MAX, and as many as keep each shard's share of both bounds
 * at least SHARD_MIN_BOUND (so the bounds of tests, 2 or 4, keep one exact shard; the defaults get
 * sixteen). Sixteen make two lookups meet on a mutex once in sixteen even with many threads. */
#define SHARDS_MAX 16
#define SHARD_MIN_BOUND 256
/* Issuer certificates shared between loaded files: a store's files come from a handful of CAs, and
 * each parsed copy of an issuer costs ~4.5 KiB (10,000 files of one CA: 45 MB). At most this many
 * distinct issuers are shared; others stay each file's own copy. */
#define ISSUER_POOL_MAX 64
/* Certificates one critical section may drop: install (old current and old good) or an event (the
 * same two). Entries dropped are chained, so their number is unbounded. */
#define GRAVEYARD_CERTS 4

enum entry_state { ENTRY_UNKNOWN, ENTRY_ABSENT, ENTRY_PRESENT };

struct lru_link {
    struct lru_link *prev, *next;
};

struct cache_entry {
    struct lru_link lru; /* first: an lru_link * is the entry */
    struct cache_entry *chain;
    uint64_t hash;
    enum entry_state state;
    int stale;      /* an event says the file changed since current was read */
    int loading;    /* a thread is loading it */
    int referenced; /* used since the eviction scan last passed it: a second chance */
    unsigned waiters;
    unsigned long epoch;
    long long due_ns; /* 0, or the monotonic time after which a reload is due (TTL, retry) */
    struct store_cert *current, *good;
    char name[]; /* the store file name */
};

struct lru_list {
    struct lru_link head; /* head.next: most recently used */
    size_t count, max;
};

/* Aligned to a cache line so that two shards' mutexes never share one. */
struct cache_shard {
    pthread_mutex_t mutex;
    pthread_cond_t loaded; /* broadcast when a load of this shard finishes */
    struct cache_entry **buckets;
    size_t nbuckets, count;
    struct lru_list present, negative;
    struct store_cache_stats stats;
} __attribute__((aligned(64)));

struct issuer_pool {
    pthread_mutex_t mutex;
    X509 *certs[ISSUER_POOL_MAX];
    size_t count;
};

struct store_cache {
    struct store *st;
    char *password;
    size_t password_len;
    struct store_cache_options opts;
    uint64_t hash_key[2];
    struct issuer_pool issuers;
    size_t nshards;
    struct cache_shard *shards;
};

/* What a critical section dropped, freed once the mutex is released. */
struct graveyard {
    struct store_cert *certs[GRAVEYARD_CERTS];
    size_t ncerts;
    struct cache_entry *entries; /* chained through ->chain */
};

/* A failed load to report once the mutex is released. */
struct pending_report {
    int due;
    char file[STORE_FILE_NAME_MAX + 1];
    char message[ERRBUF_SIZE + 128];
};

/* ---- certificates ---------------------------------------------------------------------------- */

const char *store_cert_verdict_name(enum store_cert_verdict verdict)
{
    switch (verdict) {
    case STORE_CERT_USABLE:
        return "usable";
    case STORE_CERT_UNREADABLE:
        return "unreadable";
    case STORE_CERT_DOES_NOT_OPEN:
        return "does-not-open";
    case STORE_CERT_NO_KEY:
        return "no-key";
    case STORE_CERT_KEY_MISMATCH:
        return "key-mismatch";
    case STORE_CERT_WRONG_NAME:
        return "wrong-name";
    }
    return "unknown";
}

/* The reasons that are not allocated: a usable file's, and the one left when there was no memory
 * to say more. */
static const char no_reason[] = "";
static const char reason_lost[] = "not usable (no memory to say why)";

struct store_cert *store_cert_ref(struct store_cert *cert)
{
    if (cert)
        atomic_fetch_add_explicit(&cert->refs, 1, memory_order_relaxed);
    return cert;
}

void store_cert_unref(struct store_cert *cert)
{
    if (!cert || atomic_fetch_sub_explicit(&cert->refs, 1, memory_order_acq_rel) != 1)
        return;
    pfx_inspection_free(&cert->insp);
    if (cert->why != no_reason && cert->why != reason_lost)
        free((char *)cert->why);
    free(cert);
}

/* Set the verdict and its reason, which always names the file (the backend's messages usually do
 * already). */
static void set_verdict(struct store_cert *cert, enum store_cert_verdict verdict, const char *why)
{
    char *text;
    int n = strstr(why, cert->file) ? asprintf(&text, "%s", why)
                                    : asprintf(&text, "%s: %s", cert->file, why);

    cert->verdict = verdict;
    cert->why = n < 0 ? reason_lost : text;
}

/* The host a file is named for: "_.example.com.pfx" -> "*.example.com". */
static void file_host(const char *file, char *out, size_t size)
{
    size_t n = strlen(file) - strlen(STORE_FILE_SUFFIX);
    if (strncmp(file, "_.", 2) == 0)
        snprintf(out, size, "*.%.*s", (int)(n - 2), file + 2);
    else
        snprintf(out, size, "%.*s", (int)n, file);
}

/* The verdict of a file that was read: the rule of what is served. */
static void judge(struct store_cert *cert)
{
    const struct pfx_inspection *insp = &cert->insp;
    char host[STORE_NAME_BUF + 8], why[ERRBUF_SIZE];

    if (insp->status != PFX_OK) {
        set_verdict(cert, STORE_CERT_DOES_NOT_OPEN, insp->error);
    } else if (!insp->decoded.bundle.key) {
        set_verdict(cert, STORE_CERT_NO_KEY, "holds no private key");
    } else if (!insp->decoded.key_matches) {
        set_verdict(cert, STORE_CERT_KEY_MISMATCH,
                    "the private key does not match the certificate");
    } else if (!cert_names_find_file(&insp->names, cert->file)) {
        file_host(cert->file, host, sizeof(host));
        snprintf(why, sizeof(why), "the certificate (subject %s) does not name %s",
                 insp->summary.subject, host);
        set_verdict(cert, STORE_CERT_WRONG_NAME, why);
    } else {
        cert->verdict = STORE_CERT_USABLE;
    }
}

/* Replace each issuer in CHAIN by the pool's copy of the same certificate, adding new ones while
 * there is room. */
static void share_issuers(struct issuer_pool *pool, STACK_OF(X509) * chain)
{
    pthread_mutex_lock(&pool->mutex);
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *own = sk_X509_value(chain, i), *shared = NULL;

        for (size_t j = 0; j < pool->count && !shared; j++)
            if (X509_cmp(pool->certs[j], own) == 0)
                shared = pool->certs[j];
        if (shared && X509_up_ref(shared)) {
            sk_X509_set(chain, i, shared);
            X509_free(own);
        } else if (!shared && pool->count < ISSUER_POOL_MAX && X509_up_ref(own)) {
            pool->certs[pool->count++] = own;
        }
    }
    pthread_mutex_unlock(&pool->mutex);
}

/* Read and judge FILE, without any mutex of the cache. *OUT is NULL and *ABSENT set when there is
 * no such file. Fails only for lack of memory. */
static int load_file(struct store_cache *c, const char *file, struct store_cert **out, int *absent,
                     struct errbuf *err)
{
    struct store_cert *cert = calloc(1, sizeof(*cert));
    struct store_entry info;
    struct bytes data = {0};
    struct errbuf ioerr = {""};
    int missing = 0;

    *out = NULL;
    *absent = 0;
    if (!cert)
        return errbuf_set(err, "%s: out of memory loading it", file);
    atomic_init(&cert->refs, 1);
    cert->why = no_reason;
    snprintf(cert->file, sizeof(cert->file), "%s", file);
    if (c->opts.load_hook)
        c->opts.load_hook(c->opts.load_hook_arg, file);
    /* stat before the read: if the file changes in between, the version is the older one, so a
     * comparison later sees a change that happened rather than missing one. */
    if (store_stat(c->st, file, &info, &missing, &ioerr) == 0 && !missing) {
        cert->version = info.version;
        if (store_read(c->st, file, CERT_INPUT_MAX, &data, &missing, &ioerr) == 0 && !missing) {
            store_inspect_bytes(data.data, data.len, c->password, &cert->insp);
            bytes_free(&data);
            judge(cert);
            cert_names_free(&cert->insp.names); /* see cache.h: N names in N files cost N² */
            share_issuers(&c->issuers, cert->insp.decoded.bundle.chain);
        }
    }
    if (missing) {
        store_cert_unref(cert);
        *absent = 1;
        return 0;
    }
    if (ioerr.msg[0]) {
        /* Nothing was parsed: say so in insp too, for callers that look at insp.status alone. */
        cert->insp.status = PFX_DAMAGED;
        snprintf(cert->insp.error, sizeof(cert->insp.error), "%s", ioerr.msg);
        set_verdict(cert, STORE_CERT_UNREADABLE, ioerr.msg);
    }
    *out = cert;
    return 0;
}

/* ---- hashing and the tables ------------------------------------------------------------------ */

static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13) ^ s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17) ^ s->v2;
    s->v2 = rotl64(s->v2, 32);
}

/* SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012; one compression
 * and three finalisation rounds, as Python and Rust use for their hash tables). */
static uint64_t siphash13(const uint64_t key[2], const char *in, size_t len)
{
    struct sip s = {key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                    key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
    uint64_t last = (uint64_t)len << 56;
    size_t full = len & ~(size_t)7;

    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = 0;
        for (int j = 0; j < 8; j++)
            m |= (uint64_t)(unsigned char)in[i + j] << (8 * j);
        s.v3 ^= m;
        sip_round(&s);
        s.v0 ^= m;
    }
    for (size_t j = 0; j < (len & 7); j++)
        last |= (uint64_t)(unsigned char)in[full + j] << (8 * j);
    s.v3 ^= last;
    sip_round(&s);
    s.v0 ^= last;
    s.v2 ^= 0xff;
    sip_round(&s);
    sip_round(&s);
    sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* The shard takes the hash's top bits, the buckets its bottom bits: independent of each other. */
static struct cache_shard *shard_of(const struct store_cache *c, uint64_t hash)
{
    return &c->shards[(hash >> 56) & (c->nshards - 1)];
}

static struct cache_entry *table_find(const struct cache_shard *s, const char *name, uint64_t hash)
{
    struct cache_entry *e = s->buckets[hash & (s->nbuckets - 1)];
    for (; e; e = e->chain)
        if (e->hash == hash && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Double the buckets. Without memory the table keeps its size: longer chains, still correct. */
static void table_grow(struct cache_shard *s)
{
    size_t n = s->nbuckets * 2;
    struct cache_entry **b = calloc(n, sizeof(*b));

    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct cache_entry *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void table_unlink(struct cache_shard *s, struct cache_entry *e)
{
    struct cache_entry **p = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    s->count--;
}

/* ---- lists ----------------------------------------------------------------------------------- */

static struct cache_entry *entry_of(struct lru_link *l)
{
    return (struct cache_entry *)l; /* lru is the first member */
}

static void lru_init(struct lru_list *l, size_t max)
{
    l->head.prev = l->head.next = &l->head;
    l->count = 0;
    l->max = max;
}

static void lru_unlink(struct lru_list *l, struct cache_entry *e)
{
    e->lru.prev->next = e->lru.next;
    e->lru.next->prev = e->lru.prev;
    l->count--;
}

static void lru_push_front(struct lru_list *l, struct cache_entry *e)
{
    e->lru.next = l->head.next;
    e->lru.prev = &l->head;
    l->head.next->prev = &e->lru;
    l->head.next = &e->lru;
    l->count++;
}

static struct lru_list *list_of(struct cache_shard *s, const struct cache_entry *e)
{
    return e->state == ENTRY_PRESENT ? &s->present : &s->negative;
}

/* ---- entries --------------------------------------------------------------------------------- */

static void bury_cert(struct graveyard *g, struct store_cert *cert)
{
    if (!cert)
        return;
    if (g->ncerts < GRAVEYARD_CERTS)
        g->certs[g->ncerts++] = cert;
    else
        store_cert_unref(cert); /* never reached by today's callers; correct, only slower */
}

static void graveyard_free(struct graveyard *g)
{
    struct cache_entry *e, *next;

    for (size_t i = 0; i < g->ncerts; i++)
        store_cert_unref(g->certs[i]);
    g->ncerts = 0;
    for (e = g->entries; e; e = next) {
        next = e->chain;
        store_cert_unref(e->current);
        store_cert_unref(e->good);
        free(e);
    }
    g->entries = NULL;
}

static int entry_pinned(const struct cache_entry *e)
{
    return e->loading || e->waiters > 0;
}

/* Take E out of the table and its list; it is freed with the graveyard. */
static void entry_drop(struct cache_shard *s, struct cache_entry *e, struct graveyard *g)
{
    table_unlink(s, e);
    lru_unlink(list_of(s, e), e);
    e->chain = g->entries;
    g->entries = e;
}

/* Drop entries of L from its least recently used end until it is within its bound: second chance
 * for a referenced one (back to the front, unmarked), never KEEP or a pinned one — so a list whose
 * every entry is pinned may stay over its bound until the loads finish. Each entry is looked at
 * most twice. */
static void enforce_bound(struct cache_shard *s, struct lru_list *l, const struct cache_entry *keep,
                          struct graveyard *g)
{
    size_t budget = 2 * l->count;

    while (l->count > l->max && budget-- > 0) {
        struct cache_entry *e = entry_of(l->head.prev);

        if (e == keep || entry_pinned(e) || e->referenced) {
            e->referenced = 0;
            lru_unlink(l, e);
            lru_push_front(l, e);
            continue;
        }
        entry_drop(s, e, g);
        s->stats.evictions++;
    }
}

/* Move E to the front of the list of STATE (used now). */
static void set_state(struct cache_shard *s, struct cache_entry *e, enum entry_state state,
                      struct graveyard *g)
{
    struct lru_list *from = list_of(s, e), *to;

    e->state = state;
    e->referenced = 0;
    to = list_of(s, e);
    lru_unlink(from, e);
    lru_push_front(to, e);
    if (to != from)
        enforce_bound(s, to, e, g);
}

static struct cache_entry *entry_new(struct cache_shard *s, const char *name, size_t len,
                                     uint64_t hash, struct graveyard *g)
{
    struct cache_entry *e = calloc(1, sizeof(*e) + len + 1);
    size_t b;

    if (!e)
        return NULL;
    memcpy(e->name, name, len + 1);
    e->hash = hash;
    e->state = ENTRY_UNKNOWN;
    if (s->count >= s->nbuckets)
        table_grow(s);
    b = hash & (s->nbuckets - 1);
    e->chain = s->buckets[b];
    s->buckets[b] = e;
    s->count++;
    lru_push_front(&s->negative, e);
    enforce_bound(s, &s->negative, e, g);
    return e;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static long long due_after(unsigned ms)
{
    return ms ? now_ns() + (long long)ms * NS_PER_MS : 0;
}

/* Known, not invalidated, and not past a TTL: answered without a load. */
static int entry_fresh(const struct cache_entry *e)
{
    return e->state != ENTRY_UNKNOWN && !e->stale && (e->due_ns == 0 || now_ns() < e->due_ns);
}

/* Make E absent (a load found no file, or the file was removed): nothing of it is served. */
static void entry_set_absent(struct store_cache *c, struct cache_shard *s, struct cache_entry *e,
                             struct graveyard *g)
{
    bury_cert(g, e->current);
    bury_cert(g, e->good);
    e->current = e->good = NULL;
    e->stale = 0;
    e->due_ns = due_after(c->opts.negative_ttl_ms);
    set_state(s, e, ENTRY_ABSENT, g);
}

/* Install a load's result in E (the epoch did not move while it ran). CERT is borrowed. */
static void entry_install(struct store_cache *c, struct cache_shard *s, struct cache_entry *e,
                          struct store_cert *cert, struct graveyard *g)
{
    bury_cert(g, e->current);
    e->current = store_cert_ref(cert);
    if (cert->verdict == STORE_CERT_USABLE) {
        bury_cert(g, e->good);
        e->good = store_cert_ref(cert);
    }
    e->stale = 0;
    e->due_ns = cert->verdict == STORE_CERT_UNREADABLE ? due_after(c->opts.unreadable_retry_ms) : 0;
    set_state(s, e, ENTRY_PRESENT, g);
}

static void answer_from_entry(const struct cache_entry *e, struct store_cache_answer *out)
{
    out->state = e->state == ENTRY_PRESENT  ? STORE_CACHE_PRESENT
                 : e->state == ENTRY_ABSENT ? STORE_CACHE_ABSENT
                                            : STORE_CACHE_UNKNOWN;
    if (e->current && e->current == e->good) { /* the usual case: one atomic add for both */
        atomic_fetch_add_explicit(&e->current->refs, 2, memory_order_relaxed);
        out->latest = out->serve = e->current;
        return;
    }
    out->latest = store_cert_ref(e->current);
    out->serve = store_cert_ref(e->good);
}

static void prepare_report(const struct store_cert *cert, const struct store_cert *kept,
                           struct pending_report *r)
{
    r->due = 1;
    snprintf(r->file, sizeof(r->file), "%s", cert->file);
    if (kept)
        snprintf(r->message, sizeof(r->message),
                 "%s; the previous certificate (thumbprint %s) stays in service", cert->why,
                 kept->insp.summary.thumbprint);
    else
        snprintf(r->message, sizeof(r->message), "%s", cert->why);
}

/* Load E's file with the mutex released, then install the result unless an invalidation came in
 * meanwhile, and answer. Called and returns with the shard's mutex held; E is not being loaded. */
static int entry_load(struct store_cache *c, struct cache_shard *s, struct cache_entry *e,
                      struct store_cache_answer *out, struct graveyard *g,
                      struct pending_report *report, struct errbuf *err)
{
    unsigned long epoch = e->epoch;
    struct store_cert *cert = NULL;
    int absent = 0, rc;

    e->loading = 1;
    s->stats.loads++;
    pthread_mutex_unlock(&s->mutex);
    rc = load_file(c, e->name, &cert, &absent, err);
    pthread_mutex_lock(&s->mutex);
    e->loading = 0;
    pthread_cond_broadcast(&s->loaded);
    if (rc < 0)
        return -1;
    if (cert && cert->verdict != STORE_CERT_USABLE)
        s->stats.load_failures++;
    if (e->epoch == epoch) {
        if (absent)
            entry_set_absent(c, s, e, g);
        else
            entry_install(c, s, e, cert, g);
        answer_from_entry(e, out);
    } else {
        /* Invalidated while loading: what was read may predate the event, so the cache keeps what
         * the event left, and only this lookup gets what it read. */
        out->state = absent ? STORE_CACHE_ABSENT : STORE_CACHE_PRESENT;
        out->latest = store_cert_ref(cert);
        out->serve = cert && cert->verdict == STORE_CERT_USABLE ? store_cert_ref(cert) : NULL;
    }
    if (cert && cert->verdict != STORE_CERT_USABLE)
        prepare_report(cert, out->serve, report);
    bury_cert(g, cert);
    return 0;
}

/* ---- lookups --------------------------------------------------------------------------------- */

static int check_file_name(const char *file, size_t *len, struct errbuf *err)
{
    *len = strlen(file);
    if (*len == 0 || *len > STORE_FILE_NAME_MAX || memchr(file, '/', *len))
        return errbuf_set(err, "\"%.*s\" is not a store file name", 300, file);
    return 0;
}

/* The loop of store_cache_get, with the shard's mutex held. */
static int get_locked(struct store_cache *c, struct cache_shard *s, struct cache_entry *e,
                      unsigned flags, struct store_cache_answer *out, struct graveyard *g,
                      struct pending_report *report, struct errbuf *err)
{
    int first = 1;

    for (;; first = 0) {
        if (entry_fresh(e)) {
            if (first && e->state == ENTRY_PRESENT)
                s->stats.hits++;
            else if (first)
                s->stats.negative_hits++;
            e->referenced = 1;
            answer_from_entry(e, out);
            return 0;
        }
        /* A load is due. Serve what is servable rather than wait (stale-while-revalidate). */
        if (e->good && (e->loading || (flags & STORE_CACHE_NOWAIT))) {
            if (first)
                s->stats.stale_hits++;
            e->referenced = 1;
            answer_from_entry(e, out);
            out->stale = 1;
            out->want_load = !e->loading;
            return 0;
        }
        if (first)
            s->stats.misses++;
        if (flags & STORE_CACHE_NOWAIT) {
            out->state = STORE_CACHE_UNKNOWN;
            out->want_load = 1;
            return 0;
        }
        if (!e->loading)
            return entry_load(c, s, e, out, g, report, err);
        if (first)
            s->stats.coalesced++;
        e->waiters++;
        pthread_cond_wait(&s->loaded, &s->mutex);
        e->waiters--;
    }
}

int store_cache_get(struct store_cache *c, const char *file, unsigned flags,
                    struct store_cache_answer *out, struct errbuf *err)
{
    /* Only the fields that say "empty" are set: a designated initialiser would zero the whole
     * report (1.4 KiB) on every lookup, hits included. */
    struct graveyard g;
    struct pending_report report;
    struct cache_shard *s;
    struct cache_entry *e;
    uint64_t hash;
    size_t len;
    int rc = -1;

    g.ncerts = 0;
    g.entries = NULL;
    report.due = 0;
    memset(out, 0, sizeof(*out));
    if (check_file_name(file, &len, err) < 0)
        return -1;
    hash = siphash13(c->hash_key, file, len);
    s = shard_of(c, hash);
    pthread_mutex_lock(&s->mutex);
    e = table_find(s, file, hash);
    if (!e)
        e = entry_new(s, file, len, hash, &g);
    if (!e)
        errbuf_set(err, "%s: out of memory caching it", file);
    else
        rc = get_locked(c, s, e, flags, out, &g, &report, err);
    pthread_mutex_unlock(&s->mutex);
    graveyard_free(&g);
    if (report.due && c->opts.report)
        c->opts.report(c->opts.report_arg, report.file, report.message);
    return rc;
}

int store_cache_load(struct store_cache *c, const char *file, struct errbuf *err)
{
    struct store_cache_answer a;

    if (store_cache_get(c, file, 0, &a, err) < 0)
        return -1;
    store_cache_answer_release(&a);
    return 0;
}

void store_cache_answer_release(struct store_cache_answer *a)
{
    store_cert_unref(a->serve);
    store_cert_unref(a->latest);
    memset(a, 0, sizeof(*a));
}

/* ---- invalidation ---------------------------------------------------------------------------- */

/* Forget an entry that holds nothing servable; a pinned one is only made due for a load. */
static void entry_forget(struct cache_shard *s, struct cache_entry *e, struct graveyard *g)
{
    e->epoch++;
    if (entry_pinned(e)) {
        e->state = ENTRY_UNKNOWN; /* stays on the negative list */
        e->due_ns = 0;
    } else {
        entry_drop(s, e, g);
    }
}

static void rescan_shard(struct cache_shard *s)
{
    struct graveyard g = {.ncerts = 0};
    struct lru_link *link, *next;

    pthread_mutex_lock(&s->mutex);
    for (link = s->present.head.next; link != &s->present.head; link = link->next) {
        entry_of(link)->stale = 1;
        entry_of(link)->epoch++;
    }
    for (link = s->negative.head.next; link != &s->negative.head; link = next) {
        next = link->next;
        entry_forget(s, entry_of(link), &g);
    }
    pthread_mutex_unlock(&s->mutex);
    graveyard_free(&g);
}

void store_cache_apply_event(struct store_cache *c, const struct store_event *ev)
{
    struct graveyard g = {.ncerts = 0};
    struct cache_shard *s;
    struct cache_entry *e;
    uint64_t hash;

    if (ev->kind == STORE_EVENT_RESCAN) {
        for (size_t i = 0; i < c->nshards; i++)
            rescan_shard(&c->shards[i]);
        return;
    }
    hash = siphash13(c->hash_key, ev->name, strlen(ev->name));
    s = shard_of(c, hash);
    pthread_mutex_lock(&s->mutex);
    e = table_find(s, ev->name, hash);
    if (!e) {
        /* Not cached: the next lookup reads the file as it is then. */
    } else if (ev->kind == STORE_EVENT_REMOVED) {
        e->epoch++;
        entry_set_absent(c, s, e, &g);
    } else if (e->state == ENTRY_PRESENT) {
        e->epoch++;
        e->stale = 1;
    } else {
        entry_forget(s, e, &g);
    }
    pthread_mutex_unlock(&s->mutex);
    graveyard_free(&g);
}

void store_cache_apply(struct store_cache *c, const struct store_events *evs)
{
    /* One critical section per event: each drops at most two certificates (the graveyard's room),
     * and lookups get the mutex between events of a long batch. */
    for (size_t i = 0; i < evs->count; i++)
        store_cache_apply_event(c, &evs->items[i]);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static size_t shard_count(const struct store_cache_options *o)
{
    size_t n = 1;

    while (n < SHARDS_MAX && o->max_entries / (n * 2) >= SHARD_MIN_BOUND &&
           o->max_negative / (n * 2) >= SHARD_MIN_BOUND)
        n *= 2;
    return n;
}

static void mutex_init_adaptive(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    /* glibc: spin briefly before sleeping. A hit holds the mutex for ~100 ns; sleeping on the
     * futex and being woken costs microseconds, the whole budget of a hit. */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

static int shard_init(struct cache_shard *s, size_t max_entries, size_t max_negative)
{
    mutex_init_adaptive(&s->mutex);
    pthread_cond_init(&s->loaded, NULL);
    lru_init(&s->present, max_entries);
    lru_init(&s->negative, max_negative);
    s->nbuckets = TABLE_INITIAL_BUCKETS;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    return s->buckets ? 0 : -1;
}

static void shard_free(struct cache_shard *s)
{
    struct graveyard g = {.ncerts = 0};

    for (size_t i = 0; s->buckets && i < s->nbuckets; i++) {
        struct cache_entry *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->chain;
            e->chain = g.entries;
            g.entries = e;
        }
    }
    graveyard_free(&g);
    free(s->buckets);
    pthread_mutex_destroy(&s->mutex);
    pthread_cond_destroy(&s->loaded);
}

static int cache_init(struct store_cache *c, const char *password)
{
    size_t per_entries, per_negative;

    c->nshards = shard_count(&c->opts);
    /* Each shard's share of the bounds, rounded up: the total may exceed a bound by nshards - 1. */
    per_entries = (c->opts.max_entries + c->nshards - 1) / c->nshards;
    per_negative = (c->opts.max_negative + c->nshards - 1) / c->nshards;
    c->shards = aligned_alloc(sizeof(struct cache_shard), c->nshards * sizeof(struct cache_shard));
    if (!c->shards)
        return -1;
    memset(c->shards, 0, c->nshards * sizeof(struct cache_shard));
    for (size_t i = 0; i < c->nshards; i++)
        if (shard_init(&c->shards[i], per_entries, per_negative) < 0)
            return -1;
    c->password_len = strlen(password);
    c->password = malloc(c->password_len + 1);
    if (!c->password)
        return -1;
    memcpy(c->password, password, c->password_len + 1);
    return 0;
}

int store_cache_new(struct store *st, const char *password, const struct store_cache_options *opts,
                    struct store_cache **out, struct errbuf *err)
{
    struct store_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return errbuf_set(err, "cache of %s: out of memory", store_display_name(st));
    pthread_mutex_init(&c->issuers.mutex, NULL);
    c->st = st;
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_entries)
        c->opts.max_entries = STORE_CACHE_DEFAULT_ENTRIES;
    if (!c->opts.max_negative)
        c->opts.max_negative = STORE_CACHE_DEFAULT_NEGATIVE;
    if (!c->opts.unreadable_retry_ms)
        c->opts.unreadable_retry_ms = STORE_CACHE_DEFAULT_UNREADABLE_RETRY_MS;
    if (cache_init(c, password) < 0) {
        store_cache_free(c);
        return errbuf_set(err, "cache of %s: out of memory", store_display_name(st));
    }
    if (RAND_bytes((unsigned char *)c->hash_key, sizeof(c->hash_key)) != 1) {
        store_cache_free(c);
        return errbuf_set_ssl(err, "cache of %s: no random hash key", store_display_name(st));
    }
    *out = c;
    return 0;
}

void store_cache_free(struct store_cache *c)
{
    if (!c)
        return;
    /* shards is zeroed before any shard_init, so a shard without buckets was never initialised. */
    for (size_t i = 0; c->shards && i < c->nshards && c->shards[i].buckets; i++)
        shard_free(&c->shards[i]);
    free(c->shards);
    for (size_t i = 0; i < c->issuers.count; i++)
        X509_free(c->issuers.certs[i]);
    pthread_mutex_destroy(&c->issuers.mutex);
    if (c->password) {
        OPENSSL_cleanse(c->password, c->password_len);
        free(c->password);
    }
    free(c);
}

void store_cache_stats(struct store_cache *c, struct store_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < c->nshards; i++) {
        struct cache_shard *s = &c->shards[i];

        pthread_mutex_lock(&s->mutex);
        out->hits += s->stats.hits;
        out->negative_hits += s->stats.negative_hits;
        out->stale_hits += s->stats.stale_hits;
        out->misses += s->stats.misses;
        out->loads += s->stats.loads;
        out->coalesced += s->stats.coalesced;
        out->load_failures += s->stats.load_failures;
        out->evictions += s->stats.evictions;
        out->entries += s->present.count;
        out->negative_entries += s->negative.count;
        pthread_mutex_unlock(&s->mutex);
    }
}
