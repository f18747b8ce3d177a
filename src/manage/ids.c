/* ids.c — user and group names as ids, with the reentrant lookups only (ids.h). */
#include "manage/ids.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

/* getpwnam_r/getgrnam_r buffers: start small, double on ERANGE up to this (a group with many
 * members needs more than sysconf's hint). */
#define ID_LOOKUP_BUF_START 1024
#define ID_LOOKUP_BUF_MAX (1024 * 1024)

/* A plain decimal id ("33"), as chown(1) accepts. */
static int parse_numeric_id(const char *text, long *out)
{
    char *end;
    long v;

    if (!text[0] || strspn(text, "0123456789") != strlen(text))
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end)
        return -1;
    *out = v;
    return 0;
}

/* One reentrant database lookup: fills *ID and returns 0 when NAME was found, -1 when it does
 * not exist, or an errno value (ERANGE: BUF too small). */
typedef int (*id_lookup_fn)(const char *name, char *buf, size_t size, long *id);

static int user_lookup(const char *name, char *buf, size_t size, long *id)
{
    struct passwd pw, *found = NULL;
    int rc = getpwnam_r(name, &pw, buf, size, &found);

    if (rc == 0 && found)
        *id = (long)pw.pw_uid;
    return rc != 0 ? rc : found ? 0 : -1;
}

static int group_lookup(const char *name, char *buf, size_t size, long *id)
{
    struct group gr, *found = NULL;
    int rc = getgrnam_r(name, &gr, buf, size, &found);

    if (rc == 0 && found)
        *id = (long)gr.gr_gid;
    return rc != 0 ? rc : found ? 0 : -1;
}

/* NAME (a user or group, as KIND says) as an id; NULL NAME gives -1, "leave unchanged". */
static int id_of(const char *kind, const char *name, id_lookup_fn lookup, long *out,
                 struct errbuf *err)
{
    size_t size = ID_LOOKUP_BUF_START;
    char *buf = NULL;
    int rc;

    *out = -1;
    if (!name)
        return 0;
    if (parse_numeric_id(name, out) == 0)
        return 0;
    for (;;) {
        char *bigger = realloc(buf, size);
        if (!bigger) {
            free(buf);
            return errbuf_set(err, "%s \"%s\": out of memory", kind, name);
        }
        buf = bigger;
        rc = lookup(name, buf, size, out);
        if (rc != ERANGE || size >= ID_LOOKUP_BUF_MAX)
            break;
        size *= 2;
    }
    free(buf);
    if (rc < 0)
        return errbuf_set(err, "no %s \"%s\" on this system", kind, name);
    if (rc != 0) {
        errno = rc;
        return errbuf_set_errno(err, "cannot look up %s \"%s\"", kind, name);
    }
    return 0;
}

int ids_user(const char *name, long *uid, struct errbuf *err)
{
    return id_of("user", name, user_lookup, uid, err);
}

int ids_group(const char *name, long *gid, struct errbuf *err)
{
    return id_of("group", name, group_lookup, gid, err);
}
