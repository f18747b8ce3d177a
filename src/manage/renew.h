/* renew.h — `ccs renew`: for each managed certificate, deliver the live certificate to the tasks
 * that still owe it (manage/owed.h), decide whether it is due (policy, ARI, backoff), order it,
 * install it only once complete and verified, and run its tasks.
 *
 * One run at a time: STATE/renew.lock (flock) names the holder; `ccs task run` takes it too.
 * Crash safety: the new key is saved and the order URL recorded before finalize; a killed run
 * leaves the live certificate in place, and the next run reuses the pending key and orders again;
 * tasks a killed run did not finish are owed, and the next run delivers them; temp files of
 * killed writes are removed. SIGTERM and SIGINT stop a run gracefully (manage/stop.h). The CA is
 * contacted only for work that needs it: an order, or an ARI check (a failed one is a warning). */
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

struct renew_outcome;

struct renew_options {
    const char *const *names; /* only these certificates (NULL: all) */
    size_t name_count;
    int force;
    int dry_run;
    int jobs;
    time_t now;
    FILE *out;     /* progress and plan lines */
    int terminal;  /* OUT is a terminal: progress lines, colour */
    /* Called as each certificate's turn starts (DONE NULL) and ends (DONE: its outcome), one call
     * at a time, from the jobs' threads; NULL for none. `ccs renew` draws its progress line with
     * it (cli/progress.h). */
    void (*progress)(void *arg, const char *name, const struct renew_outcome *done);
    void *progress_arg;
};

enum renew_status {
    RENEW_NOT_DUE,
    RENEW_RENEWED,
    RENEW_FAILED,      /* the renewal failed, or a fatal task did */
    RENEW_WOULD_RENEW, /* --dry-run */
    RENEW_STOPPED,     /* ccs was asked to stop before the certificate's turn was done */
};

struct renew_outcome {
    const struct config_certificate *cert;
    enum renew_status status;
    /* Never NULL in a summary renew_run returned; the summary owns them. Texts rather than
     * arrays: a run over 100,000 certificates keeps an outcome for each (issue 11). */
    const char *why;            /* why it was (not) due ("" not decided) */
    const char *message;        /* what happened ("" nothing yet) */
    time_t not_after;           /* of the certificate in use afterwards (0: none) */
    size_t tasks_ran, tasks_failed, tasks_stopped;
    size_t tasks_delivered; /* runs that delivered the live certificate (owed ones included) */
    size_t tasks_owed;      /* still owed the live certificate at the end (manage/owed.h) */
};

struct renew_summary {
    struct renew_outcome *items;
    size_t count;
    size_t renewed, failed, not_due, stopped;    /* certificates */
    size_t tasks_failed, tasks_delivered, tasks_owed;
    int stop_signal; /* the signal that asked the run to stop (manage/stop.h), or 0 */
};

/* Returns -1 (ERR set) when the run could not start: lock held, state unusable, unknown name. */
int renew_run(const struct config *cfg, const struct renew_options *opts,
              struct renew_summary *out, struct errbuf *err);
void renew_summary_free(struct renew_summary *s);

/* Run one task by hand (`ccs task run`): records the run. */
int renew_task_run(const struct config *cfg, const char *cert_name, const char *task_name,
                   int dry_run, FILE *out, struct errbuf *err);

#endif
