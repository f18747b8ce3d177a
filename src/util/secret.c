#include "util/secret.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/bytes.h"
#include "util/log.h"

static int secret_from_file(const char *path, const char *what, struct secret *out,
                            struct errbuf *err)
{
    struct bytes raw = {0};
    struct stat st;
    int fd, rc = -1;

    /* O_NONBLOCK: a FIFO must be refused (below), not waited on forever. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errbuf_set_errno(err, "%s file %s", what, path);
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        log_warning("%s file %s is readable by group or others (mode %04o); use 0600", what, path,
                    (unsigned)(st.st_mode & 07777));
    if (bytes_read_fd(fd, path, SECRET_MAX_LEN, &raw, err) < 0) {
        errbuf_prefix(err, "%s file", what);
        goto out;
    }
    if (memchr(raw.data, '\0', raw.len)) {
        errbuf_set(err, "%s file %s: contains a NUL byte", what, path);
        goto out;
    }
    if (raw.len > 0 && raw.data[raw.len - 1] == '\n')
        raw.len--;
    if (raw.len > 0 && raw.data[raw.len - 1] == '\r')
        raw.len--;
    out->value = malloc(raw.len + 1);
    if (!out->value) {
        errbuf_set(err, "%s file %s: out of memory", what, path);
        goto out;
    }
    memcpy(out->value, raw.data, raw.len);
    out->value[raw.len] = '\0';
    out->len = raw.len;
    snprintf(out->origin, sizeof(out->origin), "%s", path);
    rc = 0;
out:
    bytes_free(&raw);
    close(fd);
    return rc;
}

int secret_load(const struct secret_source *src, struct secret *out, struct errbuf *err)
{
    const char *path = NULL, *creds;
    char cred_path[PATH_MAX];

    memset(out, 0, sizeof(*out));
    if (src->path) {
        path = src->path;
    } else if (src->env_var && getenv(src->env_var) && *getenv(src->env_var)) {
        path = getenv(src->env_var);
    } else if (src->credential_name && (creds = getenv("CREDENTIALS_DIRECTORY")) && *creds) {
        snprintf(cred_path, sizeof(cred_path), "%s/%s", creds, src->credential_name);
        if (access(cred_path, F_OK) == 0)
            path = cred_path;
    }
    if (!path)
        return errbuf_set(err, "no %s given: use %s FILE%s%s%s%s", src->what, src->option,
                          src->env_var ? ", set " : "", src->env_var ? src->env_var : "",
                          src->credential_name ? ", or a systemd credential named " : "",
                          src->credential_name ? src->credential_name : "");
    return secret_from_file(path, src->what, out, err);
}

void secret_free(struct secret *s)
{
    if (s->value) {
        OPENSSL_cleanse(s->value, s->len);
        free(s->value);
    }
    memset(s, 0, sizeof(*s));
}
