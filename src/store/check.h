/* check.h — everything about a store that would make a server fail or serve the wrong thing, found
 * before a client does: the red "!" of IIS Manager, with the reason spelled out (field notes §1). */
#ifndef CCS_STORE_CHECK_H
#define CCS_STORE_CHECK_H

#include <time.h>

#include "store/store.h"
#include "util/err.h"

enum check_severity { CHECK_ERROR, CHECK_WARNING };

struct check_finding {
    char file[STORE_FILE_NAME_MAX + 1];
    enum check_severity severity;
    const char *code; /* stable identifier, e.g. "wrong-password"; documented in the README */
    char message[ERRBUF_SIZE];
};

struct check_report {
    struct check_finding *items;
    size_t count;
    size_t errors, warnings;
    size_t pfx_files; /* *.pfx files examined */
};

struct check_options {
    const char *password;
    int warn_days; /* warn when a certificate expires within this many days */
    time_t now;
};

#define CHECK_DEFAULT_WARN_DAYS 14

/* What is wrong with permission bits MODE for a store file, or NULL: "writable by everyone", "writable
 * by the group" (whoever can write a file chooses what every server serves) or "readable by every
 * local user" (the password-protected key handed to all). check reports such files as errors;
 * deploy refuses to write them unless forced. */
const char *store_mode_problem(unsigned mode);

int store_check(struct store *st, const struct check_options *opts, struct check_report *out,
                struct errbuf *err);
void check_report_free(struct check_report *r);

#endif
