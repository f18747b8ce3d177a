#include "store/rekey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testpoint.h"

const char *rekey_action_name(enum rekey_action action)
{
    static const char *const names[] = {"rewritten", "done", "left", "failed"};
    return names[action];
}

/* What the plan saw of one file, and what it would write. */
struct planned {
    struct store_version seen; /* the version judged */
    unsigned mode;             /* kept on rewrite (STORE_CAP_POSIX_MODE only) */
    long gid;
    struct bytes encoded; /* REKEY_REWRITTEN: the file under the new password */
};

/* The format to write DEC in. */
static enum pfx_format target_format(const struct rekey_options *o, const struct pfx_decoded *dec)
{
    if (!o->keep_format)
        return o->format;
    return dec->format == PFX_FORMAT_AES256 ? PFX_FORMAT_AES256 : PFX_FORMAT_COMPAT;
}

/* Decide what to do with DATA, the bytes of E's file: open it with the old password (rewrite),
 * else with the new one (done), else leave it. */
static void judge_bytes(const struct bytes *data, const struct rekey_options *o,
                        struct rekey_entry *e, struct planned *p)
{
    struct pfx_decoded dec;
    struct errbuf err = {""};
    enum pfx_status status = pfx_decode(data->data, data->len, o->old_password, &dec, &err);
    enum pfx_format format;

    if (status == PFX_OK) {
        format = target_format(o, &dec);
        if (pfx_encode(&dec.bundle, o->new_password, format, dec.friendly[0] ? dec.friendly : NULL,
                       &p->encoded, &err) < 0) {
            e->action = REKEY_LEFT;
            snprintf(e->detail, sizeof(e->detail), "opens with the old password, but cannot be "
                     "re-encoded: %s", err.msg);
        } else {
            e->action = REKEY_REWRITTEN;
            snprintf(e->detail, sizeof(e->detail), "opens with the old password: rewritten under "
                     "the new one (%s)", pfx_format_name(format));
        }
        pfx_decoded_free(&dec);
        return;
    }
    e->action = REKEY_LEFT;
    if (status != PFX_WRONG_PASSWORD) {
        snprintf(e->detail, sizeof(e->detail), "left alone: %s", err.msg);
        return;
    }
    status = pfx_decode(data->data, data->len, o->new_password, &dec, &err);
    if (status == PFX_OK) {
        e->action = REKEY_DONE;
        snprintf(e->detail, sizeof(e->detail), "already under the new password");
        pfx_decoded_free(&dec);
    } else if (status == PFX_WRONG_PASSWORD) {
        snprintf(e->detail, sizeof(e->detail),
                 "left alone: opens with neither the old nor the new password");
    } else {
        snprintf(e->detail, sizeof(e->detail), "left alone: %s", err.msg);
    }
}

/* Judge E's file as it is now (the version first, then the bytes: a change in between shows as a
 * changed version under the lock). */
static void judge(struct store *st, const struct rekey_options *o, struct rekey_entry *e,
                  struct planned *p)
{
    struct store_entry now;
    struct bytes data = {0};
    struct errbuf err;
    int missing = 0;

    bytes_free(&p->encoded);
    if (store_stat(st, e->file, &now, &missing, &err) < 0 ||
        (!missing && now.type == STORE_ENTRY_FILE &&
         store_read(st, e->file, CERT_INPUT_MAX, &data, &missing, &err) < 0)) {
        e->action = REKEY_LEFT;
        snprintf(e->detail, sizeof(e->detail), "left alone: %s", err.msg);
        return;
    }
    if (missing || now.type != STORE_ENTRY_FILE) {
        e->action = REKEY_LEFT;
        snprintf(e->detail, sizeof(e->detail), "left alone: %s",
                 missing                               ? "removed while rekeying"
                 : now.type == STORE_ENTRY_SYMLINK ? "a symbolic link (not followed)"
                                                   : "not a regular file");
        return;
    }
    p->seen = now.version;
    p->mode = now.mode;
    p->gid = now.gid;
    judge_bytes(&data, o, e, p);
    bytes_free(&data);
}

