/* cache.h — the parsed cache: store file name → what the file holds, parsed once, kept until a
 * change event says otherwise. Built for `ccs serve`, which resolves a certificate on every
 * handshake and cannot afford a PFX parse (≈2 ms of key derivation) each time; `ccs store lookup`
 * uses it too, so both apply the same verdicts.
 *
 * Keyed by store FILE name, not host: every host under one wildcard shares `_.example.com.pfx`, and
 * a change event names a file, so it invalidates exactly one key.
 *
 * Invariants (what the cache promises its callers):
 *  - a loaded file is a `struct store_cert`: immutable once published and reference-counted, so a
 *    caller may keep using one after the cache dropped it (a replacement, an eviction, a removal);
 *  - last-good: a load whose result is not usable (does not open, no key, key mismatch, does not
 *    name the file, unreadable) never takes a usable certificate of the same file out of service;
 *    the failure is reported (the callback below), naming the file and the reason;
 *  - a REMOVED event stops a file being served at once: no lookup that starts after
 *    store_cache_apply() returns is served it (unless a later load finds the file again);
 *  - one load per file at a time: concurrent lookups of one name share one read and parse, and a
 *    load started before an invalidation of its file never replaces what the invalidation left;
 *  - the store is read and parsed outside the cache's mutexes: a lookup of a cached name holds one
 *    (its shard's) only for a hash lookup and reference increments, never while a load runs, and
 *    never waits for a reload while the file has something servable (stale-while-revalidate);
 *  - bounded: at most max_entries loaded files and max_negative absent (or not yet loaded) names
 *    (each of the up to 16 shards keeps its share, rounded up), least recently used dropped first,
 *    so a flood of random names cannot grow memory or hammer the store (each costs one read, then
 *    a negative entry, until the negative bound recycles it). */
#ifndef CCS_STORE_CACHE_H
#define CCS_STORE_CACHE_H

#include <stdatomic.h>
#include <stddef.h>

#include "store/inspect.h"
#include "store/store.h"

/* Defaults for the bounds. Entries: a store of 100,000 names fits whole (a loaded file costs
 * ~10 KiB, bench/resolve: 1 GiB at the bound; set it lower on a small machine). Negative: 10,000
 * absent names cover any real client population's typos while a random-name flood recycles them. */
#define STORE_CACHE_DEFAULT_ENTRIES 100000
#define STORE_CACHE_DEFAULT_NEGATIVE 10000
/* A file that could not be read at all (an I/O error, a share gone away) may be fine a moment later
 * without any change event: such a result is retried after this long. */
#define STORE_CACHE_DEFAULT_UNREADABLE_RETRY_MS 1000

/* What a load found out about one file, most serious first after USABLE. */
enum store_cert_verdict {
    STORE_CERT_USABLE,        /* opens with the password, has a matching key, names the file */
    STORE_CERT_UNREADABLE,    /* present but cannot be read: a symbolic link, a directory, I/O */
    STORE_CERT_DOES_NOT_OPEN, /* insp.status says why (wrong password, truncated, ...) */
    STORE_CERT_NO_KEY,        /* opens, but holds no private key */
    STORE_CERT_KEY_MISMATCH,  /* the key does not match the certificate */
    STORE_CERT_WRONG_NAME,    /* the certificate does not name the host the file is named for */
};

/* "usable", "unreadable", "does-not-open", "no-key", "key-mismatch", "wrong-name". */
const char *store_cert_verdict_name(enum store_cert_verdict verdict);

/* One load of one file. Immutable once the cache publishes it: read any field, write none. */
struct store_cert {
    atomic_uint refs; /* store_cert_ref / store_cert_unref only */
    char file[STORE_FILE_NAME_MAX + 1];
    struct store_version version; /* as stat'ed just before the read */
    enum store_cert_verdict verdict;
    const char *why; /* not USABLE: one line naming the file and the reason; "" when USABLE */
    /* The parsed file: key, leaf, chain, summary, format. insp.status is PFX_OK for every verdict
     * but DOES_NOT_OPEN (its reason) and UNREADABLE (PFX_DAMAGED, nothing parsed). insp.names is
     * empty: the names were needed for the verdict only, and a certificate with N names is stored
     * in N files, so keeping them would cost N² (2.3 KiB a name); a caller that prints them
     * collects them from insp.decoded.bundle.cert. Issuer certificates in the chain may be shared
     * with other store_certs (read-only). */
    struct pfx_inspection insp;
};

