/* tasks.h — deployment tasks (Certify's model, field notes §2, with its weaknesses fixed: every
 * run recorded, failures never silent, a dry run that says what would be written).
 *
 *   deploy-ccs  the certificate into a named store with `ccs deploy`'s semantics (store password
 *               and format, atomic, newer-only, names dropped since the previous certificate
 *               pruned by thumbprint);
 *   export      PEM files (cert, chain, fullchain, key) and/or a PFX to paths, with mode/owner;
 *   script      a program with environment variables describing the certificate and the
 *               renewal's result, a timeout, its exit code honoured.
 *
 * Sequencing: within a phase, tasks run in file order. A task runs when its trigger matches the
 * renewal's result (manual tasks only by `ccs task run`). After a failed task the rest of the
 * phase are skipped unless marked run-if-previous-failed. A fatal task's failure fails the
 * renewal (for a pre task: before anything is ordered). Once ccs is asked to stop
 * (manage/stop.h), no task starts: the rest of the phase is skipped as stopped.
 *
 * An export is one unit: every file is written under a temp name first, then the renames follow
 * back to back, the key first (a reader never finds a new certificate beside the old key), and
 * the task succeeds only after the last one. A failure before the renames changes nothing; one
 * between them is reported, and the task is owed (manage/owed.h), so it is redone in full. */
#ifndef CCS_MANAGE_TASKS_H
#define CCS_MANAGE_TASKS_H

#include <stddef.h>
#include <time.h>

#include "manage/cert_tasks.h"
#include "manage/config.h"
#include "util/err.h"

/* What a task works with: the certificate's current files. */
struct task_env {
    const struct config *cfg;
    const struct config_certificate *cert;
    const struct cert_tasks *tasks; /* each certificate's tasks (cert_tasks.h); NULL: scan */
    const char *cert_pem, *chain_pem, *fullchain_pem, *key_pem; /* paths; NULL before issuance */
    const char *previous_cert_pem; /* the certificate this renewal replaced, for pruning; or NULL */
    const char *thumbprint;        /* SHA-1, upper-case hex */
    time_t not_after;
    int renewal_ok;  /* the renewal's result: 1 success, 0 failure */
    int manual;      /* run by `ccs task run` */
    int dry_run;     /* describe, write nothing */
    time_t now;
};

struct task_result {
    int ran;   /* 0: skipped (then WHY says why) */
    int ok;
    int stopped; /* not started, or cut short, because ccs is stopping: its work is not done,
                  * and it is no failure of the task's */
    char message[ERRBUF_SIZE]; /* what it did or would do, or why it failed / was skipped */
};

/* Whether TASK's trigger fires for ENV (manual tasks only when ENV->manual). */
int task_trigger_matches(const struct config_task *task, const struct task_env *env);

/* Run one task now (no trigger check). Never exits early without filling OUT. */
void task_run(const struct config_task *task, const struct task_env *env, struct task_result *out);

/* Called after each task of a phase, to record and report it. */
typedef void (*task_report_fn)(void *ctx, const struct config_task *task,
                               const struct task_result *result);

/* Which tasks of a phase run this time (a retry of owed tasks runs only those, and not those
 * still backing off). */
enum task_pick {
    TASK_PICK_RUN,    /* run it, when its trigger fires */
    TASK_PICK_IGNORE, /* leave it out, unreported: nothing to do */
    TASK_PICK_HOLD,   /* not now (WHY says why): reported skipped, its work not done, so the later
                       * tasks of the phase are skipped as after a failure */
};
typedef enum task_pick (*task_pick_fn)(void *ctx, const struct config_task *task,
                                       struct task_result *why);

struct phase_hooks {
    task_pick_fn pick; /* NULL: every task */
    task_report_fn report;
    void *ctx; /* for both */
};

struct phase_result {
    size_t ran, failed, skipped;
    size_t stopped;    /* not started or cut short: ccs is stopping */
    int fatal_failure; /* a fatal task failed */
};

/* Run the tasks of ENV->cert in PHASE, in order, with triggers and sequencing as above. HOOKS
 * may be NULL. */
void tasks_run_phase(enum task_phase phase, const struct task_env *env,
                     const struct phase_hooks *hooks, struct phase_result *out);

#endif
