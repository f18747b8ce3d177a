#include "manage/certfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "acme/key.h"
#include "store/certinfo.h"
#include "util/bytes.h"
#include "util/fileio.h"

int certfiles_paths(const char *state_dir, const char *name, struct cert_paths *out,
                    struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name)
        return errbuf_set(err, "certificate name \"%s\" cannot be a directory name", name);
    if (snprintf(out->dir, sizeof(out->dir), "%s/certs/%s", state_dir, name) >=
        (int)sizeof(out->dir) - 32)
        return errbuf_set(err, "state directory path too long");
    snprintf(out->live, sizeof(out->live), "%s/live", out->dir);
    snprintf(out->cert, sizeof(out->cert), "%s/live/cert.pem", out->dir);
    snprintf(out->chain, sizeof(out->chain), "%s/live/chain.pem", out->dir);
    snprintf(out->fullchain, sizeof(out->fullchain), "%s/live/fullchain.pem", out->dir);
    snprintf(out->key, sizeof(out->key), "%s/live/privkey.pem", out->dir);
    snprintf(out->previous, sizeof(out->previous), "%s/previous", out->dir);
    snprintf(out->previous_cert, sizeof(out->previous_cert), "%s/previous/cert.pem", out->dir);
    snprintf(out->pending_dir, sizeof(out->pending_dir), "%s/pending", out->dir);
    snprintf(out->pending_key, sizeof(out->pending_key), "%s/pending/privkey.pem", out->dir);
    return 0;
}

int certfiles_certs_dir(const char *state_dir)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/certs", state_dir) >= sizeof(path))
        return -1;
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int certfiles_live_serial(int certs_fd, const char *name, char *serial, size_t size)
{
    char link[PATH_MAX];
    ssize_t n;

    if (certs_fd < 0 || !size ||
        (size_t)snprintf(link, sizeof(link), "%s/live", name) >= sizeof(link))
        return 0;
    n = readlinkat(certs_fd, link, serial, size);
    if (n <= 0 || (size_t)n >= size)
        return 0;
    serial[n] = '\0';
    return 1;
}

int certfiles_load_live(const struct cert_paths *p, X509 **cert, struct errbuf *err)
{
    int missing;

    return cert_read_pem_file(p->cert, cert, &missing, err);
}

static int write_text(const char *dir, const char *name, const char *text, unsigned mode,
                      struct errbuf *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return file_write_atomic(path, (const unsigned char *)text, strlen(text), mode, err);
}

/* Point LINK at TARGET atomically: a new symlink under a temp name renamed over LINK. */
static int swap_symlink(const char *target, const char *link, struct errbuf *err)
{
    char temp[PATH_MAX];

    snprintf(temp, sizeof(temp), "%s.tmp-%d", link, (int)getpid());
    unlink(temp);
    if (symlink(target, temp) < 0)
        return errbuf_set_errno(err, "%s: cannot create a link", temp);
    if (rename(temp, link) < 0) {
        unlink(temp);
        return errbuf_set_errno(err, "%s: cannot switch the link", link);
    }
    return 0;
}

/* Remove a certificate set: a directory of ours holding the four files, and, when a run was
 * killed while writing it, their temp files too. */
static void remove_set(const char *parent, const char *serial)
{
    char dir_path[PATH_MAX], path[PATH_MAX * 2];
    struct dirent *de;
    DIR *dir;

    snprintf(dir_path, sizeof(dir_path), "%s/%s", parent, serial);
    dir = opendir(dir_path);
    if (!dir)
        return;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_type != DT_REG)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(dir_path);
}

/* Keep the live set and the previous one; older sets (and those of runs killed before their
 * switch) are removed, so a certificate renewed every few days does not pile up directories. */
