#include "store/deploy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/check.h"
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

static int add_warning(struct deploy_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_warning(struct deploy_report *r, const char *fmt, ...)
{
    struct deploy_warning *grown = realloc(r->warnings, (r->warning_count + 1) * sizeof(*grown));
    va_list ap;

    if (!grown)
        return -1;
    r->warnings = grown;
    va_start(ap, fmt);
    vsnprintf(grown[r->warning_count++].text, sizeof(grown->text), fmt, ap);
    va_end(ap);
    return 0;
}

/* ---- the plan ----------------------------------------------------------------------------------
 *
 * Planning reads and opens the files the deploy would replace or remove. That is done before the
 * lock is taken: opening a file costs up to about a second (pfx.h, PFX_READ_ITERATIONS_MAX), and a
 * writer holding the lock that long per file would stall every other writer of the store. Under
 * the lock each planned file's version (store_stat) is compared with what the plan saw, and only a
 * file that changed in between is judged again: what the writes replace is still what was judged,
 * and the lock is held for at most one bounded parse per file that changed. */

/* One judged file: which entry, and the version it was judged at. */
struct plan_item {
    size_t entry;                  /* index into the report's entries */
    const struct store_name *name; /* the name the file is for */
    int prune;                     /* a name of the previous certificate (remove), else write */
    int missing;                   /* the file did not exist */
    struct store_version seen;     /* its version when judged (missing: meaningless) */
};

struct plan {
    struct plan_item *items;
    size_t count;
    struct inspect_cache cache;
    struct cert_summary previous; /* opts->previous summarised, when given */
};

static void plan_free(struct plan *p)
{
    free(p->items);
    inspect_cache_free(&p->cache);
}

static struct plan_item *add_item(struct plan *p, size_t entry, const struct store_name *name,
                                  int prune)
{
    struct plan_item *grown = realloc(p->items, (p->count + 1) * sizeof(*grown));

    if (!grown)
        return NULL;
    p->items = grown;
    grown += p->count++;
    memset(grown, 0, sizeof(*grown));
    grown->entry = entry;
    grown->name = name;
    grown->prune = prune;
    return grown;
}

/* Read ITEM's file as it is now. Returns the inspection (NULL with *MISSING set when there is no
 * file, NULL with E marked failed when it cannot be read), or -1 through *OOM. */
static const struct pfx_inspection *read_item(struct store *st, struct plan *p, struct plan_item *item,
                                              struct deploy_entry *e, const char *password, int *oom)
{
    struct store_entry stat;
    struct bytes existing = {0};
    const struct pfx_inspection *insp;
    struct errbuf err;
    int missing = 0;

    *oom = 0;
    /* The version first, then the bytes: if the file changes in between, the version is the older
     * one, and the check under the lock sees a change and judges again. */
    if (store_stat(st, item->name->file, &stat, &missing, &err) < 0 ||
        (!missing && store_read(st, item->name->file, CERT_INPUT_MAX, &existing, &missing, &err) < 0)) {
        e->action = DEPLOY_FAILED;
        snprintf(e->detail, sizeof(e->detail), "%s", errmsg_after_name(err.msg, e->file));
        item->missing = 0;
        memset(&item->seen, 0xff, sizeof(item->seen)); /* never equal: judged again under the lock */
        return NULL;
    }
    item->missing = missing;
    item->seen = stat.version;
    if (missing)
        return NULL;
    insp = inspect_cached(&p->cache, &existing, password);
    bytes_free(&existing);
    *oom = insp == NULL;
    return insp;
}

/* What to do with the file of one name of the new certificate, given what it holds now. */
static int judge_name(struct store *st, struct plan *p, struct plan_item *item,
                      struct deploy_report *r, const struct deploy_options *opts)
{
    struct deploy_entry *e = &r->entries[item->entry];
    const struct cert_summary *ours = &r->cert;
    const struct pfx_inspection *insp;
    char when[32];
    int oom;

    e->action = DEPLOY_WRITTEN;
    e->detail[0] = '\0';
    insp = read_item(st, p, item, e, opts->password, &oom);
    if (oom)
        return -1;
    if (!insp) {
        if (item->missing)
            snprintf(e->detail, sizeof(e->detail), "new file");
        return 0;
    }
    if (insp->status != PFX_OK) {
        snprintf(e->detail, sizeof(e->detail), "replaces a file that could not be opened: %s",
                 insp->error);
        return 0;
    }
    format_utc(insp->summary.not_after, when, sizeof(when));
    /* Unchanged only when the file is what this deploy would write: the same certificate, format,
     * a matching key paired by localKeyID, the leaf first. Anything less is rewritten (repaired). */
    if (strcmp(insp->summary.thumbprint, ours->thumbprint) == 0 &&
        insp->decoded.format == opts->format && insp->decoded.key_matches &&
        insp->decoded.pairing == PFX_PAIRED && insp->decoded.leaf_first && !opts->force) {
        e->action = DEPLOY_UNCHANGED;
        snprintf(e->detail, sizeof(e->detail), "already holds this certificate");
    } else if (insp->summary.not_after > ours->not_after && !opts->force) {
        e->action = DEPLOY_SKIPPED;
        snprintf(e->detail, sizeof(e->detail),
                 "holds a newer certificate (%s, expires %s)",
                 insp->summary.thumbprint, when);
    } else if (strcmp(insp->summary.thumbprint, ours->thumbprint) == 0) {
        snprintf(e->detail, sizeof(e->detail), "rewrites this certificate (%s)",
                 insp->decoded.format != opts->format ? "another format"
                 : !insp->decoded.key_matches         ? "its key did not match"
                 : insp->decoded.pairing != PFX_PAIRED ? pfx_pairing_text(insp->decoded.pairing)
                 : !insp->decoded.leaf_first           ? "the leaf was not first"
                                                       : "forced");
    } else {
        snprintf(e->detail, sizeof(e->detail), "replaces %s (expires %s)%s",
                 insp->summary.thumbprint, when,
                 insp->summary.not_after > ours->not_after ? ", a newer one: forced" : "");
    }
    return 0;
}

/* A name the previous certificate had and ours lacks: remove the file only if it still holds the
 * previous certificate (matched by thumbprint, as win-acme does: field notes §3). */
static int judge_prune(struct store *st, struct plan *p, struct plan_item *item,
                       struct deploy_report *r, const struct deploy_options *opts)
{
    struct deploy_entry *e = &r->entries[item->entry];
    const struct pfx_inspection *insp;
    int oom;

    e->action = DEPLOY_REMOVED;
    e->detail[0] = '\0';
    insp = read_item(st, p, item, e, opts->password, &oom);
    if (oom)
        return -1;
    if (!insp) {
        if (item->missing) {
            /* Gone since the plan (or never there): nothing to remove. */
            e->action = DEPLOY_KEPT;
            snprintf(e->detail, sizeof(e->detail), "dropped name: no file");
        }
        return 0;
    }
    if (insp->status != PFX_OK) {
        e->action = DEPLOY_KEPT;
        snprintf(e->detail, sizeof(e->detail), "dropped name kept: cannot verify its owner (%s)",
                 insp->error);
    } else if (strcmp(insp->summary.thumbprint, p->previous.thumbprint) != 0) {
        e->action = DEPLOY_KEPT;
        snprintf(e->detail, sizeof(e->detail),
                 "dropped name kept: the file holds another certificate (%s)",
                 insp->summary.thumbprint);
    } else {
        snprintf(e->detail, sizeof(e->detail), "dropped since the previous certificate (%s)",
                 p->previous.thumbprint);
    }
    return 0;
}

static int judge(struct store *st, struct plan *p, struct plan_item *item, struct deploy_report *r,
                 const struct deploy_options *opts)
{
    return item->prune ? judge_prune(st, p, item, r, opts) : judge_name(st, p, item, r, opts);
}

/* Plan every file of the certificate's names, and the prune candidates (before the lock). */
static int plan_files(struct store *st, const struct cert_names *names,
                      const struct cert_names *previous, struct plan *p, struct deploy_report *r,
                      const struct deploy_options *opts)
{
    for (size_t i = 0; i < names->count; i++) {
        struct plan_item *item;
        if (!add_entry(r, names->names[i].unicode, names->names[i].file, DEPLOY_WRITTEN) ||
            !(item = add_item(p, r->count - 1, &names->names[i], 0)) ||
            judge(st, p, item, r, opts) < 0)
            return -1;
    }
    for (size_t i = 0; previous && i < previous->count; i++) {
        const struct store_name *name = &previous->names[i];
        struct plan_item *item;
        if (cert_names_find_file(names, name->file))
            continue;
        if (!add_entry(r, name->unicode, name->file, DEPLOY_REMOVED) ||
            !(item = add_item(p, r->count - 1, name, 1)) || judge(st, p, item, r, opts) < 0)
            return -1;
        if (item->missing) {
            /* Nothing there: nothing to report, and nothing to remove later — a file that
             * appears after the plan was not judged, so it is left alone. */
            r->count--;
            p->count--;
        }
    }
    return 0;
}

/* Under the lock: judge again only the files that changed since the plan. */
static int replan_changed(struct store *st, struct plan *p, struct deploy_report *r,
                          const struct deploy_options *opts)
{
    for (size_t i = 0; i < p->count; i++) {
        struct plan_item *item = &p->items[i];
        struct store_entry now;
        struct errbuf err;
        int missing = 0;

        if (store_stat(st, item->name->file, &now, &missing, &err) == 0 &&
            missing == item->missing && (missing || store_version_equal(&now.version, &item->seen)))
            continue;
        if (judge(st, p, item, r, opts) < 0)
            return -1;
    }
    return 0;
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

static void count_actions(struct deploy_report *r)
{
    r->changed = r->failed = 0;
    for (size_t i = 0; i < r->count; i++) {
        r->changed += r->entries[i].action == DEPLOY_WRITTEN || r->entries[i].action == DEPLOY_REMOVED;
        r->failed += r->entries[i].action == DEPLOY_FAILED;
    }
}

/* ---- applying it --------------------------------------------------------------------------- */

static void mark_failed(struct deploy_report *r, struct deploy_entry *e, const char *why)
{
    e->action = DEPLOY_FAILED;
    snprintf(e->detail, sizeof(e->detail), "%s", errmsg_after_name(why, e->file)); /* E names it */
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

/* ---- what is deployed ------------------------------------------------------------------------- */

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
        return errbuf_set(err, "certificate %s expired on %s", s->subject, when);
    /* A certificate from the future would replace a valid file with one every client rejects —
     * and newer-only would then protect it. Clocks disagree a little; more is a mistake. */
    format_utc(s->not_before, when, sizeof(when));
    if (s->not_before > opts->now + DEPLOY_CLOCK_SKEW_SECONDS && !opts->force)
        return errbuf_set(err, "certificate %s is not valid before %s (in %ld minutes): clients "
                               "would reject it",
                          s->subject, when, (long)((s->not_before - opts->now + 59) / 60));
    return 0;
}

/* The bundle as deployed: the chain cut to the leaf's issuing path (certificates given that are not
 * on it are dropped, with a warning), and a warning when it lacks the leaf's issuer. OUT shares
 * B's key and leaf; free only OUT->chain (sk_X509_pop_free). */
static int issuing_chain(const struct pfx_bundle *b, struct pfx_bundle *out, struct deploy_report *r)
{
    int path;

    out->key = b->key;
    out->cert = b->cert;
    out->chain = b->chain ? X509_chain_up_ref(b->chain) : sk_X509_new_null();
    if (!out->chain)
        return -1;
    pfx_order_chain(out->cert, out->chain);
    path = pfx_issuing_path_length(out->cert, out->chain);
    while (sk_X509_num(out->chain) > path) {
        X509 *extra = sk_X509_pop(out->chain);
        struct cert_summary s;
        struct errbuf err;
        int rc = cert_summarise(extra, &s, &err) < 0
                     ? add_warning(r, "a chain certificate that cannot be read was dropped: %s",
                                   err.msg)
                     : add_warning(r,
                                   "chain certificate %s (%s) is not on the issuing path of %s: "
                                   "dropped, not shipped",
                                   s.subject, s.thumbprint, r->cert.subject);
        X509_free(extra);
        if (rc < 0)
            return -1;
    }
    r->chain_complete = chain_has_issuer(out->cert, out->chain);
    if (!r->chain_complete &&
        add_warning(r,
                    "the chain lacks the issuer of %s (%s): clients that do not have it cached "
                    "will fail (what check calls chain-incomplete)",
                    r->cert.subject, r->cert.issuer) < 0)
        return -1;
    return 0;
}

int store_deploy(struct store *st, const struct pfx_bundle *bundle, const struct deploy_options *opts,
                 struct deploy_report *r, struct errbuf *err)
{
    struct cert_names names = {0}, previous = {0};
    struct plan plan = {0};
    struct pfx_bundle shipped = {0};
    struct bytes pfx = {0};
    struct errbuf unlock_err;
    const char *mode_problem;
    char friendly[STORE_NAME_BUF + 40];
    int rc = -1, locked = 0;

    memset(r, 0, sizeof(*r));
    r->dry_run = opts->dry_run;
    r->format = opts->format;
    snprintf(r->store, sizeof(r->store), "%s", store_display_name(st));
    /* Before any work, and in a dry run too: a mode the backend cannot keep is the user's error. */
    if (!store_has(st, STORE_CAP_POSIX_MODE) && (opts->write.mode != 0 || opts->write.gid >= 0)) {
        errbuf_set(err, "store %s: %s stores have no POSIX mode or group; the share's own "
                        "permissions apply",
                   store_display_name(st), store_kind(st));
        goto out;
    }
    /* The same modes check calls errors are refused here (unless forced), not written. */
    if (store_has(st, STORE_CAP_POSIX_MODE) && opts->write.mode &&
        (mode_problem = store_mode_problem(opts->write.mode)) && !opts->force) {
        errbuf_set(err, "store %s: mode %04o would make the files %s; use 0640 or stricter",
                   store_display_name(st), opts->write.mode, mode_problem);
        r->refused_unless_forced = 1;
        goto out;
    }
    if (cert_summarise(bundle->cert, &r->cert, err) < 0 ||
        cert_names_collect(bundle->cert, &names, err) < 0)
        goto out;
    if (check_bundle(bundle, &r->cert, &names, opts, err) < 0) {
        r->refused_unless_forced = bundle->key && bundle->cert && names.count > 0 &&
                                   EVP_PKEY_eq(X509_get0_pubkey(bundle->cert), bundle->key) == 1;
        goto out;
    }
    if (opts->previous && (cert_summarise(opts->previous, &plan.previous, err) < 0 ||
                           cert_names_collect(opts->previous, &previous, err) < 0)) {
        errbuf_prefix(err, "previous certificate");
        goto out;
    }
    if (issuing_chain(bundle, &shipped, r) < 0)
        goto oom;
    /* Encode before planning, even in a dry run: a bundle that cannot be encoded fails early. */
    friendly_name(&names, &r->cert, friendly, sizeof(friendly));
    if (pfx_encode(&shipped, opts->password, opts->format, friendly, &pfx, err) < 0)
        goto out;
    if (plan_files(st, &names, opts->previous ? &previous : NULL, &plan, r, opts) < 0 ||
        plan_other_names(&names, r) < 0)
        goto oom;
    if (!opts->dry_run) {
        /* where a test changes a planned file before the lock is taken (util/testpoint.h) */
        test_point("deploy-planned");
        /* Temp files of killed deploys go too: under the lock, one older than the lease has no
         * writer left. */
        struct errbuf ignored;
        if (store_lock(st, err) < 0)
            goto out;
        locked = 1;
        store_remove_stale_temps(st, &ignored);
        if (replan_changed(st, &plan, r, opts) < 0)
            goto oom;
    }
    count_actions(r);
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
    sk_X509_pop_free(shipped.chain, X509_free);
    bytes_free(&pfx);
    plan_free(&plan);
    cert_names_free(&previous);
    cert_names_free(&names);
    if (rc < 0)
        deploy_report_free(r);
    return rc;
}

void deploy_report_free(struct deploy_report *r)
{
    free(r->entries);
    free(r->warnings);
    r->entries = NULL;
    r->warnings = NULL;
    r->count = r->capacity = r->warning_count = 0;
}

/* PATH read whole into OUT (at most CERT_INPUT_MAX bytes). */
static int read_input(const char *path, struct bytes *out, struct errbuf *err)
{
    return bytes_read_file(path, CERT_INPUT_MAX, out, err);
}

int deploy_source_read(const struct deploy_source *src, struct pfx_bundle *out, struct errbuf *err)
{
    struct bytes cert = {0}, key = {0}, chain = {0};
    struct pem_input chain_in = {&chain, src->chain};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!src->cert || !src->key) {
        errbuf_set(err, "no certificate or key file given");
        goto out;
    }
    if (read_input(src->cert, &cert, err) < 0 || read_input(src->key, &key, err) < 0 ||
        (src->chain && read_input(src->chain, &chain, err) < 0))
        goto out;
    rc = pfx_bundle_from_pem((struct pem_input){&cert, src->cert},
                             (struct pem_input){&key, src->key}, src->chain ? &chain_in : NULL, out,
                             err);
out:
    bytes_free(&cert);
    bytes_free(&key);
    bytes_free(&chain);
    return rc;
}

int store_deploy_source(struct store *st, const struct deploy_source *src,
                        const struct deploy_options *opts, struct deploy_report *report,
                        struct errbuf *err)
{
    struct pfx_bundle read = {0};
    struct deploy_options with_previous = *opts;
    X509 *previous = NULL;
    int rc = -1;

    memset(report, 0, sizeof(*report));
    if (!src->bundle && deploy_source_read(src, &read, err) < 0)
        goto out;
    if (src->previous && cert_read_pem_file(src->previous, &previous, NULL, err) < 0) {
        errbuf_prefix(err, "previous certificate");
        goto out;
    }
    with_previous.previous = previous;
    rc = store_deploy(st, src->bundle ? src->bundle : &read, &with_previous, report, err);
out:
    X509_free(previous);
    pfx_bundle_free(&read);
    return rc;
}
