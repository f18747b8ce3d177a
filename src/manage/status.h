/* status.h — what `ccs status` shows of each managed certificate: its live certificate, what the
 * state remembers of it, when it renews and why, the tasks that owe it the live certificate
 * (owed.h), the tasks failing, and the last task runs.
 *
 * Two ways in, one view out:
 *  - every certificate (NAMES NULL): the state is read in three scans (certificates, task states,
 *    recent runs), each row put in its certificate's place through a name → index map; nothing is
 *    looked up by scanning all certificates, so the time and memory grow with the certificates, not
 *    their square (issue 11: 100,000 certificates in a few seconds);
 *  - the certificates NAMES: each with its own indexed queries; the others are never read.
 * The live certificate is read from the state's record when the live link names the serial the
 * record holds (certfiles_live_serial): one readlink, not a PEM parse; otherwise (no record, a
 * record of another serial: a run killed between the switch and the record) from its file. */
#ifndef CCS_MANAGE_STATUS_H
#define CCS_MANAGE_STATUS_H

#include <stddef.h>
#include <time.h>

#include "manage/config.h"
#include "manage/policy.h"
#include "manage/state.h"
#include "util/err.h"

/* How many of a certificate's newest task runs the view carries. */
#define STATUS_RECENT_RUNS 10

struct status_owed {
    const struct config_task *task;
    int failure_count;        /* consecutive failures */
    time_t last_attempt;      /* 0: never ran */
    const char *last_message; /* of its last run ("" none) */
    time_t retry_at;          /* the backoff: not before this */
};

struct status_run {
    const char *task, *message;
    time_t when;
    int ok;
};

struct status_view {
    const struct config_certificate *cert;
    int live; /* there is a live certificate; the four below describe it */
    const char *serial, *thumbprint;
    time_t not_before, not_after;
    int last_ok; /* of the last renewal: 1 ok, 0 failed, -1 never attempted */
    int failure_count;
    const char *last_message;
    struct policy_decision decision;
    const struct status_owed *owed; /* in configuration order */
    size_t owed_count;
    const char *const *failing; /* tasks whose newest run failed, by name */
    size_t failing_count;
    const struct status_run *runs; /* newest first, at most STATUS_RECENT_RUNS */
    size_t run_count;
};

/* Called once per certificate, in configuration order (or NAMES' order); the view is valid during
 * the call only. Non-zero stops the walk and is returned. */
typedef int (*status_fn)(void *ctx, const struct status_view *v);

struct status_request {
    const char *const *names; /* only these (NULL: every certificate) */
    size_t name_count;
    time_t now;
    int with_runs; /* fill runs (the JSON output shows them; the table does not) */
};

/* DB may be NULL (no database: every certificate "never"). Returns -1 with ERR set when a name is
 * not in the configuration, the state cannot be read, or memory runs out. */
int status_each(const struct config *cfg, struct state_db *db, const struct status_request *req,
                status_fn fn, void *ctx, struct errbuf *err);

#endif
