/* resolve.c — the one served rule (resolve.h), and the ASCII fast path of host planning.
 *
 * Invariants:
 *  - a host is planned (validated) before the cache is asked anything, so an invalid host never
 *    reaches the store;
 *  - candidates are tried in order and the first file that exists decides; a later candidate is
 *    only tried after an earlier one was found absent;
 *  - the fast path plans only hosts on which it provably agrees with store_lookup_plan() (the unit
 *    test compares them on a table and on random names); anything else goes the slow way. */
#include "store/resolve.h"

#include <stdio.h>
#include <string.h>

const char *store_resolve_rule_name(enum store_resolve_rule rule)
{
    switch (rule) {
    case STORE_RESOLVE_EXACT:
        return "exact";
    case STORE_RESOLVE_WILDCARD:
        return "wildcard";
    case STORE_RESOLVE_NONE:
        break;
    }
    return "none";
}

/* ---- planning -------------------------------------------------------------------------------- */

/* Longest host the fast path takes: the file name "host.pfx" must fit STORE_FILE_NAME_MAX. Longer
 * ones (up to DNS_NAME_MAX) go to store_lookup_plan(), which says why it refuses them. */
#define FAST_HOST_MAX (STORE_FILE_NAME_MAX - (sizeof(STORE_FILE_SUFFIX) - 1))

int store_resolve_plan_ascii(const char *host, size_t len, struct store_lookup_plan *out)
{
    char lowered[FAST_HOST_MAX + 1];
    size_t n = len;
    const char *parent;

    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 0 || n > FAST_HOST_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        lowered[i] = c;
    }
    lowered[n] = '\0';
    /* All digits and dots may be an IP literal, which the slow path refuses with its own words:
     * store_name_is_plain_ascii() leaves those out too. */
    if (!store_name_is_plain_ascii(lowered, n))
        return 0;
    if (lowered[0] == '_' && (lowered[1] == '.' || lowered[1] == '\0'))
        return 0; /* reserved for wildcard file names: the slow path says so */

    /* The same plan store_lookup_plan() builds: for such a host the Unicode and A-label forms are
     * the lower-cased host itself. Only the strings are written, not the whole 4 KiB struct: this
     * runs on every handshake, and zeroing it cost more than the rest of the path. */
    out->host.wildcard = 0;
    out->wildcard_file[0] = '\0';
    memcpy(out->host.unicode, lowered, n + 1);
    memcpy(out->host.ace, lowered, n + 1);
    snprintf(out->host.file, sizeof(out->host.file), "%s%s", lowered, STORE_FILE_SUFFIX);
    memcpy(out->exact_file, out->host.file, n + sizeof(STORE_FILE_SUFFIX));
    parent = strchr(out->host.unicode, '.');
    if (parent && strchr(parent + 1, '.'))
        snprintf(out->wildcard_file, sizeof(out->wildcard_file), "_%s%s", parent,
                 STORE_FILE_SUFFIX);
    return 1;
}

int store_resolve_plan(const char *host, size_t len, struct store_lookup_plan *out,
                       struct errbuf *err)
{
    if (store_resolve_plan_ascii(host, len, out))
        return 0;
    return store_lookup_plan(host, len, out, err);
}

/* ---- resolving ------------------------------------------------------------------------------- */

static void candidates_init(struct store_resolution *r)
{
    static const enum store_resolve_rule rules[STORE_RESOLVE_CANDIDATES] = {STORE_RESOLVE_EXACT,
                                                                            STORE_RESOLVE_WILDCARD};
    const char *files[STORE_RESOLVE_CANDIDATES] = {r->plan.exact_file, r->plan.wildcard_file};

    r->rule = STORE_RESOLVE_NONE;
    r->file = NULL;
    r->cert = NULL;
    r->stale = 0;
    r->load_needed = NULL;
    r->candidate_count = r->plan.wildcard_file[0] ? 2 : 1;
    for (size_t i = 0; i < STORE_RESOLVE_CANDIDATES; i++)
        r->candidates[i] = (struct store_resolve_candidate){
            .file = i < r->candidate_count ? files[i] : NULL,
            .rule = rules[i],
            .outcome = STORE_CANDIDATE_NOT_TRIED,
        };
}

