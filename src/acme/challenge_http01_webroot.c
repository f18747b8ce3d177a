/* challenge_http01_webroot.c — http-01 by files a web server already serves (RFC 8555 §8.3):
 * WEBROOT/.well-known/acme-challenge/TOKEN holds the key authorization while the challenge is
 * begun.
 *
 * We remove exactly what we created: the token files we wrote, and each of the two directories
 * only if this solver made it and it is empty again, innermost first. A site's own .well-known/
 * (security.txt, other ACME clients' files) is never touched. Calls come from the order engine's
 * thread only, so there is no lock.
 *
 * The webroot is often the web server's user's, and we run as root: a .well-known or
 * acme-challenge that is a symbolic link must not steer our writes out of the webroot. Every step
 * is relative to a directory descriptor (mkdirat, openat, renameat, unlinkat), each directory is
 * checked to lie beneath the webroot once opened (walking "..", by device and inode), and the
 * files are written into the directory so checked: a link inside the webroot is followed, one
 * leading out of it is refused, and swapping a link in after the check changes nothing. */
#include "acme/challenge.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"

#define WELL_KNOWN_NAME ".well-known"
#define CHALLENGE_NAME "acme-challenge" /* RFC 8555 §8.3 */
#define WELL_KNOWN_DIR "/" WELL_KNOWN_NAME
#define CHALLENGE_DIR WELL_KNOWN_DIR "/" CHALLENGE_NAME
/* How far up from a directory we look for the webroot: deeper than any real tree. */
#define BENEATH_MAX_DEPTH 4096
#define TEMP_SUFFIX ".tmp-"
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#define DIR_MODE 0755  /* the web server, another user, must enter the directories */
#define FILE_MODE 0644 /* and read the file */

struct webroot_file {
    struct webroot_file *next;
    char *token;
};

struct webroot {
    char *root;                 /* without a trailing slash (but "/" itself) */
    int root_fd;                /* the webroot, opened once */
    int well_known_fd;          /* root/.well-known, checked beneath root; -1 until begun */
    int challenge_fd;           /* root/.well-known/acme-challenge, likewise */
    int made_well_known;        /* we created root/.well-known and have not removed it */
    int made_challenge_dir;     /* likewise root/.well-known/acme-challenge */
    struct webroot_file *files; /* tokens whose file we wrote and have not removed */
    unsigned temp_counter;      /* for unique temp names */
};

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

static int check_token(const struct acme_challenge_data *c, struct errbuf *err)
{
    if (!challenge_token_is_valid(c->token))
        return errbuf_set(err,
                          "http-01 for %s: the challenge token is not 1 to %d base64url characters",
                          identifier_of(c), CHALLENGE_TOKEN_MAX_LEN);
    return 0;
}

/* PATH = root + SUFFIX (+ "/" + TOKEN when TOKEN is not NULL). */
static int webroot_path(const struct webroot *w, const char *suffix, const char *token, char *path,
                        size_t size, struct errbuf *err)
{
    int n = snprintf(path, size, "%s%s%s%s", w->root, suffix, token ? "/" : "", token ? token : "");

    if (n < 0 || (size_t)n >= size)
        return errbuf_set(err, "http-01 webroot %s: path too long", w->root);
    return 0;
}

static int close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return -1;
}

/* Whether the directory FD lies beneath (or is) the directory ROOT_FD: walk ".." from FD until
 * ROOT_FD's device and inode, or the top of the tree. 0 yes, 1 no, -1 (errno) cannot tell. */
static int is_beneath(int fd, int root_fd)
{
    struct stat root, here, parent;
    int cur = dup(fd), up, rc = 1;

    if (cur < 0 || fstat(root_fd, &root) < 0)
        return close_fd(&cur);
    for (int depth = 0; depth < BENEATH_MAX_DEPTH; depth++) {
        if (fstat(cur, &here) < 0) {
            rc = -1;
            break;
        }
        if (here.st_dev == root.st_dev && here.st_ino == root.st_ino) {
            rc = 0;
            break;
        }
        up = openat(cur, "..", DIR_FLAGS);
        if (up < 0 || fstat(up, &parent) < 0) {
            close_fd(&up);
            rc = -1;
            break;
        }
        close(cur);
        cur = up;
        if (parent.st_dev == here.st_dev && parent.st_ino == here.st_ino)
            break; /* the top of the tree ("/.." is "/"), and no webroot on the way: outside */
    }
    close(cur);
    return rc;
}

/* "-> TARGET" when PARENT_FD/NAME is a symbolic link, for the message; else "". */
static void link_target(int parent_fd, const char *name, char *out, size_t size)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);

    out[0] = '\0';
    if (n > 0) {
        target[n] = '\0';
        snprintf(out, size, " (a symbolic link to %s)", target);
    }
}

/* Open PARENT_FD/NAME (root + SUFFIX), a directory, creating it with DIR_MODE whatever the umask
 * when missing (*MADE records that we created it). An existing directory, or a link to one, is
 * used as it is — as long as it lies beneath the webroot. */
