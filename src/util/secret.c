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

/* Nonzero when S (N octets) is well-formed UTF-8. */
static int is_utf8(const unsigned char *s, size_t n)
{
    size_t len;
    for (size_t i = 0; i < n; i += len)
        if (utf8_next(s + i, n - i, &len) < 0)
            return 0;
    return 1;
}

/* Cut RAW to the secret: its first line, without the line ending ("\n" or "\r\n"). Anything but
 * empty lines after it is refused (a two-line file is the wrong file, or a password with a
 * newline no server can be given), as are control characters in it (a CR without its LF
 * included) and text that is not UTF-8. A non-ASCII secret is used with a warning. Messages never
 * show the secret. */
static int first_line(struct bytes *raw, const char *what, const char *path, struct errbuf *err)
{
    unsigned char *nl = memchr(raw->data, '\n', raw->len);
    size_t len = nl ? (size_t)(nl - raw->data) : raw->len, ascii = 1;

    for (size_t i = len + 1; nl && i < raw->len; i++)
        if (raw->data[i] != '\n' && !(raw->data[i] == '\r' && i + 1 < raw->len &&
                                      raw->data[i + 1] == '\n'))
            return errbuf_set(err,
                              "%s file %s: holds more than one line; the secret is the first "
                              "line, and only empty lines may follow it",
                              what, path);
    if (nl && len > 0 && raw->data[len - 1] == '\r')
        len--;
    for (size_t i = 0; i < len; i++) {
        if (raw->data[i] < 0x20 || raw->data[i] == 0x7f)
            return errbuf_set(err,
                              "%s file %s: the %s contains a control character%s; it must be "
                              "printable text on one line",
                              what, path, what,
                              raw->data[i] == '\r' ? " (a carriage return)"
                              : raw->data[i] == '\t' ? " (a tab)"
                                                     : "");
        ascii &= raw->data[i] < 0x80;
    }
    if (!is_utf8(raw->data, len))
        return errbuf_set(err, "%s file %s: the %s is not UTF-8 text", what, path, what);
    if (!ascii)
        log_warning("%s file %s: the %s is not ASCII: Java-based servers (keytool, Tomcat) "
                    "cannot open PFX files under it",
                    what, path, what);
    raw->len = len;
    return 0;
}

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
    if (first_line(&raw, what, path, err) < 0)
        goto out;
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
