/* err.h — the one error style of ccs.
 *
 * Functions return 0 on success and -1 on failure; on failure they fill a struct errbuf with a message
 * that names what failed (file, host, field) and why. Callers add context by prefixing, never by
 * replacing, so the innermost reason survives to the user. */
#ifndef CCS_UTIL_ERR_H
#define CCS_UTIL_ERR_H

#include <stddef.h>

#define ERRBUF_SIZE 1024

struct errbuf {
    char msg[ERRBUF_SIZE];
};

/* Set the message (printf-style). Always returns -1 so callers can `return errbuf_set(...)`. */
int errbuf_set(struct errbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the existing message with context: "ctx: old message". Returns -1. */
int errbuf_prefix(struct errbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like errbuf_set, then append the first reason OpenSSL queued (and clear its queue). Returns -1. */
int errbuf_set_ssl(struct errbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* MSG past a first "NAME: " or "DIR/NAME: " that names NAME, for a caller that shows NAME itself
 * (a store file's row, a lookup candidate): each layer adds only what it knows, so the name is
 * not said twice ("www.pfx: /srv/store/www.pfx: Permission denied"). MSG itself otherwise. */
const char *errmsg_after_name(const char *msg, const char *name);

/* Like errbuf_set, then append strerror(errno). Returns -1. */
int errbuf_set_errno(struct errbuf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
