/* smb_location.c — parse \\server\share\dir, //server/share/dir and smb://server[:port]/share/dir.
 * See smb_location.h for the rules. */
#include "store/smb_location.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest port number (RFC 793: 16 bits). */
#define PORT_MAX 65535

void smb_location_display(const char *location, char *out, size_t out_size)
{
    const char *rest, *scheme, *host_end, *at;

    if (strncmp(location, "smb://", 6) == 0) {
        scheme = "smb://";
        rest = location + 6;
    } else if (strncmp(location, "//", 2) == 0 || strncmp(location, "\\\\", 2) == 0) {
        scheme = location[0] == '\\' ? "\\\\" : "//";
        rest = location + 2;
    } else { /* not an SMB location: nothing to hide, shown as it is */
        snprintf(out, out_size, "%s", location);
        return;
    }
    /* user info can only appear before the first separator after the scheme */
    host_end = rest + strcspn(rest, "/\\");
    at = NULL;
    for (const char *p = rest; p < host_end; p++)
        if (*p == '@')
            at = p; /* the last '@': a password may hold one */
    if (at)
        rest = at + 1;
    snprintf(out, out_size, "%s%s", scheme, rest);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copy [FROM, TO) into OUT (OUT_SIZE), decoding %XX when DECODE. -1: too long, a bad escape, or a
 * control character (including a decoded NUL). */
static int copy_part(const char *from, const char *to, int decode, char *out, size_t out_size)
{
    size_t n = 0;

    for (const char *p = from; p < to; p++) {
        int c = (unsigned char)*p;
        if (decode && c == '%') {
            int hi = p + 2 < to ? hex_value(p[1]) : -1, lo = hi >= 0 ? hex_value(p[2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            p += 2;
        }
        if (c < 0x20 || c == 0x7f || n + 1 >= out_size)
            return -1;
        out[n++] = (char)(c == '\\' ? '/' : c);
    }
    out[n] = '\0';
    return 0;
}

/* A host name (letters, digits, '-', '_', '.') or an address; ':' only inside brackets (IPv6).
 * Nothing else, decoded or not: an '@' or a '/' in it would change what libsmbclient's URL means. */
static int is_host(const char *host, int bracketed)
{
    for (const char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p) && !(bracketed && *p == ':'))
            return 0;
    return *host != '\0';
}

/* Split HOSTPORT ([FROM, TO)) into host and port; URL form only has a port. */
static int parse_host(const char *from, const char *to, int url, struct smb_location *out,
                      const char *shown, struct errbuf *err)
{
    const char *colon = NULL, *host_from = from, *host_to = to;

    if (url && from < to && *from == '[') {
        const char *close = memchr(from, ']', (size_t)(to - from));
        if (!close)
            return errbuf_set(err, "store %s: an IPv6 address needs its closing \"]\"", shown);
        host_from = from + 1;
        host_to = close;
        if (close + 1 < to) {
            if (close[1] != ':')
                return errbuf_set(err, "store %s: unexpected text after \"]\"", shown);
            colon = close + 1;
        }
    } else if (url) {
        colon = memchr(from, ':', (size_t)(to - from));
        if (colon)
            host_to = colon;
    }
    if (host_from == host_to)
        return errbuf_set(err,
                          "store %s: no server named (expected \\\\server\\share\\folder, "
                          "//server/share/folder or smb://server[:port]/share/folder)",
                          shown);
    if (copy_part(host_from, host_to, url, out->host, sizeof(out->host)) < 0 ||
        !is_host(out->host, host_from != from))
        return errbuf_set(err, "store %s: the server name is not a host name or address", shown);
    out->port = SMB_DEFAULT_PORT;
    if (colon) {
        char digits[8];
        char *end;
        long port;
        size_t len = (size_t)(to - colon - 1);

        if (len == 0 || len >= sizeof(digits))
            return errbuf_set(err, "store %s: the port is not a number from 1 to %d", shown,
                              PORT_MAX);
        memcpy(digits, colon + 1, len);
        digits[len] = '\0';
        port = strtol(digits, &end, 10);
        if (*end || !isdigit((unsigned char)digits[0]) || port < 1 || port > PORT_MAX)
            return errbuf_set(err, "store %s: the port is not a number from 1 to %d", shown,
                              PORT_MAX);
        out->port = (unsigned)port;
    }
    return 0;
}

/* Check and normalise the folder path: no empty, "." or ".." segment; no trailing slash. */
static int check_dir(char *dir, const char *shown, struct errbuf *err)
{
    size_t len = strlen(dir);
    char *seg = dir;

    while (len > 0 && dir[len - 1] == '/')
        dir[--len] = '\0';
    if (len == 0)
        return 0;
    for (;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return errbuf_set(err, "store %s: the folder path has an empty, \".\" or \"..\" part",
                              shown);
        if (!seg[n])
            return 0;
        seg += n + 1;
    }
}

int smb_location_parse(const char *location, struct smb_location *out, struct errbuf *err)
{
    char shown[SMB_HOST_MAX + SMB_SHARE_MAX + SMB_DIR_MAX + 16];
    const char *rest, *host_end, *share_end;
    int url = 0;

    memset(out, 0, sizeof(*out));
    smb_location_display(location, shown, sizeof(shown));
    if (strncmp(location, "smb://", 6) == 0) {
        url = 1;
        rest = location + 6;
    } else if (strncmp(location, "//", 2) == 0 || strncmp(location, "\\\\", 2) == 0) {
        rest = location + 2;
    } else {
        return errbuf_set(err, "store %s: not an SMB location", shown);
    }
    host_end = rest + strcspn(rest, "/\\");
    if (memchr(rest, '@', (size_t)(host_end - rest)))
        return errbuf_set(err,
                          "store %s: a location must not carry a user name or password; "
                          "give them in a credentials file",
                          shown);
    if (parse_host(rest, host_end, url, out, shown, err) < 0)
        return -1;
    if (!*host_end || !host_end[1])
        return errbuf_set(err, "store %s: no share named (expected \\\\server\\share\\folder)",
                          shown);
    rest = host_end + 1;
    share_end = rest + strcspn(rest, "/\\");
    if (share_end == rest || copy_part(rest, share_end, url, out->share, sizeof(out->share)) < 0)
        return errbuf_set(err,
                          "store %s: the share name is empty, too long or has a control "
                          "character",
                          shown);
    if (*share_end && copy_part(share_end + 1, share_end + strlen(share_end), url, out->dir,
                                sizeof(out->dir)) < 0)
        return errbuf_set(err, "store %s: the folder path is too long or has a control character",
                          shown);
    return check_dir(out->dir, shown, err);
}

/* Append S to OUT at *N, percent-encoding all but unreserved characters (RFC 3986) and, when
 * KEEP_SLASH, '/'. libsmbclient decodes every part of its URLs. */
static int append_escaped(const char *s, int keep_slash, char *out, size_t out_size, size_t *n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/');
        if (*n + (plain ? 1 : 3) >= out_size)
            return -1;
        if (plain) {
            out[(*n)++] = (char)*p;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[*p >> 4];
            out[(*n)++] = hex[*p & 15];
        }
    }
    out[*n] = '\0';
    return 0;
}

int smb_location_url(const struct smb_location *loc, const char *name, char *out, size_t out_size)
{
    int ipv6 = strchr(loc->host, ':') != NULL;
    int len = snprintf(out, out_size, "smb://%s%s%s:%u/", ipv6 ? "[" : "", loc->host,
                       ipv6 ? "]" : "", loc->port);
    size_t n;

    if (len < 0 || (size_t)len >= out_size)
        return -1;
    n = (size_t)len;
    if (append_escaped(loc->share, 0, out, out_size, &n) < 0)
        return -1;
    if (loc->dir[0] && (n + 1 >= out_size || (out[n++] = '/', out[n] = '\0', 0) ||
                        append_escaped(loc->dir, 1, out, out_size, &n) < 0))
        return -1;
    if (name && *name &&
        (n + 1 >= out_size || (out[n++] = '/', out[n] = '\0', 0) ||
         append_escaped(name, 0, out, out_size, &n) < 0))
        return -1;
    return 0;
}