static int plan(struct store *st, const struct rekey_options *o, struct rekey_report *r,
                struct planned **out, struct errbuf *err)
{
    struct store_entries entries;
    size_t n = 0;

    if (store_list(st, &entries, err) < 0)
        return -1;
    for (size_t i = 0; i < entries.count; i++)
        n += store_is_pfx_name(entries.items[i].name) != 0;
    r->entries = calloc(n ? n : 1, sizeof(*r->entries));
    *out = calloc(n ? n : 1, sizeof(**out));
    if (!r->entries || !*out) {
        store_entries_free(&entries);
        return errbuf_set(err, "out of memory");
    }
    for (size_t i = 0; i < entries.count; i++) {
        if (!store_is_pfx_name(entries.items[i].name))
            continue;
        snprintf(r->entries[r->count].file, sizeof(r->entries->file), "%s",
                 entries.items[i].name);
        judge(st, o, &r->entries[r->count], &(*out)[r->count]);
        r->count++;
    }
    store_entries_free(&entries);
    return 0;
}

/* Under the lock: write every planned file, judging again any that changed since the plan. */
static void apply(struct store *st, const struct rekey_options *o, struct rekey_report *r,
                  struct planned *planned)
{
    size_t written = 0;
    int posix = store_has(st, STORE_CAP_POSIX_MODE);
    struct errbuf err;

    for (size_t i = 0; i < r->count; i++) {
        struct rekey_entry *e = &r->entries[i];
        struct planned *p = &planned[i];
        struct store_write_options w;
        struct store_entry now;
        int missing = 0;

        if (e->action != REKEY_REWRITTEN)
            continue;
        if (store_stat(st, e->file, &now, &missing, &err) < 0 || missing ||
            !store_version_equal(&now.version, &p->seen)) {
            judge(st, o, e, p);
            if (e->action != REKEY_REWRITTEN)
                continue;
        }
        w = (struct store_write_options){.mode = posix ? p->mode : 0, .gid = posix ? p->gid : -1};
        if (store_lock_keepalive(st, &err) < 0 ||
            store_write_atomic(st, e->file, &p->encoded, &w, &err) < 0) {
            e->action = REKEY_FAILED;
            snprintf(e->detail, sizeof(e->detail), "%s", err.msg);
            continue;
        }
        /* where a test interrupts a rekey between two files (util/testpoint.h) */
        test_point("rekey-written:%zu", ++written);
    }
    if (written && store_sync(st, &err) < 0) {
        /* The renames happened; their durability is in doubt: say so on every file written. */
        for (size_t i = 0; i < r->count; i++)
            if (r->entries[i].action == REKEY_REWRITTEN) {
                r->entries[i].action = REKEY_FAILED;
                snprintf(r->entries[i].detail, sizeof(r->entries[i].detail),
                         "written, but not made durable: %s", err.msg);
            }
    }
}

int store_rekey(struct store *st, const struct rekey_options *o, struct rekey_report *r,
                struct errbuf *err)
{
    struct planned *planned = NULL;
    struct errbuf unlock_err;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    r->dry_run = o->dry_run;
    snprintf(r->store, sizeof(r->store), "%s", store_display_name(st));
    if (strcmp(o->old_password, o->new_password) == 0)
        return errbuf_set(err, "store %s: the new password is the old one: nothing to change",
                          store_display_name(st));
    if (plan(st, o, r, &planned, err) < 0)
        goto out;
    if (!o->dry_run) {
        if (store_lock(st, err) < 0)
            goto out;
        apply(st, o, r, planned);
        if (store_unlock(st, &unlock_err) < 0) {
            /* A lease lost while writing: another writer may have interleaved. */
            errbuf_set(err, "%s", unlock_err.msg);
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; planned && i < r->count; i++)
        bytes_free(&planned[i].encoded);
    free(planned);
    for (size_t i = 0; i < r->count; i++)
        r->counts[r->entries[i].action]++;
    return rc;
}

void rekey_report_free(struct rekey_report *r)
{
    free(r->entries);
    memset(r, 0, sizeof(*r));
}
