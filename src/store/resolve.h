/* resolve.h — the one served rule: which certificate a TLS server serves for a host name, and why.
 *
 *   1. normalise and validate HOST (names.h); an invalid host is refused before anything is read;
 *   2. the exact file, `host.pfx`;
 *   3. only when that file does not exist: the wildcard one level up, `_.parent.pfx` (never deeper,
 *      never onto a single label);
 *   4. else none.
 * A file that exists decides, usable or not: an exact file that cannot be served is not a
 * fall-through to the wildcard (serving the wildcard would hide the problem); the answer is "none
 * served", with the reason. What "usable" means, and the last-good rule, are the cache's (cache.h).
 *
 * `ccs store lookup` and `ccs serve` both call this; neither keeps a rule of its own. */
#ifndef CCS_STORE_RESOLVE_H
#define CCS_STORE_RESOLVE_H

#include "store/cache.h"
#include "store/names.h"

enum store_resolve_rule {
    STORE_RESOLVE_NONE,
    STORE_RESOLVE_EXACT,
    STORE_RESOLVE_WILDCARD,
};

/* "none", "exact", "wildcard": the words `ccs store lookup` prints. */
const char *store_resolve_rule_name(enum store_resolve_rule rule);

/* At most two files are ever tried: the exact one and the wildcard one level up. */
#define STORE_RESOLVE_CANDIDATES 2

enum store_candidate_outcome {
    STORE_CANDIDATE_NOT_TRIED,  /* an earlier candidate exists and decided */
    STORE_CANDIDATE_ABSENT,     /* no such file: the next candidate is tried */
    STORE_CANDIDATE_SERVED,     /* exists, and its certificate (or its last usable one) is served */
    STORE_CANDIDATE_UNUSABLE,   /* exists, nothing usable in it: nothing is served */
    STORE_CANDIDATE_NOT_LOADED, /* STORE_CACHE_NOWAIT: not in the cache yet */
};

struct store_resolve_candidate {
    const char *file; /* into the resolution's plan */
    enum store_resolve_rule rule;
    enum store_candidate_outcome outcome;
    struct store_cert *latest; /* exists: the file's last load (a reference): verdict and why */
    int last_good;             /* SERVED, but a previous certificate: latest is not usable */
};

struct store_resolution {
    struct store_lookup_plan plan;
    enum store_resolve_rule rule; /* the candidate that exists and decided, or NONE */
    const char *file;             /* its file; NULL with NONE */
    struct store_cert *cert;      /* what is served (a reference), or NULL */
    int stale;                    /* cert comes from a file due for a reload */
    struct store_resolve_candidate candidates[STORE_RESOLVE_CANDIDATES];
    size_t candidate_count; /* 1, or 2 when a wildcard file applies */
    /* STORE_CACHE_NOWAIT: a file to store_cache_load() off the event loop. With cert NULL nothing
     * can be decided until it is loaded: load it, then resolve again. With cert set, serve it; the
     * load refreshes a stale entry. */
    const char *load_needed;
};

/* store_lookup_plan() with a fast path: a plain ASCII host (letters, digits, '-', '_', no `xn--`
 * or other "--" in the third and fourth place, no IP literal) is planned without libidn2, which
 * costs microseconds. Same plans, same errors: a host the fast path does not take goes to
 * store_lookup_plan(). Touches no file. */
int store_resolve_plan(const char *host, size_t len, struct store_lookup_plan *out,
                       struct errbuf *err);
/* The fast path alone (tests, the benchmark): 1 when it planned HOST, 0 when it leaves it to
 * store_lookup_plan(), OUT then undefined. */
int store_resolve_plan_ascii(const char *host, size_t len, struct store_lookup_plan *out);

/* Resolve HOST (LEN octets: an SNI name need not be NUL-terminated) through CACHE. FLAGS:
 * STORE_CACHE_NOWAIT answers from the cache alone (see load_needed). Fails for an invalid host
 * (ERR names it and the rule it broke; nothing was read) or for lack of memory. Release OUT. */
int store_resolve(struct store_cache *cache, const char *host, size_t len, unsigned flags,
                  struct store_resolution *out, struct errbuf *err);
/* The same for a host already planned (store_resolve_plan): PLAN may be &OUT->plan. */
int store_resolve_planned(struct store_cache *cache, const struct store_lookup_plan *plan,
                          unsigned flags, struct store_resolution *out, struct errbuf *err);
void store_resolution_release(struct store_resolution *r);

/* One line: why candidate I of R was or was not used, not naming its file (the caller shows
 * r->candidates[i].file beside it). Formatted on demand, so resolving (the hot path of a server)
 * formats nothing. */
void store_resolve_candidate_why(const struct store_resolution *r, size_t i, char *out,
                                 size_t size);

#endif
