#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static void errbuf_vset(struct errbuf *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

static void errbuf_append(struct errbuf *err, const char *suffix)
{
    size_t used = strlen(err->msg);
    if (used < sizeof(err->msg) - 1)
        snprintf(err->msg + used, sizeof(err->msg) - used, "%s", suffix);
}

int errbuf_set(struct errbuf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vset(err, fmt, ap);
    va_end(ap);
    return -1;
}

int errbuf_prefix(struct errbuf *err, const char *fmt, ...)
{
    char prefix[ERRBUF_SIZE], old[ERRBUF_SIZE];
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncation is acceptable: the innermost reason is at the end and the buffer is generous. */
    snprintf(err->msg, sizeof(err->msg), "%.*s: %.*s", (int)(sizeof(prefix) / 2), prefix,
             (int)(sizeof(old) / 2 - 3), old);
    return -1;
}

int errbuf_set_ssl(struct errbuf *err, const char *fmt, ...)
{
    char reason[256] = "";
    unsigned long code;
    va_list ap;

    va_start(ap, fmt);
    errbuf_vset(err, fmt, ap);
    va_end(ap);
    code = ERR_peek_error();
    if (code != 0)
        ERR_error_string_n(code, reason, sizeof(reason));
    ERR_clear_error();
    if (err && reason[0]) {
        errbuf_append(err, " (");
        errbuf_append(err, reason);
        errbuf_append(err, ")");
    }
    return -1;
}

int errbuf_set_errno(struct errbuf *err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    errbuf_vset(err, fmt, ap);
    va_end(ap);
    if (err) {
        errbuf_append(err, ": ");
        errbuf_append(err, strerror(saved));
    }
    errno = saved;
    return -1;
}

const char *errmsg_after_name(const char *msg, const char *name)
{
    size_t name_len = strlen(name);
    const char *at, *first_colon = strstr(msg, ": ");

    if (name_len == 0 || !first_colon)
        return msg;
    /* The subject is what comes before the first ": "; it must end with NAME, whole (after a
     * path separator: a share's path may hold "smb://" or backslashes). */
    if ((size_t)(first_colon - msg) < name_len)
        return msg;
    at = first_colon - name_len;
    if (memcmp(at, name, name_len) != 0)
        return msg;
    if (at > msg && at[-1] != '/' && at[-1] != '\\')
        return msg;
    return first_colon + 2;
}
