/* bytes.h — an owned byte buffer, reading a whole file into one, and UTF-8 decoding. */
#ifndef CCS_UTIL_BYTES_H
#define CCS_UTIL_BYTES_H

#include <stddef.h>

#include "util/err.h"

struct bytes {
    unsigned char *data;
    size_t len;
};

/* Free the buffer (wiping it first: buffers may hold keys or passwords) and reset it. */
void bytes_free(struct bytes *b);

/* Read the whole regular file PATH, refusing anything larger than MAX_LEN bytes. */
int bytes_read_file(const char *path, size_t max_len, struct bytes *out, struct errbuf *err);

/* Read the whole of an open descriptor (regular file), refusing more than MAX_LEN bytes. WHAT names
 * the file in errors. */
int bytes_read_fd(int fd, const char *what, size_t max_len, struct bytes *out, struct errbuf *err);

/* The code point of the UTF-8 sequence at S (N > 0 octets available), or -1 when it is not
 * well-formed (a stray or missing continuation byte, an overlong form, a surrogate, a value above
 * U+10FFFF). *LEN receives the octets used: the sequence's length, or 1 when not well-formed. */
long utf8_next(const unsigned char *s, size_t n, size_t *len);

#endif
