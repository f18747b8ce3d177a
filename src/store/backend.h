/* backend.h — where a store's files live. The rest of src/store speaks only this interface, so an SMB
 * share (a later backend) is one more file, not a rewrite.
 *
 * Names given to a backend are single file names inside the store (no '/'), already validated by the
 * caller; a backend never follows symbolic links and never leaves the store's directory. */
#ifndef CCS_STORE_BACKEND_H
#define CCS_STORE_BACKEND_H

#include <stddef.h>

#include "store/names.h"
#include "util/bytes.h"
#include "util/err.h"

/* Prefix of temporary files written before a rename. It never ends in ".pfx", so a reader that
 * lists "*.pfx" never sees a half-written file; `ccs store check` reports leftovers. */
#define STORE_TEMP_PREFIX ".ccs-tmp-"

enum store_entry_type {
    STORE_ENTRY_FILE,
    STORE_ENTRY_SYMLINK,
    STORE_ENTRY_DIR,
    STORE_ENTRY_OTHER,
};

struct store_entry {
    char name[STORE_FILE_NAME_MAX + 1];
    enum store_entry_type type;
    unsigned mode; /* permission bits */
    long long size;
    long long mtime_ns;
    unsigned long long inode;
    char link_target[256]; /* symlinks only */
};

struct store_entries {
    struct store_entry *items; /* sorted by name */
    size_t count;
};

struct store_write_options {
    unsigned mode; /* e.g. 0640 */
    long gid;      /* -1: leave the group as created */
};

struct store;

struct store_backend_ops {
    const char *kind; /* "local" */
    int (*list)(struct store *st, struct store_entries *out, struct errbuf *err);
    /* Read NAME whole. A missing file sets *MISSING and returns 0. A symlink is an error. */
    int (*read)(struct store *st, const char *name, size_t max_len, struct bytes *out, int *missing,
                struct errbuf *err);
    /* Describe NAME without following links. A missing file sets *MISSING and returns 0. */
    int (*stat)(struct store *st, const char *name, struct store_entry *out, int *missing,
                struct errbuf *err);
    /* Replace NAME with DATA atomically: temp file in the store, flushed to disk, renamed over NAME.
     * On failure no temp file remains and NAME is untouched. */
    int (*write_atomic)(struct store *st, const char *name, const struct bytes *data,
                        const struct store_write_options *opts, struct errbuf *err);
    int (*remove)(struct store *st, const char *name, struct errbuf *err);
    /* Hold the store exclusively until close: two deploys into one store then cannot interleave
     * their newer-only checks and writes. Readers never take it. */
    int (*lock)(struct store *st, struct errbuf *err);
    /* Make completed renames and removals durable (fsync of the directory). */
    int (*sync)(struct store *st, struct errbuf *err);
    void (*close)(struct store *st);
};

struct store {
    const struct store_backend_ops *ops;
    char location[4096];
    void *impl;
};

/* Open the store at LOCATION (a local directory). Fails, naming LOCATION, when it does not exist or
 * is not a directory. */
int store_open(const char *location, struct store **out, struct errbuf *err);
void store_close(struct store *st);

void store_entries_free(struct store_entries *entries);

/* The local-directory backend (backend_local.c). */
int store_local_open(const char *path, struct store *st, struct errbuf *err);

#endif
