#include "store/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/inspect.h"
#include "util/testpoint.h"

const char *deploy_action_name(enum deploy_action action)
{
    static const char *const names[] = {"written", "unchanged", "skipped", "removed",
                                        "kept",    "rejected",  "no-file", "failed"};
    return names[action];
}

/* Existing files usually share bytes (one deploy wrote them all), and opening a PFX costs ~2 ms of
 * key derivation (field notes §4): inspect each distinct content once. */
struct inspect_cache {
    struct cached {
        unsigned char digest[32];
        struct pfx_inspection insp;
    } *items;
    size_t count;
};

static const struct pfx_inspection *inspect_cached(struct inspect_cache *cache, const struct bytes *data,
                                                   const char *password)
{
    unsigned char digest[32];
    struct cached *grown;

    EVP_Digest(data->data, data->len, digest, NULL, EVP_sha256(), NULL);
    for (size_t i = 0; i < cache->count; i++)
        if (memcmp(cache->items[i].digest, digest, sizeof(digest)) == 0)
            return &cache->items[i].insp;
    grown = realloc(cache->items, (cache->count + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    cache->items = grown;
    memcpy(grown[cache->count].digest, digest, sizeof(digest));
    store_inspect_bytes(data->data, data->len, password, &grown[cache->count].insp);
    return &grown[cache->count++].insp;
}

static void inspect_cache_free(struct inspect_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        pfx_inspection_free(&cache->items[i].insp);
    free(cache->items);
}

static struct deploy_entry *add_entry(struct deploy_report *r, const char *name, const char *file,
                                      enum deploy_action action)
{
    struct deploy_entry *e;

    /* Grow geometrically: a 1,000-name certificate makes 1,000 entries of ~3 KiB. */
    if (r->count == r->capacity) {
        size_t cap = r->capacity ? r->capacity * 2 : 16;
        struct deploy_entry *grown = realloc(r->entries, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        r->entries = grown;
        r->capacity = cap;
    }
    e = &r->entries[r->count++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->action = action;
    return e;
}

/* What to do with one name of the new certificate, given what its file holds now. */
static int plan_name(struct store *st, const struct store_name *name, const struct cert_summary *ours,
                     const struct deploy_options *opts, struct inspect_cache *cache,
                     struct deploy_report *r)
{
    struct deploy_entry *e = add_entry(r, name->unicode, name->file, DEPLOY_WRITTEN);
    struct bytes existing = {0};
    const struct pfx_inspection *insp;
    struct errbuf err;
    char when[32];
    int missing;

    if (!e)
        return -1;
    if (store_read(st, name->file, CERT_INPUT_MAX, &existing, &missing, &err) < 0) {
        e->action = DEPLOY_FAILED;
        snprintf(e->detail, sizeof(e->detail), "%s", err.msg);
        return 0;
    }
    if (missing) {
        snprintf(e->detail, sizeof(e->detail), "new file");
        return 0;
    }
    insp = inspect_cached(cache, &existing, opts->password);
    bytes_free(&existing);
    if (!insp)
        return -1;
    if (insp->status != PFX_OK) {
        snprintf(e->detail, sizeof(e->detail), "replaces a file that could not be opened: %s",
                 insp->error);
        return 0;
    }
    format_utc(insp->summary.not_after, when, sizeof(when));
    if (strcmp(insp->summary.thumbprint, ours->thumbprint) == 0 &&
        insp->decoded.format == opts->format && insp->decoded.key_matches && !opts->force) {
        e->action = DEPLOY_UNCHANGED;
        snprintf(e->detail, sizeof(e->detail), "already holds this certificate");
    } else if (insp->summary.not_after > ours->not_after && !opts->force) {
        e->action = DEPLOY_SKIPPED;
        snprintf(e->detail, sizeof(e->detail),
                 "holds a newer certificate (%s, expires %s); --force replaces it",
                 insp->summary.thumbprint, when);
    } else {
        snprintf(e->detail, sizeof(e->detail), "replaces %s (expires %s)%s",
                 insp->summary.thumbprint, when,
                 insp->summary.not_after > ours->not_after ? ", a newer one: forced" : "");
    }
    return 0;
}

/* Names the previous certificate had and ours lacks: remove the file only if it still holds the
 * previous certificate (matched by thumbprint, as win-acme does: field notes §3). */
static int plan_prune(struct store *st, const struct cert_names *ours, const struct deploy_options *opts,
                      struct inspect_cache *cache, struct deploy_report *r, struct errbuf *err)
{
    struct cert_names previous;
    struct cert_summary prev_summary;
    int rc = -1;

    if (cert_summarise(opts->previous, &prev_summary, err) < 0 ||
        cert_names_collect(opts->previous, &previous, err) < 0)
        return errbuf_prefix(err, "previous certificate");
    for (size_t i = 0; i < previous.count; i++) {
        const struct store_name *name = &previous.names[i];
        const struct pfx_inspection *insp;
        struct bytes existing = {0};
        struct deploy_entry *e;
        int missing;

        if (cert_names_find_file(ours, name->file))
            continue;
        e = add_entry(r, name->unicode, name->file, DEPLOY_REMOVED);
        if (!e)
            goto out;
        if (store_read(st, name->file, CERT_INPUT_MAX, &existing, &missing, err) < 0) {
            e->action = DEPLOY_FAILED;
            snprintf(e->detail, sizeof(e->detail), "%s", err->msg);
            continue;
        }
        if (missing) {
            r->count--; /* nothing there: nothing to report */
            continue;
        }
        insp = inspect_cached(cache, &existing, opts->password);
        bytes_free(&existing);
        if (!insp)
            goto oom;
        if (insp->status != PFX_OK) {
            e->action = DEPLOY_KEPT;
            snprintf(e->detail, sizeof(e->detail), "dropped name kept: cannot verify its owner (%s)",
                     insp->error);
        } else if (strcmp(insp->summary.thumbprint, prev_summary.thumbprint) != 0) {
            e->action = DEPLOY_KEPT;
            snprintf(e->detail, sizeof(e->detail),
                     "dropped name kept: the file holds another certificate (%s)",
                     insp->summary.thumbprint);
        } else {
            snprintf(e->detail, sizeof(e->detail), "dropped since the previous certificate (%s)",
                     prev_summary.thumbprint);
        }
    }
    rc = 0;
    goto out;
oom:
    errbuf_set(err, "out of memory");
out:
    cert_names_free(&previous);
    return rc;
}

static int plan_other_names(const struct cert_names *names, struct deploy_report *r)
{
    for (size_t i = 0; i < names->rejected_count; i++) {
        struct deploy_entry *e = add_entry(r, names->rejected[i].value, NULL, DEPLOY_REJECTED);
        if (!e)
            return -1;
        snprintf(e->detail, sizeof(e->detail), "%s", names->rejected[i].why);
    }
    for (size_t i = 0; i < names->ip_count; i++) {
        struct deploy_entry *e = add_entry(r, names->ips[i], NULL, DEPLOY_NO_FILE);
        if (!e)
            return -1;
        snprintf(e->detail, sizeof(e->detail),
                 "IP address: no file (IIS and ccs serve look certificates up by host name)");
    }
    return 0;
}

static void mark_failed(struct deploy_report *r, struct deploy_entry *e, const char *why)
{
    e->action = DEPLOY_FAILED;
    snprintf(e->detail, sizeof(e->detail), "%s", why);
    r->changed--;
    r->failed++;
}

/* Write every planned file, each a file of its own. (Hard links to one flushed file would save the
 * per-file fsync, but then an administrator's in-place copy over one name — `cp x.pfx
 * www.example.com.pfx` — would silently change every name: measured, and rejected.) */
static int apply_writes(struct store *st, const struct bytes *pfx,
                        const struct deploy_options *opts, struct deploy_report *r)
{
    struct errbuf err;
    size_t written = 0;

    for (size_t i = 0; i < r->count; i++) {
        struct deploy_entry *e = &r->entries[i];
        if (e->action != DEPLOY_WRITTEN)
            continue;
        if (store_lock_keepalive(st, &err) < 0 ||
            store_write_atomic(st, e->file, pfx, &opts->write, &err) < 0) {
            mark_failed(r, e, err.msg);
            continue;
        }
        /* where a kill test stops a deploy between two of its files (util/testpoint.h) */
        test_point("store-written:%zu", ++written);
    }
    return written > 0;
}

/* Carry out the plan: writes first, then removals, then one directory flush. */
static void apply_plan(struct store *st, const struct bytes *pfx, const struct deploy_options *opts,
                       struct deploy_report *r)
{
    int touched = apply_writes(st, pfx, opts, r);
    struct errbuf err;

    for (size_t i = 0; i < r->count; i++) {
        struct deploy_entry *e = &r->entries[i];
        if (e->action != DEPLOY_REMOVED)
            continue;
        if (store_remove(st, e->file, &err) < 0)
            mark_failed(r, e, err.msg);
        else
            touched = 1;
    }
    if (touched && store_sync(st, &err) < 0) {
        /* The renames happened; only their durability is in doubt. Say so, count it as a failure. */
        struct deploy_entry *e = add_entry(r, "(store)", NULL, DEPLOY_FAILED);
        if (e)
            snprintf(e->detail, sizeof(e->detail), "%s", err.msg);
        r->failed++;
    }
}

static void friendly_name(const struct cert_names *names, const struct cert_summary *s, char *out,
                          size_t out_size)
{
    char when[32];
    format_utc(s->not_after, when, sizeof(when));
    when[10] = '\0'; /* the date is enough */
    snprintf(out, out_size, "%s (ccs, expires %s)", names->names[0].unicode, when);
}

static int check_bundle(const struct pfx_bundle *b, const struct cert_summary *s,
                        const struct cert_names *names, const struct deploy_options *opts,
                        struct errbuf *err)
{
    char when[32];

    if (!b->key || !b->cert)
        return errbuf_set(err, "the certificate or its private key is missing");
    if (EVP_PKEY_eq(X509_get0_pubkey(b->cert), b->key) != 1)
        return errbuf_set(err, "the private key does not match the certificate %s", s->subject);
    if (names->count == 0)
        return errbuf_set(err, "certificate %s has no valid host name (%zu rejected, %zu IP): "
                               "nothing to deploy",
                          s->subject, names->rejected_count, names->ip_count);
    format_utc(s->not_after, when, sizeof(when));
    if (s->not_after <= opts->now && !opts->force)
        return errbuf_set(err, "certificate %s expired on %s; --force deploys it anyway",
                          s->subject, when);
    return 0;
}

int store_deploy(struct store *st, const struct pfx_bundle *bundle, const struct deploy_options *opts,
                 struct deploy_report *r, struct errbuf *err)
{
    struct cert_names names = {0};
    struct inspect_cache cache = {0};
    struct bytes pfx = {0};
    struct errbuf unlock_err;
    char friendly[STORE_NAME_BUF + 40];
    int rc = -1, locked = 0;

    memset(r, 0, sizeof(*r));
    r->dry_run = opts->dry_run;
    r->format = opts->format;
    snprintf(r->store, sizeof(r->store), "%s", store_display_name(st));
    /* Before any work, and in a dry run too: a mode the backend cannot keep is the user's error. */
    if (!store_has(st, STORE_CAP_POSIX_MODE) && (opts->write.mode != 0 || opts->write.gid >= 0)) {
        errbuf_set(err, "store %s: %s stores have no POSIX mode or group; drop --mode/--group "
                        "(or mode/group in the [store] section)",
                   store_display_name(st), store_kind(st));
        goto out;
    }
    if (cert_summarise(bundle->cert, &r->cert, err) < 0 ||
        cert_names_collect(bundle->cert, &names, err) < 0)
        goto out;
    if (check_bundle(bundle, &r->cert, &names, opts, err) < 0)
        goto out;
    /* Plan and apply under one lock, so what the plan saw is what the writes replace. Temp files
     * of killed deploys go too: under the lock, one older than the lease has no writer left. */
    if (!opts->dry_run) {
        struct errbuf ignored;
        if (store_lock(st, err) < 0)
            goto out;
        locked = 1;
        store_remove_stale_temps(st, &ignored);
    }
    /* Encode before planning, even in a dry run: a bundle that cannot be encoded fails early. */
    friendly_name(&names, &r->cert, friendly, sizeof(friendly));
    if (pfx_encode(bundle, opts->password, opts->format, friendly, &pfx, err) < 0)
        goto out;
    for (size_t i = 0; i < names.count; i++)
        if (plan_name(st, &names.names[i], &r->cert, opts, &cache, r) < 0)
            goto oom;
    if (opts->previous && plan_prune(st, &names, opts, &cache, r, err) < 0)
        goto out;
    if (plan_other_names(&names, r) < 0)
        goto oom;
    for (size_t i = 0; i < r->count; i++) {
        r->changed += r->entries[i].action == DEPLOY_WRITTEN || r->entries[i].action == DEPLOY_REMOVED;
        r->failed += r->entries[i].action == DEPLOY_FAILED;
    }
    if (!opts->dry_run)
        apply_plan(st, &pfx, opts, r);
    rc = 0;
    goto out;
oom:
    errbuf_set(err, "out of memory");
out:
    if (locked && store_unlock(st, &unlock_err) < 0) {
        /* A lease lost while writing: another writer may have interleaved. Say so. */
        struct deploy_entry *e = rc == 0 ? add_entry(r, "(store)", NULL, DEPLOY_FAILED) : NULL;
        if (e) {
            snprintf(e->detail, sizeof(e->detail), "%s", unlock_err.msg);
            r->failed++;
        }
    }
    bytes_free(&pfx);
    inspect_cache_free(&cache);
    cert_names_free(&names);
    if (rc < 0)
        deploy_report_free(r);
    return rc;
}

void deploy_report_free(struct deploy_report *r)
{
    free(r->entries);
    r->entries = NULL;
    r->count = r->capacity = 0;
}
