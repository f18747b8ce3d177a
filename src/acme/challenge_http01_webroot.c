/* challenge_http01_webroot.c — http-01 by files a web server already serves (RFC 8555 §8.3):
 * WEBROOT/.well-known/acme-challenge/TOKEN holds the key authorization while the challenge is
 * begun.
 *
 * We remove exactly what we created: the token files we wrote, and each of the two directories
 * only if this solver made it and it is empty again, innermost first. A site's own .well-known/
 * (security.txt, other ACME clients' files) is never touched. Calls come from the order engine's
 * thread only, so there is no lock. */
#include "acme/challenge.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"

#define WELL_KNOWN_DIR "/.well-known"
#define CHALLENGE_DIR WELL_KNOWN_DIR "/acme-challenge" /* RFC 8555 §8.3 */
#define DIR_MODE 0755  /* the web server, another user, must enter the directories */
#define FILE_MODE 0644 /* and read the file */
/* Far above what CAs issue (Let's Encrypt and Pebble: 43 characters, 256 bits); with the temp
 * suffix file_write_atomic adds, still well under NAME_MAX. */
#define TOKEN_MAX_LEN 128
/* RFC 4648 §5 */
#define BASE64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

struct webroot_file {
    struct webroot_file *next;
    char *token;
};

struct webroot {
    char *root;                 /* without a trailing slash (but "/" itself) */
    int made_well_known;        /* we created root/.well-known and have not removed it */
    int made_challenge_dir;     /* likewise root/.well-known/acme-challenge */
    struct webroot_file *files; /* tokens whose file we wrote and have not removed */
};

/* A token becomes a URL path, a file name, a hook's argument: only the base64url alphabet (RFC 8555
 * §8.1) may pass, so "..", "/" and control characters never do. */
static int token_is_valid(const char *token)
{
    size_t len = strlen(token);

    return len > 0 && len <= TOKEN_MAX_LEN && strspn(token, BASE64URL_ALPHABET) == len;
}

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

static int check_token(const struct acme_challenge_data *c, struct errbuf *err)
{
    if (!c->token || !token_is_valid(c->token))
        return errbuf_set(err,
                          "http-01 for %s: the challenge token is not 1 to %d base64url characters",
                          identifier_of(c), TOKEN_MAX_LEN);
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

/* mkdir DIR (root + SUFFIX) when missing, with DIR_MODE whatever the umask; *MADE records that
 * we created it. An existing directory (or a link to one) is used as it is. */
static int ensure_dir(const struct webroot *w, const char *suffix, int *made, struct errbuf *err)
{
    char path[PATH_MAX];
    struct stat st;

    if (webroot_path(w, suffix, NULL, path, sizeof(path), err) < 0)
        return -1;
    if (mkdir(path, DIR_MODE) == 0) {
        *made = 1;
        if (chmod(path, DIR_MODE) < 0)
            return errbuf_set_errno(err, "http-01 webroot: cannot set mode %04o on %s", DIR_MODE,
                                    path);
        return 0;
    }
    if (errno != EEXIST)
        return errbuf_set_errno(err, "http-01 webroot: cannot create directory %s", path);
    if (stat(path, &st) < 0)
        return errbuf_set_errno(err, "http-01 webroot: %s", path);
    if (!S_ISDIR(st.st_mode))
        return errbuf_set(err, "http-01 webroot: %s exists and is not a directory", path);
    return 0;
}

/* rmdir the directory at root + SUFFIX if we made it and it is empty. */
static void remove_made_dir(const struct webroot *w, const char *suffix, int *made)
{
    char path[PATH_MAX];

    if (!*made || webroot_path(w, suffix, NULL, path, sizeof(path), NULL) < 0)
        return;
    if (rmdir(path) == 0 || errno == ENOENT)
        *made = 0;
    else if (errno != ENOTEMPTY && errno != EEXIST) /* EEXIST: ENOTEMPTY's POSIX twin */
        log_warning("http-01 webroot: cannot remove directory %s: %s", path, strerror(errno));
}

/* Innermost first: .well-known can only be empty once acme-challenge is gone. */
static void remove_made_dirs(struct webroot *w)
{
    remove_made_dir(w, CHALLENGE_DIR, &w->made_challenge_dir);
    remove_made_dir(w, WELL_KNOWN_DIR, &w->made_well_known);
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
        ensure_dir(w, WELL_KNOWN_DIR, &w->made_well_known, err) < 0 ||
        ensure_dir(w, CHALLENGE_DIR, &w->made_challenge_dir, err) < 0 ||
        remember_file(w, c->token, err) < 0)
        goto out;
    /* Atomic (temp file + rename in the same directory): the CA never reads a partial file. */
    if (file_write_atomic(path, (const unsigned char *)c->key_authorization,
                          strlen(c->key_authorization), FILE_MODE, err) < 0) {
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
    if (unlink(path) < 0 && errno != ENOENT)
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
    len = strlen(w->root);
    while (len > 1 && w->root[len - 1] == '/') /* "/var/www/" and "/var/www" name one place */
        w->root[--len] = '\0';
    out->ops = &webroot_ops;
    out->impl = w;
    return 0;
}
