/* store.h — a certificate store: a folder of `host.pfx` files, wherever it lives.
 *
 * This is the interface every part of ccs uses (deploy, check, lookup, the renewer, `ccs serve`).
 * `struct store` is opaque; the backends behind it (backend_local.c, and the SMB backend) are private
 * to src/store and implement backend.h.
 *
 * Threads. One store may be used from several threads at once: every function here takes the store's
 * own mutex around the backend call, so a backend that is not thread-safe (libsmbclient is not, field
 * notes §7) is still safe. The mutex is held only for the I/O, never while a caller parses what it
 * read. store_lock() is a different thing: the writers' lock between processes and machines.
 *
 * Names. Every NAME given here is a single file name inside the store (no '/'), already validated by
 * the caller (names.h). A backend never follows symbolic links and never leaves the store. */
#ifndef CCS_STORE_STORE_H
#define CCS_STORE_STORE_H

#include <stddef.h>

#include "store/names.h"
#include "util/bytes.h"
#include "util/err.h"

/* Prefix of temporary files written before a rename. It never ends in ".pfx", so a reader that
 * lists "*.pfx" never sees a half-written file; `ccs store check` reports leftovers. */
#define STORE_TEMP_PREFIX ".ccs-tmp-"
/* The lease lock file of backends without a lock shared between machines (lease.c). */
#define STORE_LOCK_FILE ".ccs-lock"

/* Opaque: a store is used only through the functions below. */
struct store;

/* What a backend can do. Generic code asks instead of pretending: `store check` judges modes only
 * with STORE_CAP_POSIX_MODE, deploy refuses --mode/--group without it, and so on. */
enum store_capability {
    /* Files carry POSIX permission bits and a group, and a writer can set them. */
    STORE_CAP_POSIX_MODE = 1u << 0,
    /* A write replaces NAME in one step: a concurrent reader sees the old file or the new one,
     * never no file. Without it store_write_atomic() still writes a complete temp file first, but
     * there may be a moment with no NAME (the backend documents how long). */
    STORE_CAP_ATOMIC_REPLACE = 1u << 1,
    /* store_sync() makes completed renames and removals durable. Without it store_sync() is a
     * successful no-op: the backend's writes are as durable as the server makes them. */
    STORE_CAP_DURABLE_SYNC = 1u << 2,
    /* The store can hold symbolic links (listed as STORE_ENTRY_SYMLINK, reported, never followed). */
    STORE_CAP_SYMLINKS = 1u << 3,
    /* The backend reports changes itself (inotify, SMB change notification); without it a watch
     * polls the listing. */
    STORE_CAP_CHANGE_NOTIFY = 1u << 4,
};

enum store_entry_type {
    STORE_ENTRY_FILE,
    STORE_ENTRY_DIR,
    STORE_ENTRY_SYMLINK, /* only from backends with STORE_CAP_SYMLINKS */
    STORE_ENTRY_OTHER,
};

/* What tells one version of a file from the next: any write or replacement changes it. */
struct store_version {
    unsigned long long file_id; /* inode, or the share's file id; 0 when the backend has none */
    long long mtime_ns;
    long long size;
};

int store_version_equal(const struct store_version *a, const struct store_version *b);

struct store_entry {
    char name[STORE_FILE_NAME_MAX + 1];
    enum store_entry_type type;
    struct store_version version;
    unsigned mode;         /* permission bits; 0 and meaningless without STORE_CAP_POSIX_MODE */
    long gid;              /* the file's group; meaningless without STORE_CAP_POSIX_MODE */
    char link_target[256]; /* STORE_ENTRY_SYMLINK only */
};

struct store_entries {
    struct store_entry *items; /* sorted by name */
    size_t count;
};

void store_entries_free(struct store_entries *entries);

