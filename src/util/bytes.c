#include "util/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

void bytes_free(struct bytes *b)
{
    if (b->data) {
        OPENSSL_cleanse(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

int bytes_read_fd(int fd, const char *what, size_t max_len, struct bytes *out, struct errbuf *err)
{
    struct stat st;
    unsigned char *data = NULL;
    size_t len = 0, cap;
    ssize_t n;

    out->data = NULL;
    out->len = 0;
    if (fstat(fd, &st) < 0)
        return errbuf_set_errno(err, "%s", what);
    if (!S_ISREG(st.st_mode))
        return errbuf_set(err, "%s: not a regular file", what);
    if ((unsigned long long)st.st_size > max_len)
        return errbuf_set(err, "%s: too large (%lld bytes; at most %zu accepted)", what,
                          (long long)st.st_size, max_len);
    /* Read to EOF rather than trusting st_size: the file may change under us. One spare byte
     * lets us notice a file that grew past the limit. */
    cap = (size_t)st.st_size + 1;
    data = malloc(cap);
    if (!data)
        return errbuf_set(err, "%s: out of memory", what);
    for (;;) {
        if (len == cap) {
            unsigned char *bigger;
            if (cap > max_len) {
                free(data);
                return errbuf_set(err, "%s: too large (more than %zu bytes)", what, max_len);
            }
            bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                return errbuf_set(err, "%s: out of memory", what);
            }
            data = bigger;
            cap *= 2;
        }
        n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(data);
            return errbuf_set_errno(err, "%s: read", what);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max_len) {
        OPENSSL_cleanse(data, len);
        free(data);
        return errbuf_set(err, "%s: too large (more than %zu bytes)", what, max_len);
    }
    out->data = data;
    out->len = len;
    return 0;
}

int bytes_read_file(const char *path, size_t max_len, struct bytes *out, struct errbuf *err)
{
    int fd, rc;

    /* O_NONBLOCK: a FIFO must be refused by bytes_read_fd, not waited on forever. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errbuf_set_errno(err, "%s", path);
    rc = bytes_read_fd(fd, path, max_len, out, err);
    close(fd);
    return rc;
}
