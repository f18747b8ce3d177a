/* credfile.c — read a Samba credentials file (see credfile.h). */
#include "util/credfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/bytes.h"

/* A credentials file is three short lines; anything larger is the wrong file. */
#define CREDFILE_MAX_LEN 16384

/* Remove leading and trailing blanks (and a CR from a file written on Windows). */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int set_field(char *field, const char *value, const char *path, int line, const char *key,
                     struct errbuf *err)
{
    if (strlen(value) > CREDFILE_FIELD_MAX)
        return errbuf_set(err, "%s:%d: %s is longer than %d characters", path, line, key,
                          CREDFILE_FIELD_MAX);
    snprintf(field, CREDFILE_FIELD_MAX + 1, "%s", value);
    return 0;
}

/* "DOMAIN\user" or "user@DOMAIN" in the username line sets the domain too, as smbclient does. */
static void split_user_domain(struct credentials *c)
{
    char *sep = strchr(c->username, '\\');
    char user[CREDFILE_FIELD_MAX + 1];

    if (sep) {
        *sep = '\0';
        snprintf(c->domain, sizeof(c->domain), "%s", c->username);
        snprintf(user, sizeof(user), "%s", sep + 1);
        snprintf(c->username, sizeof(c->username), "%s", user);
    } else if ((sep = strrchr(c->username, '@')) != NULL && !c->domain[0]) {
        *sep = '\0';
        snprintf(c->domain, sizeof(c->domain), "%s", sep + 1);
    }
}

static int parse_line(char *text, const char *path, int line, struct credentials *out,
                      struct errbuf *err)
{
    char *eq, *key, *value;

    key = trim(text);
    if (!*key || *key == '#' || *key == ';')
        return 0;
    eq = strchr(key, '=');
    if (!eq)
        return errbuf_set(err, "%s:%d: expected \"key = value\" (username, password, domain)", path,
                          line);
    *eq = '\0';
    key = trim(key);
    value = trim(eq + 1);
    if (strcmp(key, "username") == 0 || strcmp(key, "user") == 0)
        return set_field(out->username, value, path, line, "username", err);
    if (strcmp(key, "password") == 0 || strcmp(key, "pass") == 0)
        return set_field(out->password, value, path, line, "password", err);
    if (strcmp(key, "domain") == 0 || strcmp(key, "dom") == 0 || strcmp(key, "workgroup") == 0)
        return set_field(out->domain, value, path, line, "domain", err);
    return errbuf_set(err, "%s:%d: unknown key \"%s\" (expected username, password or domain)",
                      path, line, key);
}

/* Open PATH and check it is a private regular file. Returns the descriptor or -1. */
static int open_private(const char *path, struct errbuf *err)
{
    struct stat s;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
        return errbuf_set_errno(err, "credentials file %s", path);
    if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        return errbuf_set(err, "credentials file %s: not a regular file", path);
    }
    if (s.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return errbuf_set(err,
                          "credentials file %s: readable by %s (mode %04o); it holds a password, "
                          "so ccs refuses it: chmod 600 %s",
                          path, (s.st_mode & S_IRWXO) ? "others" : "its group",
                          (unsigned)(s.st_mode & 07777), path);
    }
    return fd;
}

int credfile_load(const char *path, struct credentials *out, struct errbuf *err)
{
    struct bytes data = {NULL, 0};
    char *text = NULL, *line, *next;
    int fd, lineno = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    fd = open_private(path, err);
    if (fd < 0)
        return -1;
    rc = bytes_read_fd(fd, path, CREDFILE_MAX_LEN, &data, err);
    close(fd);
    if (rc < 0)
        return -1;
    rc = -1;
    if (memchr(data.data, '\0', data.len)) {
        errbuf_set(err, "credentials file %s: holds a NUL byte (not a text file)", path);
        goto out;
    }
    /* bytes_read_fd's buffer is not NUL-terminated: a copy with room for one. */
    text = OPENSSL_zalloc(data.len + 1);
    if (!text) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    memcpy(text, data.data, data.len);
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (parse_line(line, path, ++lineno, out, err) < 0)
            goto out;
    }
    if (!out->username[0]) {
        errbuf_set(err, "credentials file %s: no \"username =\" line", path);
        goto out;
    }
    split_user_domain(out);
    rc = 0;
out:
    if (text)
        OPENSSL_clear_free(text, data.len + 1);
    if (data.data)
        OPENSSL_cleanse(data.data, data.len);
    bytes_free(&data);
    if (rc < 0)
        credentials_wipe(out);
    return rc;
}

void credentials_wipe(struct credentials *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}
