/* store.c — the public face of a store: backend chosen by location, the I/O mutex around every
 * backend call, capabilities checked before a backend is asked to pretend, and the writers' lock.
 *
 * Invariants:
 *  - every backend call happens with st->io_mutex held (unless the backend is thread-safe), and
 *    nothing else happens under it (no parsing, no waiting for another lock), so a slow parse
 *    never blocks another thread's I/O;
 *  - the writers' lock is st->writer_mutex (threads of this process) then the backend's handle
 *    lock or the lease (processes and machines), taken in that order and released in reverse;
 *  - a store's display name never holds a user name or password, whatever the location held. */
#include "store/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

/* ---- locations ------------------------------------------------------------------------------ */

enum store_location_kind store_location_kind(const char *location)
{
    if (strncmp(location, "smb://", 6) == 0 || strncmp(location, "//", 2) == 0 ||
        strncmp(location, "\\\\", 2) == 0)
        return STORE_LOCATION_SMB;
    return STORE_LOCATION_LOCAL;
}

/* ---- open and close ------------------------------------------------------------------------- */

static void store_free(struct store *st)
{
    pthread_mutex_destroy(&st->io_mutex);
    pthread_mutex_destroy(&st->writer_mutex);
    free(st);
}

int store_open(const char *location, const struct store_open_options *opts, struct store **out,
               struct errbuf *err)
{
    struct store_open_options defaults = {0};
    struct store *st;
    int rc;

    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (!location || !*location)
        return errbuf_set(err, "store location is empty");
    st = calloc(1, sizeof(*st));
    if (!st)
        return errbuf_set(err, "out of memory");
    pthread_mutex_init(&st->io_mutex, NULL);
    pthread_mutex_init(&st->writer_mutex, NULL);
    st->lease_seconds = opts->lease_seconds ? opts->lease_seconds : STORE_LEASE_DEFAULT_SECONDS;
    if (store_location_kind(location) == STORE_LOCATION_SMB)
        rc = store_smb_open(location, &opts->smb, st, err);
    else
        rc = store_local_open(location, st, err);
    if (rc < 0) {
        store_free(st);
        return -1;
    }
    st->lock_kind = opts->lock;
    if (st->lock_kind == STORE_LOCK_DEFAULT)
        st->lock_kind = st->ops->lock ? STORE_LOCK_HANDLE : STORE_LOCK_LEASE;
    if (st->lock_kind == STORE_LOCK_HANDLE && !st->ops->lock) {
        errbuf_set(err, "store %s: the %s backend has no handle lock; use a lease", st->display,
                   st->ops->kind);
        store_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->writer_held && pthread_equal(st->writer_thread, pthread_self())) {
        /* a caller that forgot store_unlock(): do not leave the lock held */
        struct errbuf ignored;
        store_unlock(st, &ignored);
    }
    if (st->ops && st->ops->close)
        st->ops->close(st);
    store_free(st);
}

const char *store_display_name(const struct store *st)
{
    return st->display;
}

const char *store_kind(const struct store *st)
{
    return st->ops->kind;
}

unsigned store_capabilities(const struct store *st)
{
    return st->ops->capabilities;
}

int store_has(const struct store *st, enum store_capability cap)
{
    return (st->ops->capabilities & (unsigned)cap) != 0;
}

enum store_lock_kind store_lock_kind(const struct store *st)
{
    return st->lock_kind;
}

/* ---- I/O under the mutex -------------------------------------------------------------------- */

void store_io_begin(struct store *st)
{
    if (!st->ops->thread_safe)
        pthread_mutex_lock(&st->io_mutex);
}

void store_io_end(struct store *st)
{
    if (!st->ops->thread_safe)
        pthread_mutex_unlock(&st->io_mutex);
}

int store_list(struct store *st, struct store_entries *out, struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->list(st, out, err);
    store_io_end(st);
    return rc;
}

int store_read(struct store *st, const char *name, size_t max_len, struct bytes *out, int *missing,
               struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->read(st, name, max_len, out, missing, err);
    store_io_end(st);
    return rc;
}

int store_stat(struct store *st, const char *name, struct store_entry *out, int *missing,
               struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->stat(st, name, out, missing, err);
    store_io_end(st);
    return rc;
}

