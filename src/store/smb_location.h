/* smb_location.h — the three ways to name a folder on an SMB share, parsed into one form.
 *
 *   \\server\share\dir\sub      what Windows users type (UNC)
 *   //server/share/dir/sub      the same with forward slashes (mount.cifs, smbclient)
 *   smb://server[:port]/share/dir/sub   a URL: the only form with a port; %XX is decoded
 *
 * The server is a host name, an IPv4 address, or an IPv6 address in brackets ([::1], URL form).
 * A location never carries credentials: "user[:password]@" before the server is refused (the
 * credentials belong in a credentials file, never in argv or a configuration line), and the
 * message never repeats that part. Empty, "." and ".." path segments are refused, so a location
 * names exactly one folder and cannot climb out of the share. */
#ifndef CCS_STORE_SMB_LOCATION_H
#define CCS_STORE_SMB_LOCATION_H

#include <stddef.h>

#include "util/err.h"

/* The SMB port (RFC-less; Microsoft's direct-hosted SMB over TCP). */
#define SMB_DEFAULT_PORT 445
/* A host name at most 253 octets (RFC 1035); an IPv6 literal fewer. */
#define SMB_HOST_MAX 255
/* Windows limits a share name to 80 characters; a little room for UTF-8. */
#define SMB_SHARE_MAX 255
/* Longest folder path inside the share that ccs accepts (Windows' MAX_PATH is 260 characters). */
#define SMB_DIR_MAX 1024

struct smb_location {
    char host[SMB_HOST_MAX + 1]; /* without brackets for IPv6 */
    unsigned port;               /* SMB_DEFAULT_PORT when none given */
    char share[SMB_SHARE_MAX + 1];
    char dir[SMB_DIR_MAX + 1]; /* "a/b" (forward slashes, no leading or trailing one), or "" */
};

/* Parse LOCATION (one of the three forms). On error the message names the location as
 * smb_location_display() shows it. */
int smb_location_parse(const char *location, struct smb_location *out, struct errbuf *err);

/* LOCATION as it may be printed: as given, with any "user[:password]@" removed. */
void smb_location_display(const char *location, char *out, size_t out_size);

/* The libsmbclient URL of NAME inside the location's folder (NAME NULL or "": the folder
 * itself): smb://host:port/share/dir/name, every part percent-encoded where needed. -1 when it
 * does not fit. */
int smb_location_url(const struct smb_location *loc, const char *name, char *out, size_t out_size);

#endif