/* Candidate C exists: it decides. The answer's references move into R. */
static void decide(struct store_resolution *r, struct store_resolve_candidate *c,
                   struct store_cache_answer *a)
{
    r->rule = c->rule;
    r->file = c->file;
    r->stale = a->stale;
    c->latest = a->latest;
    if (a->serve) {
        r->cert = a->serve;
        c->outcome = STORE_CANDIDATE_SERVED;
        c->last_good = a->serve != a->latest;
    } else {
        c->outcome = STORE_CANDIDATE_UNUSABLE;
    }
    a->serve = a->latest = NULL;
}

static int resolve_candidates(struct store_cache *cache, unsigned flags, struct store_resolution *r,
                              struct errbuf *err)
{
    for (size_t i = 0; i < r->candidate_count; i++) {
        struct store_resolve_candidate *c = &r->candidates[i];
        struct store_cache_answer a;

        if (store_cache_get(cache, c->file, flags, &a, err) < 0)
            return -1;
        if (a.want_load && !r->load_needed)
            r->load_needed = c->file;
        if (a.state == STORE_CACHE_ABSENT) {
            c->outcome = STORE_CANDIDATE_ABSENT;
            continue;
        }
        if (a.state == STORE_CACHE_UNKNOWN)
            c->outcome = STORE_CANDIDATE_NOT_LOADED; /* NOWAIT: cannot go on before it is known */
        else
            decide(r, c, &a);
        store_cache_answer_release(&a);
        break;
    }
    return 0;
}

int store_resolve_planned(struct store_cache *cache, const struct store_lookup_plan *plan,
                          unsigned flags, struct store_resolution *out, struct errbuf *err)
{
    if (plan != &out->plan)
        out->plan = *plan;
    candidates_init(out);
    if (resolve_candidates(cache, flags, out, err) < 0) {
        store_resolution_release(out);
        return -1;
    }
    return 0;
}

int store_resolve(struct store_cache *cache, const char *host, size_t len, unsigned flags,
                  struct store_resolution *out, struct errbuf *err)
{
    if (store_resolve_plan(host, len, &out->plan, err) < 0) {
        candidates_init(out); /* so a release of OUT is harmless */
        return -1;
    }
    return store_resolve_planned(cache, &out->plan, flags, out, err);
}

void store_resolution_release(struct store_resolution *r)
{
    store_cert_unref(r->cert);
    r->cert = NULL;
    for (size_t i = 0; i < STORE_RESOLVE_CANDIDATES; i++) {
        store_cert_unref(r->candidates[i].latest);
        r->candidates[i].latest = NULL;
    }
}

void store_resolve_candidate_why(const struct store_resolution *r, size_t i, char *out, size_t size)
{
    const struct store_resolve_candidate *c = &r->candidates[i];

    switch (c->outcome) {
    case STORE_CANDIDATE_NOT_TRIED:
        snprintf(out, size, "not tried: %s exists and decides",
                 r->file ? r->file : "an earlier file");
        break;
    case STORE_CANDIDATE_ABSENT:
        snprintf(out, size, "no such file");
        break;
    case STORE_CANDIDATE_SERVED:
        if (c->last_good)
            snprintf(out, size, "served: the previous certificate (thumbprint %s), because %s",
                     r->cert->insp.summary.thumbprint, errmsg_after_name(c->latest->why, c->file));
        else
            snprintf(out, size, "served (%s)", store_resolve_rule_name(c->rule));
        break;
    case STORE_CANDIDATE_UNUSABLE:
        snprintf(out, size, "not served: %s", errmsg_after_name(c->latest->why, c->file));
        break;
    case STORE_CANDIDATE_NOT_LOADED:
        snprintf(out, size, "not loaded yet");
        break;
    }
}