static void prune_old_sets(const struct cert_paths *p, const char *live, const char *previous)
{
    DIR *dir = opendir(p->dir);
    struct dirent *de;

    if (!dir)
        return;
    while ((de = readdir(dir)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.' || strcmp(n, "live") == 0 || strcmp(n, "previous") == 0 ||
            strcmp(n, "pending") == 0 || strcmp(n, live) == 0 || strcmp(n, previous) == 0 ||
            strchr(n, '.') || de->d_type != DT_DIR)
            continue;
        remove_set(p->dir, n);
    }
    closedir(dir);
}

int certfiles_install(const struct cert_paths *p, const char *serial, const char *cert_pem,
                      const char *chain_pem, const char *fullchain_pem, EVP_PKEY *key,
                      struct errbuf *err)
{
    char dir[PATH_MAX], old_target[PATH_MAX] = "", prev[PATH_MAX];
    BIO *mem = BIO_new(BIO_s_mem());
    char *key_pem = NULL;
    long key_len;
    ssize_t n;
    int fd, rc = -1;

    if (dir_create(p->dir, 0700, err) < 0)
        goto out;
    snprintf(dir, sizeof(dir), "%s/%s", p->dir, serial);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        errbuf_set_errno(err, "cannot create %s", dir);
        goto out;
    }
    if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
        errbuf_set(err, "cannot encode the key");
        goto out;
    }
    key_len = BIO_get_mem_data(mem, &key_pem);
    {
        char *copy = malloc((size_t)key_len + 1);
        if (!copy) {
            errbuf_set(err, "out of memory");
            goto out;
        }
        memcpy(copy, key_pem, (size_t)key_len);
        copy[key_len] = '\0';
        rc = write_text(dir, "privkey.pem", copy, 0600, err);
        OPENSSL_cleanse(copy, (size_t)key_len);
        free(copy);
        if (rc < 0)
            goto out;
        rc = -1;
    }
    if (write_text(dir, "cert.pem", cert_pem, 0644, err) < 0 ||
        write_text(dir, "chain.pem", chain_pem, 0644, err) < 0 ||
        write_text(dir, "fullchain.pem", fullchain_pem, 0644, err) < 0)
        goto out;
    /* Flush the directory entries of the new set before anything points at it. */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    n = readlink(p->live, old_target, sizeof(old_target) - 1);
    old_target[n > 0 ? n : 0] = '\0';
    if (swap_symlink(serial, p->live, err) < 0)
        goto out;
    if (old_target[0] && strcmp(old_target, serial) != 0) {
        snprintf(prev, sizeof(prev), "%s/previous", p->dir);
        swap_symlink(old_target, prev, err); /* best effort: only pruning uses it */
    }
    if ((fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    prune_old_sets(p, serial, old_target[0] && strcmp(old_target, serial) ? old_target : serial);
    rc = 0;
out:
    BIO_free(mem);
    return rc;
}

int certfiles_pending_key(const struct cert_paths *p, int key_type, EVP_PKEY **key, int *reused,
                          struct errbuf *err)
{
    int missing = 0;

    *reused = 0;
    if (key_load(p->pending_key, key, &missing, err) == 0) {
        *reused = 1;
        return 0;
    }
    if (!missing)
        return -1;
    if (dir_create(p->pending_dir, 0700, err) < 0 ||
        key_generate((enum key_type)key_type, key, err) < 0)
        return -1;
    if (key_save(*key, p->pending_key, err) < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
        return -1;
    }
    return 0;
}

void certfiles_prune(const struct cert_paths *p)
{
    char live[PATH_MAX] = "", previous[PATH_MAX] = "", link[PATH_MAX];
    ssize_t n;

    n = readlink(p->live, live, sizeof(live) - 1);
    live[n > 0 ? n : 0] = '\0';
    if (!live[0])
        return; /* nothing installed yet: nothing to tell strays from */
    snprintf(link, sizeof(link), "%s/previous", p->dir);
    n = readlink(link, previous, sizeof(previous) - 1);
    previous[n > 0 ? n : 0] = '\0';
    prune_old_sets(p, live, previous[0] ? previous : live);
}

void certfiles_clear_pending(const struct cert_paths *p)
{
    unlink(p->pending_key);
    rmdir(p->pending_dir);
}