/* How the writers of a store exclude each other. */
enum store_lock_kind {
    STORE_LOCK_DEFAULT, /* what the backend does best: flock locally, the lease on a share */
    STORE_LOCK_HANDLE,  /* a lock on an open handle (flock): released when the process dies, but
                           not seen by another machine's writer on a network file system */
    STORE_LOCK_LEASE,   /* a lock file inside the store (STORE_LOCK_FILE: holder host, pid, lease
                           expiry), seen by every machine that reaches the store */
};

/* How long a lease lock lasts without renewal: a writer that died is waited for at most this long.
 * A deploy renews its lease as it writes, so this bounds a stall, not a deploy's length. */
#define STORE_LEASE_DEFAULT_SECONDS 120

/* How long an SMB store waits for the server before "timed out" (connect, any one request). */
#define STORE_SMB_DEFAULT_TIMEOUT_MS 20000

/* SMB stores only; ignored for a local path. With none of credentials_file, kerberos and guest,
 * the systemd credential ccs-smb-credentials ($CREDENTIALS_DIRECTORY) is used when present. */
struct store_smb_options {
    const char *credentials_file; /* Samba format (username =, password =, domain =), mode 0600 */
    int kerberos;                 /* the running user's Kerberos credential cache */
    int encrypt;                  /* require SMB3 encryption: refused when the server cannot */
    int guest;                    /* guest access without credentials (and without signing) */
    unsigned timeout_ms;          /* 0: STORE_SMB_DEFAULT_TIMEOUT_MS */
};

struct store_open_options {
    enum store_lock_kind lock;
    unsigned lease_seconds; /* 0: STORE_LEASE_DEFAULT_SECONDS */
    struct store_smb_options smb;
};

enum store_location_kind {
    STORE_LOCATION_LOCAL, /* a path */
    STORE_LOCATION_SMB,   /* //host/share/dir, \\host\share\dir, smb://host[:port]/share/dir */
};

/* Which backend LOCATION names, without opening anything. */
enum store_location_kind store_location_kind(const char *location);

/* Open the store at LOCATION (OPTS may be NULL). The backend is chosen by the location's form. Fails,
 * naming the location (as its display name), when it does not exist, is not a directory, or names a
 * backend this build does not have. */
int store_open(const char *location, const struct store_open_options *opts, struct store **out,
               struct errbuf *err);
void store_close(struct store *st);

/* Nonzero when ERR (from any store function) says the store could not be reached or did not
 * answer in time ("server unreachable", "timed out"): worth retrying later, unlike a refusal. */
int store_error_is_transient(const struct errbuf *err);

/* A name for the store that is safe to print and log: never a password or a user name. */
const char *store_display_name(const struct store *st);
/* The backend's name: "local", "smb". */
const char *store_kind(const struct store *st);
unsigned store_capabilities(const struct store *st);
int store_has(const struct store *st, enum store_capability cap);

/* Every entry of the store (temp files and the lock file included: check reports them). */
int store_list(struct store *st, struct store_entries *out, struct errbuf *err);
/* Read NAME whole, refusing more than MAX_LEN octets. A missing file sets *MISSING and returns 0; a
 * symbolic link, a directory or an unreadable file is an error naming the file. */
int store_read(struct store *st, const char *name, size_t max_len, struct bytes *out, int *missing,
               struct errbuf *err);
/* Describe NAME without following links. A missing file sets *MISSING and returns 0. */
int store_stat(struct store *st, const char *name, struct store_entry *out, int *missing,
               struct errbuf *err);

struct store_write_options {
    unsigned mode; /* permission bits; 0: the backend's default (0640 locally) */
    long gid;      /* -1: leave the group as created */
};

/* Replace NAME with DATA: a temp file in the store, flushed, then renamed over NAME (in one step
 * with STORE_CAP_ATOMIC_REPLACE). On failure no temp file remains and NAME is untouched. A mode or a
 * group on a backend without STORE_CAP_POSIX_MODE is an error, not a silent no-op. */
int store_write_atomic(struct store *st, const char *name, const struct bytes *data,
                       const struct store_write_options *opts, struct errbuf *err);
