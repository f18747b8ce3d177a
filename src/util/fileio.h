/* fileio.h — writing whole files safely outside a store: state, keys, exported certificates. */
#ifndef CCS_UTIL_FILEIO_H
#define CCS_UTIL_FILEIO_H

#include <limits.h>
#include <stddef.h>

#include "util/err.h"

/* Write DATA to PATH atomically: a temp file in the same directory created with MODE (so a key is
 * never readable by others, not even for a moment), fsync, rename over PATH, fsync the directory.
 * On failure PATH is untouched and no temp file remains. The temp file is named PATH.tmp-XXXXXX
 * (mkostemp): one a killed write leaves is found by file_remove_stale_temps. */
int file_write_atomic(const char *path, const unsigned char *data, size_t len, unsigned mode,
                      struct errbuf *err);

/* The steps of file_write_atomic, for a set of files that change together (an export's cert,
 * key and PFX): stage every file first — each written, owned and flushed under its temp name —
 * then commit them one after the other, so the renames happen back to back and nothing that can
 * fail (a full disk, an unknown owner) comes between them. */
struct file_stage {
    char path[PATH_MAX];
    char temp[PATH_MAX]; /* "" once renamed or discarded */
};

/* Write DATA to a temp file beside PATH with MODE and owner UID, group GID (-1: unchanged), and
 * flush it. On failure nothing remains. */
int file_stage(const char *path, const unsigned char *data, size_t len, unsigned mode, long uid,
               long gid, struct file_stage *out, struct errbuf *err);
/* Rename the temp file over its path (the directory is not flushed: file_sync_parent, once). */
int file_stage_commit(struct file_stage *s, struct errbuf *err);
/* Remove the temp file, when it was not committed. */
void file_stage_discard(struct file_stage *s);
/* fsync the directory that holds PATH, so the renames in it survive a crash. */
void file_sync_parent(const char *path);

/* Remove what killed atomic writes of PATH left beside it: files and symbolic links named
 * PATH.tmp-SUFFIX, SUFFIX letters and digits (mkostemp's, or a pid). Only for paths no other
 * process writes at the moment (the caller holds the lock that orders writers). Returns how many
 * were removed, -1 (ERR set) when the directory cannot be read. */
int file_remove_stale_temps(const char *path, struct errbuf *err);

/* write(2) until all LEN bytes are written (or an error other than EINTR). */
int fd_write_all(int fd, const unsigned char *data, size_t len);

/* mkdir -p with MODE for the directories it creates. */
int dir_create(const char *path, unsigned mode, struct errbuf *err);

#endif