struct store_cert *store_cert_ref(struct store_cert *cert);
/* Drop a reference; the last one frees the certificate (and wipes its key). NULL is a no-op. */
void store_cert_unref(struct store_cert *cert);

struct store_cache_options {
    size_t max_entries;           /* loaded files; 0: STORE_CACHE_DEFAULT_ENTRIES */
    size_t max_negative;          /* absent names; 0: STORE_CACHE_DEFAULT_NEGATIVE */
    unsigned negative_ttl_ms;     /* 0: absent until an event says otherwise; set it when no
                                     change feed is applied (`store lookup`, tests) */
    unsigned unreadable_retry_ms; /* 0: STORE_CACHE_DEFAULT_UNREADABLE_RETRY_MS */
    /* Called (with no mutex of the cache held, from the loading thread) for every load that is not
     * usable: FILE and a one-line MESSAGE saying why, and whether a previous certificate stays
     * served. */
    void (*report)(void *arg, const char *file, const char *message);
    void *report_arg;
    /* Tests and benchmarks: called in the loading thread just before the file is read. */
    void (*load_hook)(void *arg, const char *file);
    void *load_hook_arg;
};

struct store_cache;

/* A cache over ST (which must outlive it) and the store PASSWORD (copied; wiped on free). OPTS may
 * be NULL. */
int store_cache_new(struct store *st, const char *password, const struct store_cache_options *opts,
                    struct store_cache **out, struct errbuf *err);
/* Free CACHE once no call on it is running. References it handed out stay valid. */
void store_cache_free(struct store_cache *cache);

enum store_cache_state {
    STORE_CACHE_UNKNOWN, /* NOWAIT only: not loaded yet (or invalidated and nothing servable) */
    STORE_CACHE_ABSENT,  /* no such file */
    STORE_CACHE_PRESENT, /* the file exists: see latest and serve */
};

/* Flags of store_cache_get() and store_resolve(). */
#define STORE_CACHE_NOWAIT 1u /* never read the store, never wait: answer from what is cached */

struct store_cache_answer {
    enum store_cache_state state;
    struct store_cert *serve;  /* PRESENT: the usable certificate to serve (a reference), or NULL */
    struct store_cert *latest; /* PRESENT: the last load's result (a reference); it differs from
                                  serve when that load was not usable and a previous one is kept */
    int stale; /* answered from an entry a change event (or a retry timer) made due for a reload */
    int want_load; /* NOWAIT: a load is due; call store_cache_load(FILE) off the event loop */
};

void store_cache_answer_release(struct store_cache_answer *a);

/* What the cache knows of FILE (a store file name, already validated: names.h). When FILE is not
 * cached, or due for a reload, this lookup loads it and answers with the result — except that it
 * answers at once with the last usable certificate (stale) when another thread's load of FILE is
 * running, and that with STORE_CACHE_NOWAIT it never loads or waits. A missing file is state
 * ABSENT, not an error; -1 only for an invalid FILE or no memory. */
int store_cache_get(struct store_cache *cache, const char *file, unsigned flags,
                    struct store_cache_answer *out, struct errbuf *err);
/* Load FILE now if a load is due (waiting for one already running instead of starting a second):
 * what a server calls off its event loop after a NOWAIT answer said want_load. */
int store_cache_load(struct store_cache *cache, const char *file, struct errbuf *err);

/* Apply change events: CHANGED makes the file's entry due for a reload (its last usable certificate
 * is served until the reload finishes), REMOVED makes it absent at once, RESCAN makes every loaded
 * file due for a reload and forgets every absent name. */
void store_cache_apply_event(struct store_cache *cache, const struct store_event *ev);
void store_cache_apply(struct store_cache *cache, const struct store_events *evs);

struct store_cache_stats {
    unsigned long long hits;          /* answered from a fresh loaded entry */
    unsigned long long negative_hits; /* answered "absent" from a fresh negative entry */
    unsigned long long stale_hits; /* a stale entry's last usable served: a reload due or running */
    unsigned long long misses;     /* a load was needed (this lookup's or another's) */
    unsigned long long loads;      /* reads and parses done (a missing file counts too) */
    unsigned long long coalesced;  /* lookups that waited for another thread's load */
    unsigned long long load_failures; /* loads of a present file that was not usable */
    unsigned long long evictions;     /* entries dropped by a bound */
    size_t entries;                   /* loaded files now */
    size_t negative_entries;          /* absent or not-yet-loaded names now */
};

void store_cache_stats(struct store_cache *cache, struct store_cache_stats *out);

#endif