/* Remove NAME; a missing NAME is not an error. */
int store_remove(struct store *st, const char *name, struct errbuf *err);
/* Make completed writes and removals durable (see STORE_CAP_DURABLE_SYNC). */
int store_sync(struct store *st, struct errbuf *err);

/* The writers' lock: hold the store exclusively against every other writer (other threads, other
 * processes, and — with a lease — other machines) until store_unlock(), so two deploys cannot
 * interleave their newer-only checks and writes. Readers never take it. Blocks until the lock is
 * free (a lease: until its holder releases it or the lease expires). */
int store_lock(struct store *st, struct errbuf *err);
/* While holding the lock: renew a lease that is more than a third used (a no-op for a handle lock).
 * Fails when the lease was lost (another writer broke it): stop writing then. */
int store_lock_keepalive(struct store *st, struct errbuf *err);
/* Release the lock, from the thread that took it (it is also a mutex). Fails (and says so) when a
 * lease was lost while held, or when this thread does not hold the lock. */
int store_unlock(struct store *st, struct errbuf *err);
/* Which lock this store uses (never STORE_LOCK_DEFAULT). */
enum store_lock_kind store_lock_kind(const struct store *st);

/* While holding the lock: remove temp files that no writer can still be writing — those older than
 * the lease (a writer writes its temp files while holding the lock, and a lease shorter than its
 * write is renewed). Never decided by a process id: that means nothing for another machine. */
int store_remove_stale_temps(struct store *st, struct errbuf *err);
/* How old a temp file must be before store_remove_stale_temps() takes it for debris. */
unsigned store_stale_temp_seconds(const struct store *st);

/* Nonzero for a name servers look at: ends in ".pfx", is not a temp file. */
int store_is_pfx_name(const char *name);
/* Nonzero for a temp file of a writer (STORE_TEMP_PREFIX...). */
int store_is_temp_name(const char *name);

/* ---- the change feed ------------------------------------------------------------------------ */

enum store_event_kind {
    STORE_EVENT_CHANGED, /* NAME was written, replaced or created */
    STORE_EVENT_REMOVED, /* NAME is gone */
    STORE_EVENT_RESCAN,  /* events were lost (queue overflow, the store moved): forget everything */
};

struct store_event {
    enum store_event_kind kind;
    char name[STORE_FILE_NAME_MAX + 1]; /* "" for STORE_EVENT_RESCAN */
};

struct store_events {
    struct store_event *items;
    size_t count, capacity;
};

int store_events_add(struct store_events *evs, enum store_event_kind kind, const char *name);
void store_events_free(struct store_events *evs);

struct store_watch;

#define STORE_WATCH_DEFAULT_POLL_MS 2000

struct store_watch_options {
    unsigned poll_interval_ms; /* backends without notification: listing compared this often
                                  (0: STORE_WATCH_DEFAULT_POLL_MS) */
    int force_poll;            /* poll even where the backend can notify (tests, odd mounts) */
};

/* Watch ST for changes to "*.pfx" files (temp files and the lock file are never reported). OPTS may
 * be NULL. The watch uses the store it was opened on: close the watch before the store. */
int store_watch_open(struct store *st, const struct store_watch_options *opts,
                     struct store_watch **out, struct errbuf *err);
/* A descriptor that becomes readable when store_watch_read() has work: for an event loop. */
int store_watch_fd(const struct store_watch *w);
/* Wait up to TIMEOUT_MS (0: do not wait, -1: forever) for changes, and append them to OUT. Returns
 * 0 with nothing appended on a timeout. After a STORE_EVENT_RESCAN caused by the store directory
 * itself going away or moving, a notifying watch hears nothing more: close it and open a new one. */
int store_watch_read(struct store_watch *w, int timeout_ms, struct store_events *out,
                     struct errbuf *err);
/* Nonzero when the watch polls (no notification from the backend, or forced). */
int store_watch_is_polling(const struct store_watch *w);
void store_watch_close(struct store_watch *w);

#endif
