#include "util/fileio.h"

#include <ctype.h>
#include <dirent.h>
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

/* The temp name of file_stage: PATH + this + mkostemp's six characters. */
#define TEMP_INFIX ".tmp-"
#define TEMP_TEMPLATE TEMP_INFIX "XXXXXX"

void file_sync_parent(const char *path)
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

int file_stage(const char *path, const unsigned char *data, size_t len, unsigned mode, long uid,
               long gid, struct file_stage *out, struct errbuf *err)
{
    int fd;

    out->temp[0] = '\0';
    if ((size_t)snprintf(out->path, sizeof(out->path), "%s", path) >= sizeof(out->path) ||
        (size_t)snprintf(out->temp, sizeof(out->temp), "%s" TEMP_TEMPLATE, path) >=
            sizeof(out->temp)) {
        out->temp[0] = '\0';
        return errbuf_set(err, "%s: path too long", path);
    }
    fd = mkostemp(out->temp, O_CLOEXEC);
    if (fd < 0) {
        out->temp[0] = '\0';
        return errbuf_set_errno(err, "%s: cannot create a temporary file", path);
    }
    /* Mode first, before a byte is written: a key is never readable by others. */
    if (fchmod(fd, (mode_t)mode) < 0) {
        errbuf_set_errno(err, "%s: cannot set mode %04o", path, mode);
        goto fail;
    }
    if ((uid >= 0 || gid >= 0) && fchown(fd, (uid_t)uid, (gid_t)gid) < 0) {
        errbuf_set_errno(err, "%s: cannot set owner/group", path);
        goto fail;
    }
    if (fd_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        errbuf_set_errno(err, "%s: cannot write", path);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        errbuf_set_errno(err, "%s: cannot write", path);
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    file_stage_discard(out);
    return -1;
}

int file_stage_commit(struct file_stage *s, struct errbuf *err)
{
    if (rename(s->temp, s->path) < 0) {
        errbuf_set_errno(err, "%s: cannot rename into place", s->path);
        file_stage_discard(s);
        return -1;
    }
    s->temp[0] = '\0';
    return 0;
}

void file_stage_discard(struct file_stage *s)
{
    if (s->temp[0])
        unlink(s->temp);
    s->temp[0] = '\0';
}

int file_write_atomic(const char *path, const unsigned char *data, size_t len, unsigned mode,
                      struct errbuf *err)
{
    struct file_stage stage;

    if (file_stage(path, data, len, mode, -1, -1, &stage, err) < 0 ||
        file_stage_commit(&stage, err) < 0)
        return -1;
    file_sync_parent(path);
    return 0;
}

/* Whether NAME is BASE TEMP_INFIX followed by letters and digits only. */
static int is_temp_of(const char *name, const char *base, size_t base_len)
{
    const char *suffix = name + base_len + strlen(TEMP_INFIX);

    if (strncmp(name, base, base_len) != 0 ||
        strncmp(name + base_len, TEMP_INFIX, strlen(TEMP_INFIX)) != 0 || !*suffix)
        return 0;
    for (; *suffix; suffix++)
        if (!isalnum((unsigned char)*suffix))
            return 0;
    return 1;
}

int file_remove_stale_temps(const char *path, struct errbuf *err)
{
    char copy[PATH_MAX], dir_copy[PATH_MAX], victim[PATH_MAX * 2];
    const char *base, *dir_path;
    struct dirent *de;
    struct stat st;
    size_t base_len;
    int removed = 0;
    DIR *dir;

    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(dir_copy, sizeof(dir_copy), "%s", path);
    base = basename(copy);
    dir_path = dirname(dir_copy);
    base_len = strlen(base);
    dir = opendir(dir_path);
    if (!dir) {
        if (errno == ENOENT)
            return 0; /* no directory, no leftovers */
        return errbuf_set_errno(err, "%s: cannot look for leftover temp files", dir_path);
    }
    while ((de = readdir(dir)) != NULL) {
        if (!is_temp_of(de->d_name, base, base_len))
            continue;
        snprintf(victim, sizeof(victim), "%s/%s", dir_path, de->d_name);
        if (lstat(victim, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
            continue;
        if (unlink(victim) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
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
