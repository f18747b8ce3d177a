/* fileio.h — writing whole files safely outside a store: state, keys, exported certificates. */
#ifndef CCS_UTIL_FILEIO_H
#define CCS_UTIL_FILEIO_H

#include <stddef.h>

#include "util/err.h"

/* Write DATA to PATH atomically: a temp file in the same directory created with MODE (so a key is
 * never readable by others, not even for a moment), fsync, rename over PATH, fsync the directory.
 * On failure PATH is untouched and no temp file remains. */
int file_write_atomic(const char *path, const unsigned char *data, size_t len, unsigned mode,
                      struct errbuf *err);

/* write(2) until all LEN bytes are written (or an error other than EINTR). */
int fd_write_all(int fd, const unsigned char *data, size_t len);

/* mkdir -p with MODE for the directories it creates. */
int dir_create(const char *path, unsigned mode, struct errbuf *err);

#endif
