#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fd_write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    char copy[PATH_MAX];
    int fd;

    snprintf(copy, sizeof(copy), "%s", path);
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int file_write_atomic(const char *path, const unsigned char *data, size_t len, unsigned mode,
                      struct errbuf *err)
{
    char temp[PATH_MAX];
    int fd;

    if (snprintf(temp, sizeof(temp), "%s.tmp-XXXXXX", path) >= (int)sizeof(temp))
        return errbuf_set(err, "%s: path too long", path);
    fd = mkostemp(temp, O_CLOEXEC);
    if (fd < 0)
        return errbuf_set_errno(err, "%s: cannot create a temporary file", path);
    if (fchmod(fd, (mode_t)mode) < 0 || fd_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        errbuf_set_errno(err, "%s: cannot write", path);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        errbuf_set_errno(err, "%s: cannot write", path);
        goto fail;
    }
    fd = -1;
    if (rename(temp, path) < 0) {
        errbuf_set_errno(err, "%s: cannot rename into place", path);
        goto fail;
    }
    fsync_parent(path);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(temp);
    return -1;
}

int dir_create(const char *path, unsigned mode, struct errbuf *err)
{
    char copy[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(copy))
        return errbuf_set(err, "%s: bad directory path", path);
    memcpy(copy, path, len + 1);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, (mode_t)mode) < 0 && errno != EEXIST)
            return errbuf_set_errno(err, "cannot create directory %s", copy);
        *p = '/';
    }
    if (mkdir(copy, (mode_t)mode) < 0 && errno != EEXIST)
        return errbuf_set_errno(err, "cannot create directory %s", copy);
    return 0;
}
