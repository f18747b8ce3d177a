/* renew.h — `ccs renew`: for each managed certificate, decide whether it is due (policy, ARI,
 * backoff), order it, install it only once complete and verified, and run its tasks.
 *
 * One run at a time: STATE/renew.lock (flock) names the holder. Crash safety: the new key is
 * saved and the order URL recorded before finalize; a killed run leaves the live certificate in
 * place, and the next run reuses the pending key and orders again. */
#ifndef CCS_MANAGE_RENEW_H
#define CCS_MANAGE_RENEW_H

#include <stdio.h>
#include <time.h>

#include "manage/config.h"
#include "util/err.h"

#define RENEW_DEFAULT_JOBS 4
#define RENEW_MAX_JOBS 64
#define RENEW_LOCK_FILE "renew.lock"
/* When the CA gives no Retry-After for renewalInfo, ask again after this long (RFC 9773 §4.3
 * suggests clients poll a few times a day). */
#define ARI_DEFAULT_RECHECK_S (6 * 3600)

struct renew_options {
    const char *const *names; /* only these certificates (NULL: all) */
    size_t name_count;
    int force;
    int dry_run;
    int jobs;
    time_t now;
    FILE *out;     /* progress and plan lines */
    int terminal;  /* OUT is a terminal: progress lines, colour */
};

enum renew_status { RENEW_NOT_DUE, RENEW_RENEWED, RENEW_FAILED, RENEW_WOULD_RENEW };

struct renew_outcome {
    const struct config_certificate *cert;
    enum renew_status status;
    char why[256];              /* why it was (not) due */
    char message[ERRBUF_SIZE];  /* what happened */
    time_t not_after;           /* of the certificate in use afterwards (0: none) */
    size_t tasks_ran, tasks_failed;
};

struct renew_summary {
    struct renew_outcome *items;
    size_t count;
    size_t renewed, failed, not_due;
};

/* Returns -1 (ERR set) when the run could not start: lock held, state unusable, unknown name. */
int renew_run(const struct config *cfg, const struct renew_options *opts,
              struct renew_summary *out, struct errbuf *err);
void renew_summary_free(struct renew_summary *s);

/* Run one task by hand (`ccs task run`): records the run. */
int renew_task_run(const struct config *cfg, const char *cert_name, const char *task_name,
                   int dry_run, FILE *out, struct errbuf *err);

#endif
