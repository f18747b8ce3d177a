/* credfile.h — a Samba credentials file: the file `smbclient -A FILE` and `mount.cifs
 * credentials=FILE` read, so one file serves all three.
 *
 *     username = alice        (also "user"; "DOMAIN\alice" and "alice@DOMAIN" set the domain)
 *     password = secret       (also "pass"; everything after "= " to the end of the line)
 *     domain = EXAMPLE        (also "dom", "workgroup")
 *
 * Blank lines and lines starting with '#' or ';' are skipped; another key is an error naming the
 * file and line. The file must be a regular file that neither group nor others may read: it holds
 * a password, so a loose one is refused (saying why and how to fix it), never merely warned about.
 * The password never appears in a message. */
#ifndef CCS_UTIL_CREDFILE_H
#define CCS_UTIL_CREDFILE_H

#include "util/err.h"

/* The longest user name, password and domain taken (Windows: 256 / 256 / 15 characters). */
#define CREDFILE_FIELD_MAX 512

struct credentials {
    char username[CREDFILE_FIELD_MAX + 1];
    char password[CREDFILE_FIELD_MAX + 1];
    char domain[CREDFILE_FIELD_MAX + 1];
};

/* Read PATH into OUT. Fails naming PATH when it is missing, not a regular file, readable by group
 * or others, too large, has no username, or has a line it does not understand. */
int credfile_load(const char *path, struct credentials *out, struct errbuf *err);

/* Wipe a loaded password from memory. */
void credentials_wipe(struct credentials *c);

#endif
