/* secret.h — secrets (PFX password, share password, EAB key) come from files, never from argv.
 *
 * A secret is looked up, first match wins, in:
 *   1. the file named on the command line (e.g. --password-file FILE),
 *   2. the file named by an environment variable (e.g. CCS_PFX_PASSWORD_FILE),
 *   3. a systemd credential: $CREDENTIALS_DIRECTORY/NAME (systemd.exec(5) LoadCredential=).
 * The secret is the file's first line, its line ending ("\n" or "\r\n") removed, so
 * `echo pw > file` does what users mean. Only empty lines may follow it; a control character in
 * it (a lone CR included), a NUL anywhere, or text that is not UTF-8 is refused, saying why; a
 * non-ASCII secret is used with a warning (Java cannot open PFX files under it). */
#ifndef CCS_UTIL_SECRET_H
#define CCS_UTIL_SECRET_H

#include <stddef.h>

#include "util/err.h"

/* Longest secret accepted; a "password file" larger than this is almost certainly the wrong file. */
#define SECRET_MAX_LEN 4096

struct secret_source {
    const char *what;            /* for messages: "PFX password" */
    const char *option;          /* for messages: "--password-file" */
    const char *path;            /* from the command line, or NULL */
    const char *env_var;         /* e.g. "CCS_PFX_PASSWORD_FILE", or NULL */
    const char *credential_name; /* e.g. "ccs-pfx-password", or NULL */
};

struct secret {
    char *value; /* NUL-terminated; may be empty */
    size_t len;
    char origin[512]; /* where it came from, for messages (never the value) */
};

/* Load the secret. Fails, naming the file, if it is missing, unreadable, not a regular file, too
 * large, or breaks the rules above; fails naming every place looked if none is configured. A file that
 * others can read is accepted with a warning (secrets files should be 0600). */
int secret_load(const struct secret_source *src, struct secret *out, struct errbuf *err);

/* Wipe and free. */
void secret_free(struct secret *s);

#endif
