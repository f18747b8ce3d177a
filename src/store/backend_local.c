/* backend_local.c — a store in a local directory (or a mounted share).
 *
 * Capabilities: POSIX modes and groups, atomic replace (rename(2)), durable sync (fsync of the
 * directory), symbolic links (reported, never followed), change notification (inotify — which does
 * not see changes other machines make on a network mount: watch with force_poll there).
 *
 * Every operation is relative to a directory descriptor opened once (openat, renameat, unlinkat with
 * O_NOFOLLOW / AT_SYMLINK_NOFOLLOW), so a name can never walk out of the store and a symlink is never
 * followed, whatever the store's contents. */
#include "store/backend.h"

#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/fileio.h"

struct local_store {
    int dirfd;
};

/* Default mode of a store file: owner writes, group (the servers' readers) reads, others nothing. */
#define LOCAL_DEFAULT_MODE 0640

static int dirfd_of(struct store *st)
{
    return ((struct local_store *)st->impl)->dirfd;
}

static void fill_entry(const char *name, const struct stat *s, struct store_entry *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->type = S_ISREG(s->st_mode)   ? STORE_ENTRY_FILE
              : S_ISLNK(s->st_mode) ? STORE_ENTRY_SYMLINK
              : S_ISDIR(s->st_mode) ? STORE_ENTRY_DIR
                                    : STORE_ENTRY_OTHER;
    e->mode = (unsigned)(s->st_mode & 07777);
    e->gid = (long)s->st_gid;
    e->version.size = (long long)s->st_size;
    e->version.mtime_ns = (long long)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    e->version.file_id = (unsigned long long)s->st_ino;
}

static int local_stat(struct store *st, const char *name, struct store_entry *out, int *missing,
                      struct errbuf *err)
{
    struct stat s;

    *missing = 0;
    if (fstatat(dirfd_of(st), name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) {
            *missing = 1;
            return 0;
        }
        return errbuf_set_errno(err, "%s/%s", st->display, name);
    }
    fill_entry(name, &s, out);
    if (out->type == STORE_ENTRY_SYMLINK) {
        ssize_t n = readlinkat(dirfd_of(st), name, out->link_target, sizeof(out->link_target) - 1);
        out->link_target[n > 0 ? n : 0] = '\0';
    }
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct store_entry *)a)->name, ((const struct store_entry *)b)->name);
}

static int local_list(struct store *st, struct store_entries *out, struct errbuf *err)
{
    int fd = dup(dirfd_of(st));
    DIR *dir;
    struct dirent *de;
    size_t cap = 0;
    int missing;

    out->items = NULL;
    out->count = 0;
    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return errbuf_set_errno(err, "cannot list store %s", st->display);
    }
    rewinddir(dir);
    while ((errno = 0, de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (out->count == cap) {
            struct store_entry *grown = realloc(out->items, (cap ? cap * 2 : 64) * sizeof(*grown));
            if (!grown)
                goto fail_oom;
            out->items = grown;
            cap = cap ? cap * 2 : 64;
        }
        if (local_stat(st, de->d_name, &out->items[out->count], &missing, err) < 0)
            goto fail;
        if (!missing) /* removed while we listed */
            out->count++;
    }
    if (errno != 0) {
        errbuf_set_errno(err, "cannot list store %s", st->display);
        goto fail;
    }
    closedir(dir);
    if (out->count > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(out->items, out->count, sizeof(*out->items), compare_entries);
    return 0;
fail_oom:
    errbuf_set(err, "out of memory listing store %s", st->display);
fail:
    closedir(dir);
    store_entries_free(out);
    return -1;
}

static int local_read(struct store *st, const char *name, size_t max_len, struct bytes *out,
                      int *missing, struct errbuf *err)
{
    char what[4400];
    int fd, rc;

    *missing = 0;
    out->data = NULL;
    out->len = 0;
    snprintf(what, sizeof(what), "%s/%s", st->display, name);
    fd = openat(dirfd_of(st), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = 1;
            return 0;
        }
        if (errno == ELOOP)
            return errbuf_set(err, "%s: is a symbolic link (ccs never follows links in a store)",
                              what);
        return errbuf_set_errno(err, "%s", what);
    }
    rc = bytes_read_fd(fd, what, max_len, out, err);
    close(fd);
    return rc;
}

