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

long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    static const long min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t need = s[0] < 0x80                ? 1
                  : (s[0] & 0xe0) == 0xc0 ? 2
                  : (s[0] & 0xf0) == 0xe0 ? 3
                  : (s[0] & 0xf8) == 0xf0 ? 4
                                          : 0;
    long cp;

    *len = 1;
    if (need == 0 || need > n)
        return -1;
    cp = need == 1 ? s[0] : s[0] & (0x7f >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min_for_len[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = need;
    return cp;
}
