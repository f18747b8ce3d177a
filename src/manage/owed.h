/* owed.h — tasks owed the live certificate.
 *
 * The invariant: a post task that fires on success (trigger on-success or any) is owed the live
 * certificate until a run of it has succeeded with that certificate. The state records, per task,
 * the thumbprint its last success delivered (state.h, task_record.delivered); a task is owed while
 * that differs from the live certificate's thumbprint. So:
 *  - nothing is written to make a task owed: switching the live certificate makes every such task
 *    owed at once, and no crash, kill or stop between the switch and the tasks can lose a delivery;
 *  - a delivery is recorded only after the task returned success (an export after its last rename,
 *    a deploy after its last write): a task killed half-way stays owed, and is redone in full;
 *  - a task added to the configuration is owed the live certificate too.
 *
 * Every `ccs renew` retries what is owed first, whether or not a renewal is due, each task with the
 * backoff of failed renewals (policy.h: from the fourth consecutive failure it waits); `ccs status`
 * shows what is owed, and a certificate that owes anything is not "ok". */
#ifndef CCS_MANAGE_OWED_H
#define CCS_MANAGE_OWED_H

#include <stddef.h>
#include <time.h>

#include "manage/config.h"
#include "manage/state.h"
#include "util/err.h"

struct owed_task {
    const struct config_task *task;
    int failure_count;      /* consecutive failures of the task */
    time_t last_attempt;    /* 0: never ran */
    char last_message[512]; /* of its last run */
    time_t retry_at;        /* the backoff: not before this (<= now: due) */
};

struct owed_list {
    struct owed_task *items; /* in configuration order: the order they run in */
    size_t count;
};

/* Whether TASK can be owed at all: a post task that fires on a successful renewal. */
int owed_applies(const struct config_task *task);

/* The tasks of CERT owed the live certificate, whose thumbprint is LIVE (NULL or "": none is live,
 * nothing is owed). DB may be NULL (a dry run on a machine without state): then every task that
 * applies is owed. LIFETIME_S is the live certificate's, for the backoff. CT (cert_tasks.h) gives
 * the certificate's tasks without a scan of every task (a run looking at many certificates); NULL
 * scans. */
struct cert_tasks;
int owed_find(const struct config *cfg, const struct cert_tasks *ct, struct state_db *db,
              const struct config_certificate *cert, const char *live, time_t lifetime_s,
              struct owed_list *out, struct errbuf *err);

/* TASK's entry in LIST, or NULL when it is not owed. */
const struct owed_task *owed_lookup(const struct owed_list *list, const struct config_task *task);

/* "ccs, pem": the names, for messages. */
void owed_names(const struct owed_list *list, char *out, size_t size);

void owed_free(struct owed_list *list);

#endif