int store_write_atomic(struct store *st, const char *name, const struct bytes *data,
                       const struct store_write_options *opts, struct errbuf *err)
{
    struct store_write_options o = {.mode = 0, .gid = -1};
    int rc;

    if (opts)
        o = *opts;
    if (store_has(st, STORE_CAP_POSIX_MODE)) {
        if (o.mode == 0)
            o.mode = st->ops->default_mode;
    } else if (o.mode != 0 || o.gid >= 0) {
        return errbuf_set(err,
                          "store %s: %s files have no POSIX %s; the share's own permissions "
                          "apply",
                          st->display, st->ops->kind, o.mode != 0 ? "mode" : "group");
    }
    store_io_begin(st);
    rc = st->ops->write_atomic(st, name, data, &o, err);
    store_io_end(st);
    return rc;
}

int store_remove(struct store *st, const char *name, struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->remove(st, name, err);
    store_io_end(st);
    return rc;
}

int store_sync(struct store *st, struct errbuf *err)
{
    int rc = 0;
    if (!st->ops->sync)
        return 0;
    store_io_begin(st);
    rc = st->ops->sync(st, err);
    store_io_end(st);
    return rc;
}

int store_io_create_exclusive(struct store *st, const char *name, const struct bytes *data,
                              int *exists, struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->create_exclusive(st, name, data, exists, err);
    store_io_end(st);
    return rc;
}

int store_io_rename_noreplace(struct store *st, const char *from, const char *to, int *exists,
                              int *missing, struct errbuf *err)
{
    int rc;
    store_io_begin(st);
    rc = st->ops->rename_noreplace(st, from, to, exists, missing, err);
    store_io_end(st);
    return rc;
}

/* ---- the writers' lock ---------------------------------------------------------------------- */

int store_lock(struct store *st, struct errbuf *err)
{
    int rc;

    pthread_mutex_lock(&st->writer_mutex);
    if (st->lock_kind == STORE_LOCK_LEASE) {
        rc = store_lease_acquire(st, err);
    } else {
        /* flock blocks: the I/O mutex is not held, so readers carry on meanwhile. */
        rc = st->ops->lock(st, err);
    }
    if (rc < 0)
        pthread_mutex_unlock(&st->writer_mutex);
    else {
        st->writer_thread = pthread_self();
        st->writer_held = 1;
    }
    return rc;
}

int store_lock_keepalive(struct store *st, struct errbuf *err)
{
    if (st->lock_kind != STORE_LOCK_LEASE)
        return 0;
    return store_lease_keepalive(st, err);
}

int store_unlock(struct store *st, struct errbuf *err)
{
    int rc = 0;

    /* Only the holder may unlock: unlocking a mutex another thread holds is undefined. */
    if (!st->writer_held || !pthread_equal(st->writer_thread, pthread_self()))
        return errbuf_set(err, "store %s: unlock without holding the lock", st->display);

    if (st->lock_kind == STORE_LOCK_LEASE)
        rc = store_lease_release(st, err);
    else
        st->ops->unlock(st);
    st->writer_held = 0;
    pthread_mutex_unlock(&st->writer_mutex);
    return rc;
}

unsigned store_stale_temp_seconds(const struct store *st)
{
    return st->lease_seconds;
}

int store_remove_stale_temps(struct store *st, struct errbuf *err)
{
    struct store_entries entries;
    long long cutoff_ns = ((long long)time(NULL) - (long long)store_stale_temp_seconds(st)) *
                          1000000000LL;
    int rc = 0;

    if (store_list(st, &entries, err) < 0)
        return -1;
    for (size_t i = 0; i < entries.count; i++) {
        const struct store_entry *e = &entries.items[i];
        if (!store_is_temp_name(e->name) || e->type != STORE_ENTRY_FILE ||
            e->version.mtime_ns > cutoff_ns)
            continue;
        if (store_remove(st, e->name, err) < 0)
            rc = -1;
    }
    store_entries_free(&entries);
    return rc;
}

/* ---- names and small helpers ---------------------------------------------------------------- */

int store_is_temp_name(const char *name)
{
    return strncmp(name, STORE_TEMP_PREFIX, strlen(STORE_TEMP_PREFIX)) == 0;
}

int store_is_pfx_name(const char *name)
{
    size_t n = strlen(name), m = strlen(STORE_FILE_SUFFIX);
    return n > m && strcmp(name + n - m, STORE_FILE_SUFFIX) == 0 && !store_is_temp_name(name);
}

int store_version_equal(const struct store_version *a, const struct store_version *b)
{
    return a->file_id == b->file_id && a->mtime_ns == b->mtime_ns && a->size == b->size;
}

void store_entries_free(struct store_entries *entries)
{
    free(entries->items);
    entries->items = NULL;
    entries->count = 0;
}