/* A fresh temp name: prefix + random hex. O_EXCL makes a collision an error, not an overwrite. */
static int create_temp(int dirfd, char *name, size_t name_size)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char rnd[8];
        int fd;
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return -1;
        snprintf(name, name_size, "%s%d-%02x%02x%02x%02x%02x%02x%02x%02x", STORE_TEMP_PREFIX,
                 (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static int local_write_atomic(struct store *st, const char *name, const struct bytes *data,
                              const struct store_write_options *opts, struct errbuf *err)
{
    char temp[64];
    int dirfd = dirfd_of(st), fd, rc = -1;

    fd = create_temp(dirfd, temp, sizeof(temp));
    if (fd < 0)
        return errbuf_set_errno(err, "%s: cannot create a temporary file", st->display);
    /* Permissions before content: the key material is never readable beyond what was asked. */
    if (opts->gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)opts->gid) < 0) {
        errbuf_set_errno(err, "%s/%s: cannot set group %ld", st->display, name, opts->gid);
        goto out;
    }
    if (fchmod(fd, (mode_t)opts->mode) < 0) {
        errbuf_set_errno(err, "%s/%s: cannot set mode %04o", st->display, name, opts->mode);
        goto out;
    }
    if (fd_write_all(fd, data->data, data->len) < 0) {
        errbuf_set_errno(err, "%s/%s: cannot write", st->display, name);
        goto out;
    }
    if (fsync(fd) < 0) {
        errbuf_set_errno(err, "%s/%s: cannot flush to disk", st->display, name);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        errbuf_set_errno(err, "%s/%s: cannot write", st->display, name);
        goto out;
    }
    fd = -1;
    if (renameat(dirfd, temp, dirfd, name) < 0) {
        errbuf_set_errno(err, "%s/%s: cannot rename into place", st->display, name);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlinkat(dirfd, temp, 0);
    return rc;
}

static int local_remove(struct store *st, const char *name, struct errbuf *err)
{
    if (unlinkat(dirfd_of(st), name, 0) < 0 && errno != ENOENT)
        return errbuf_set_errno(err, "%s/%s: cannot remove", st->display, name);
    return 0;
}

static int local_create_exclusive(struct store *st, const char *name, const struct bytes *data,
                                  int *exists, struct errbuf *err)
{
    int fd, rc = -1;

    *exists = 0;
    fd = openat(dirfd_of(st), name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            *exists = 1;
            return 0;
        }
        return errbuf_set_errno(err, "%s/%s: cannot create", st->display, name);
    }
    if (fd_write_all(fd, data->data, data->len) < 0 || fsync(fd) < 0)
        errbuf_set_errno(err, "%s/%s: cannot write", st->display, name);
    else
        rc = 0;
    if (close(fd) < 0 && rc == 0)
        rc = errbuf_set_errno(err, "%s/%s: cannot write", st->display, name);
    if (rc < 0)
        unlinkat(dirfd_of(st), name, 0);
    return rc;
}

/* renameat2(RENAME_NOREPLACE) where the file system has it; otherwise link + unlink, which also
 * never replaces (link fails with EEXIST). */
static int local_rename_noreplace(struct store *st, const char *from, const char *to, int *exists,
                                  int *missing, struct errbuf *err)
{
    int dirfd = dirfd_of(st);

    *exists = *missing = 0;
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EINVAL || errno == ENOSYS) {
        if (linkat(dirfd, from, dirfd, to, 0) == 0) {
            unlinkat(dirfd, from, 0);
            return 0;
        }
    }
    if (errno == EEXIST) {
        *exists = 1;
        return 0;
    }
    if (errno == ENOENT) {
        *missing = 1;
        return 0;
    }
    return errbuf_set_errno(err, "%s: cannot rename %s to %s", st->display, from, to);
}

/* flock on the directory itself: no lock file to leave behind, released when the process dies. */
static int local_lock(struct store *st, struct errbuf *err)
{
    while (flock(dirfd_of(st), LOCK_EX) < 0)
        if (errno != EINTR)
            return errbuf_set_errno(err, "%s: cannot lock the store", st->display);
    return 0;
}

static void local_unlock(struct store *st)
{
    flock(dirfd_of(st), LOCK_UN);
}