static int open_dir(struct webroot *w, int parent_fd, const char *name, const char *suffix,
                    int *made, int *fd_out, struct errbuf *err)
{
    char path[PATH_MAX], target[PATH_MAX + 32];
    struct stat st;
    int fd, beneath;

    if (webroot_path(w, suffix, NULL, path, sizeof(path), err) < 0)
        return -1;
    if (mkdirat(parent_fd, name, DIR_MODE) == 0)
        *made = 1;
    else if (errno != EEXIST)
        return errbuf_set_errno(err, "http-01 webroot: cannot create directory %s", path);
    fd = openat(parent_fd, name, DIR_FLAGS);
    if (fd < 0) {
        if (errno == ENOTDIR && fstatat(parent_fd, name, &st, 0) == 0)
            return errbuf_set(err, "http-01 webroot: %s exists and is not a directory", path);
        return errbuf_set_errno(err, "http-01 webroot: %s", path);
    }
    beneath = is_beneath(fd, w->root_fd);
    if (beneath != 0) {
        link_target(parent_fd, name, target, sizeof(target));
        close(fd);
        if (beneath < 0)
            return errbuf_set_errno(err, "http-01 webroot: cannot tell where %s%s leads", path,
                                    target);
        return errbuf_set(err, "http-01 webroot %s: %s%s leads outside the webroot: refused",
                          w->root, path, target);
    }
    if (*made && fchmod(fd, DIR_MODE) < 0) {
        close(fd);
        return errbuf_set_errno(err, "http-01 webroot: cannot set mode %04o on %s", DIR_MODE,
                                path);
    }
    *fd_out = fd;
    return 0;
}

/* The challenge directory, opened (and made) beneath the webroot; once per solver. */
static int open_challenge_dir(struct webroot *w, struct errbuf *err)
{
    if (w->challenge_fd >= 0)
        return 0;
    if (w->well_known_fd < 0 && open_dir(w, w->root_fd, WELL_KNOWN_NAME, WELL_KNOWN_DIR,
                                         &w->made_well_known, &w->well_known_fd, err) < 0)
        return -1;
    return open_dir(w, w->well_known_fd, CHALLENGE_NAME, CHALLENGE_DIR, &w->made_challenge_dir,
                    &w->challenge_fd, err);
}

/* Write TEXT to TOKEN in the challenge directory: a temp file renamed into place, so the CA never
 * reads a partial file; O_NOFOLLOW and O_EXCL, so nothing already there is written through. */
static int write_token(struct webroot *w, const char *token, const char *text, const char *path,
                       struct errbuf *err)
{
    char temp[CHALLENGE_TOKEN_MAX_LEN + 64];
    int fd;

    snprintf(temp, sizeof(temp), "%s" TEMP_SUFFIX "%d-%u", token, (int)getpid(),
             w->temp_counter++);
    fd = openat(w->challenge_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                FILE_MODE);
    if (fd < 0)
        return errbuf_set_errno(err, "%s: cannot create a temporary file", path);
    if (fchmod(fd, FILE_MODE) < 0 || fd_write_all(fd, (const unsigned char *)text,
                                                  strlen(text)) < 0) {
        errbuf_set_errno(err, "%s: cannot write", path);
        close(fd);
        unlinkat(w->challenge_fd, temp, 0);
        return -1;
    }
    if (close(fd) < 0 || renameat(w->challenge_fd, temp, w->challenge_fd, token) < 0) {
        errbuf_set_errno(err, "%s: cannot write", path);
        unlinkat(w->challenge_fd, temp, 0);
        return -1;
    }
    return 0;
}

/* Remove the directory NAME under PARENT_FD (root + SUFFIX) if we made it and it is empty. */
static void remove_made_dir(const struct webroot *w, int parent_fd, const char *name,
                            const char *suffix, int *made)
{
    char path[PATH_MAX];

    if (!*made || parent_fd < 0 || webroot_path(w, suffix, NULL, path, sizeof(path), NULL) < 0)
        return;
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        *made = 0;
    else if (errno != ENOTEMPTY && errno != EEXIST) /* EEXIST: ENOTEMPTY's POSIX twin */
        log_warning("http-01 webroot: cannot remove directory %s: %s", path, strerror(errno));
}

/* Innermost first: .well-known can only be empty once acme-challenge is gone. A directory we
 * removed is opened (and checked) again by the next begin. */
static void remove_made_dirs(struct webroot *w)
{
    remove_made_dir(w, w->well_known_fd, CHALLENGE_NAME, CHALLENGE_DIR, &w->made_challenge_dir);
    if (!w->made_challenge_dir)
        close_fd(&w->challenge_fd);
    remove_made_dir(w, w->root_fd, WELL_KNOWN_NAME, WELL_KNOWN_DIR, &w->made_well_known);
    if (!w->made_well_known && w->challenge_fd < 0)
        close_fd(&w->well_known_fd);
}

static struct webroot_file **file_find(struct webroot *w, const char *token)
{
    struct webroot_file **p;

