/* backend.h — what a backend implements. Private to src/store: everything else uses store.h.
 *
 * store.c calls these with the store's I/O mutex held, one call at a time per store, so a backend
 * needs no locking of its own — unless it declares itself thread_safe (its calls share no mutable
 * state: the local backend works on a directory descriptor only), when calls run concurrently and a
 * slow write (fsync) never holds up a reader on the same store. Every operation works on single file names inside the store (already
 * validated); a backend never follows a symbolic link and never leaves the store.
 *
 * An operation a backend cannot do is NULL, and its capability bit is clear:
 *   sync         NULL: store_sync() succeeds without doing anything (no STORE_CAP_DURABLE_SYNC);
 *   lock/unlock  NULL: the store uses the lease lock file (lease.c), built on create_exclusive,
 *                read, rename_noreplace and remove, which every backend must have;
 *   watch_*      NULL: a watch polls the listing (watch.c).
 * write_atomic must always write a complete temp file (STORE_TEMP_PREFIX) first and rename it over
 * the target; STORE_CAP_ATOMIC_REPLACE says whether that rename replaces in one step. */
#ifndef CCS_STORE_BACKEND_H
#define CCS_STORE_BACKEND_H

#include <pthread.h>

#include "store/store.h"

struct backend_watch; /* a backend's own change notification */

struct store_backend_ops {
    const char *kind; /* "local", "smb" */
    unsigned capabilities;
    unsigned default_mode; /* with STORE_CAP_POSIX_MODE: the mode of a write that asks for none */
    int thread_safe;       /* calls may run concurrently: store.c does not serialise them */

    int (*list)(struct store *st, struct store_entries *out, struct errbuf *err);
    int (*read)(struct store *st, const char *name, size_t max_len, struct bytes *out, int *missing,
                struct errbuf *err);
    int (*stat)(struct store *st, const char *name, struct store_entry *out, int *missing,
                struct errbuf *err);
    /* OPTS->mode is never 0 here with STORE_CAP_POSIX_MODE (store.c fills in default_mode), and is
     * always 0 / gid -1 without it. */
    int (*write_atomic)(struct store *st, const char *name, const struct bytes *data,
                        const struct store_write_options *opts, struct errbuf *err);
    /* Create NAME holding DATA only if no NAME exists: *EXISTS = 1 (and 0 returned) when it does. */
    int (*create_exclusive)(struct store *st, const char *name, const struct bytes *data,
                            int *exists, struct errbuf *err);
    /* Rename FROM to TO only if TO does not exist: *EXISTS = 1 (and 0 returned) when it does;
     * *MISSING = 1 when FROM is gone. */
    int (*rename_noreplace)(struct store *st, const char *from, const char *to, int *exists,
                            int *missing, struct errbuf *err);
    int (*remove)(struct store *st, const char *name, struct errbuf *err);
    int (*sync)(struct store *st, struct errbuf *err);

    /* A handle lock (flock): blocks until held; released by unlock or when the process dies. */
    int (*lock)(struct store *st, struct errbuf *err);
    void (*unlock)(struct store *st);

    int (*watch_open)(struct store *st, struct backend_watch **out, struct errbuf *err);
    int (*watch_fd)(const struct backend_watch *w);
    /* Append what is pending (not waiting; the caller polls watch_fd); names are unfiltered. */
    int (*watch_read)(struct backend_watch *w, struct store_events *out, struct errbuf *err);
    void (*watch_close)(struct backend_watch *w);

    void (*close)(struct store *st);
};

/* The lease lock's state while a store holds it (lease.c). */
struct store_lease {
    int held;
    char token[33];     /* random: whose lock file it is */
    long long expires;  /* unix seconds */
    long long renewed;  /* when we last wrote it */
};

struct store {
    const struct store_backend_ops *ops;
    void *impl;
    char display[512]; /* safe to print: never a password or user name */
    enum store_lock_kind lock_kind;
    unsigned lease_seconds;
    /* Serialises every backend call (unless ops->thread_safe): backends need not be thread-safe. */
    pthread_mutex_t io_mutex;
    /* The writers' lock between threads of this process: a handle lock (flock) is per process, so
     * without this two threads would both "hold" it. */
    pthread_mutex_t writer_mutex;
    /* store_lock() succeeded in WRITER_THREAD and store_unlock() has not run: a guard against an
     * unlock by a thread that does not hold the lock (undefined for a mutex). */
    _Atomic int writer_held;
    pthread_t writer_thread;
    struct store_lease lease;
};

/* Backends. Each fills ST->ops, ST->impl and ST->display; LOCATION is what the user gave. */
int store_local_open(const char *path, struct store *st, struct errbuf *err);
int store_smb_open(const char *location, const struct store_smb_options *opts, struct store *st,
                   struct errbuf *err);

/* Take and release the I/O mutex around a backend call (nothing when the backend is thread-safe):
 * for the files of src/store that call ops directly (watch.c). */
void store_io_begin(struct store *st);
void store_io_end(struct store *st);

/* The two operations the lease needs beyond store.h, with the I/O mutex taken as store.h does. */
int store_io_create_exclusive(struct store *st, const char *name, const struct bytes *data,
                              int *exists, struct errbuf *err);
int store_io_rename_noreplace(struct store *st, const char *from, const char *to, int *exists,
                              int *missing, struct errbuf *err);

/* The lease lock (lease.c), for backends without a handle lock, or when a lease is asked for. Called
 * with the writer mutex held and the I/O mutex not held. */
int store_lease_acquire(struct store *st, struct errbuf *err);
int store_lease_keepalive(struct store *st, struct errbuf *err);
int store_lease_release(struct store *st, struct errbuf *err);

#endif