static int local_sync(struct store *st, struct errbuf *err)
{
    if (fsync(dirfd_of(st)) < 0)
        return errbuf_set_errno(err, "%s: cannot flush the directory to disk", st->display);
    return 0;
}

/* ---- change notification: inotify on the store directory ---------------------------------- */

struct backend_watch {
    int fd;
};

/* Everything that can change what a name serves. IN_CREATE comes before a file's content (an
 * in-place copy): its IN_CLOSE_WRITE follows, so readers see two events, never a missed one. */
#define LOCAL_WATCH_MASK                                                                        \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM |          \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

static int local_watch_open(struct store *st, struct backend_watch **out, struct errbuf *err)
{
    struct local_store *ls = st->impl;
    struct backend_watch *w = calloc(1, sizeof(*w));
    char path[64];

    *out = NULL;
    if (!w)
        return errbuf_set(err, "out of memory");
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        free(w);
        return errbuf_set_errno(err, "%s: cannot watch the store (inotify)", st->display);
    }
    /* The directory we opened, not the path: a relative path means something else after chdir. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", ls->dirfd);
    if (inotify_add_watch(w->fd, path, LOCAL_WATCH_MASK) < 0) {
        errbuf_set_errno(err, "%s: cannot watch the store (inotify)", st->display);
        close(w->fd);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int local_watch_fd(const struct backend_watch *w)
{
    return w->fd;
}

static int event_to_store(const struct inotify_event *ev, struct store_events *out)
{
    if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
        return store_events_add(out, STORE_EVENT_RESCAN, "");
    if (!ev->len || !ev->name[0])
        return 0;
    if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        return store_events_add(out, STORE_EVENT_REMOVED, ev->name);
    return store_events_add(out, STORE_EVENT_CHANGED, ev->name);
}

static int local_watch_read(struct backend_watch *w, struct store_events *out, struct errbuf *err)
{
    /* Aligned as inotify(7) asks: the kernel writes struct inotify_event records into it. */
    char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
        __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return errbuf_set_errno(err, "cannot read store changes (inotify)");
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (event_to_store(ev, out) < 0)
                return errbuf_set(err, "out of memory");
            p += sizeof(*ev) + ev->len;
        }
    }
}

static void local_watch_close(struct backend_watch *w)
{
    if (!w)
        return;
    close(w->fd);
    free(w);
}

static void local_close(struct store *st)
{
    struct local_store *ls = st->impl;
    if (ls) {
        close(ls->dirfd);
        free(ls);
    }
    st->impl = NULL;
}

static const struct store_backend_ops local_ops = {
    .kind = "local",
    .capabilities = STORE_CAP_POSIX_MODE | STORE_CAP_ATOMIC_REPLACE | STORE_CAP_DURABLE_SYNC |
                    STORE_CAP_SYMLINKS | STORE_CAP_CHANGE_NOTIFY,
    .default_mode = LOCAL_DEFAULT_MODE,
    .thread_safe = 1, /* every call works on the directory descriptor, which never changes */
    .list = local_list,
    .read = local_read,
    .stat = local_stat,
    .write_atomic = local_write_atomic,
    .create_exclusive = local_create_exclusive,
    .rename_noreplace = local_rename_noreplace,
    .remove = local_remove,
    .sync = local_sync,
    .lock = local_lock,
    .unlock = local_unlock,
    .watch_open = local_watch_open,
    .watch_fd = local_watch_fd,
    .watch_read = local_watch_read,
    .watch_close = local_watch_close,
    .close = local_close,
};

int store_local_open(const char *path, struct store *st, struct errbuf *err)
{
    struct local_store *ls;
    int fd;

    if (strlen(path) >= sizeof(st->display))
        return errbuf_set(err, "store location too long");
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOTDIR)
            return errbuf_set(err, "store %s: is not a directory", path);
        if (errno == ENOENT)
            return errbuf_set(err, "store %s: does not exist", path);
        return errbuf_set_errno(err, "store %s", path);
    }
    ls = calloc(1, sizeof(*ls));
    if (!ls) {
        close(fd);
        return errbuf_set(err, "out of memory");
    }
    ls->dirfd = fd;
    /* A local path carries no credentials: it is its own display name. */
    snprintf(st->display, sizeof(st->display), "%s", path);
    st->impl = ls;
    st->ops = &local_ops;
    return 0;
}