    for (p = &w->files; *p; p = &(*p)->next)
        if (strcmp((*p)->token, token) == 0)
            return p;
    return p;
}

/* Remember TOKEN's file for finish and destroy (once, however often it is begun). */
static int remember_file(struct webroot *w, const char *token, struct errbuf *err)
{
    struct webroot_file **slot = file_find(w, token), *fresh;

    if (*slot)
        return 0;
    fresh = calloc(1, sizeof(*fresh));
    if (!fresh || !(fresh->token = strdup(token))) {
        free(fresh);
        return errbuf_set(err, "http-01 webroot %s: out of memory", w->root);
    }
    *slot = fresh;
    return 0;
}

static int webroot_begin(struct challenge_solver *s, const struct acme_challenge_data *c,
                         struct errbuf *err)
{
    struct webroot *w = s->impl;
    char path[PATH_MAX];
    int rc = -1;

    if (check_token(c, err) < 0)
        return -1;
    if (!c->key_authorization || !c->key_authorization[0])
        return errbuf_set(err, "http-01 for %s: no key authorization", identifier_of(c));
    if (webroot_path(w, CHALLENGE_DIR, c->token, path, sizeof(path), err) < 0 ||
        open_challenge_dir(w, err) < 0 || remember_file(w, c->token, err) < 0)
        goto out;
    if (write_token(w, c->token, c->key_authorization, path, err) < 0) {
        errbuf_prefix(err, "http-01 for %s", identifier_of(c));
        goto out;
    }
    log_debug("http-01 webroot: wrote %s for %s", path, identifier_of(c));
    rc = 0;
out:
    if (rc < 0)
        remove_made_dirs(w); /* only removes them if nothing else is in them */
    return rc;
}

/* Remove the file of *SLOT and forget it. Keeps it (to try again on destroy) when unlink fails. */
static int remove_file(struct webroot *w, struct webroot_file **slot, struct errbuf *err)
{
    struct webroot_file *f = *slot;
    char path[PATH_MAX];

    if (webroot_path(w, CHALLENGE_DIR, f->token, path, sizeof(path), err) < 0)
        return -1;
    if (w->challenge_fd >= 0 && unlinkat(w->challenge_fd, f->token, 0) < 0 && errno != ENOENT)
        return errbuf_set_errno(err, "http-01 webroot: cannot remove %s", path);
    *slot = f->next;
    free(f->token);
    free(f);
    return 0;
}

static int webroot_finish(struct challenge_solver *s, const struct acme_challenge_data *c,
                          int succeeded, struct errbuf *err)
{
    struct webroot *w = s->impl;
    struct webroot_file **slot;
    int rc = 0;

    (void)succeeded; /* withdrawn either way */
    if (!c->token)
        return 0;
    slot = file_find(w, c->token);
    if (*slot) /* only files we wrote: never delete one we did not */
        rc = remove_file(w, slot, err);
    remove_made_dirs(w);
    return rc;
}

static void webroot_destroy(struct challenge_solver *s)
{
    struct webroot *w = s->impl;
    struct errbuf err;

    if (!w)
        return;
    while (w->files) {
        if (remove_file(w, &w->files, &err) < 0) {
            struct webroot_file *f = w->files; /* cannot remove it: say so, and let go */
            log_warning("%s", err.msg);
            w->files = f->next;
            free(f->token);
            free(f);
        }
    }
    remove_made_dirs(w);
    close_fd(&w->challenge_fd);
    close_fd(&w->well_known_fd);
    close_fd(&w->root_fd);
    free(w->root);
    free(w);
    s->impl = NULL;
}

static const struct challenge_solver_ops webroot_ops = {
    .type = "http-01",
    .begin = webroot_begin,
    .finish = webroot_finish,
    .destroy = webroot_destroy,
};

int challenge_http01_webroot_new(const char *webroot, struct challenge_solver *out,
                                 struct errbuf *err)
{
    struct webroot *w;
    struct stat st;
    size_t len;

    out->ops = NULL;
    out->impl = NULL;
    if (!webroot || !webroot[0])
        return errbuf_set(err, "http-01 webroot: no directory given");
    if (stat(webroot, &st) < 0)
        return errbuf_set_errno(err, "http-01 webroot %s", webroot);
    if (!S_ISDIR(st.st_mode))
        return errbuf_set(err, "http-01 webroot %s: not a directory", webroot);
    w = calloc(1, sizeof(*w));
    if (!w || !(w->root = strdup(webroot))) {
        free(w);
        return errbuf_set(err, "http-01 webroot %s: out of memory", webroot);
    }
    w->well_known_fd = w->challenge_fd = -1;
    w->root_fd = open(webroot, DIR_FLAGS);
    if (w->root_fd < 0) {
        errbuf_set_errno(err, "http-01 webroot %s", webroot);
        free(w->root);
        free(w);
        return -1;
    }
    len = strlen(w->root);
    while (len > 1 && w->root[len - 1] == '/') /* "/var/www/" and "/var/www" name one place */
        w->root[--len] = '\0';
    out->ops = &webroot_ops;
    out->impl = w;
    return 0;
}
