/* state.h — what ccs remembers between runs, in SQLite (STATE_DIR/ccs.db, WAL, with a schema
 * version and migrations): per managed certificate its current serial, thumbprint and validity,
 * the ARI window, the last attempt and its result, failure count and the next attempt allowed,
 * an unfinished order (crash safety); per task the certificate its last success delivered and its
 * consecutive failures; and a history of renewals and of task runs.
 *
 * Safe to call from several threads: one connection, used under a mutex. */
#ifndef CCS_MANAGE_STATE_H
#define CCS_MANAGE_STATE_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define STATE_DB_FILE "ccs.db"
#define STATE_SCHEMA_VERSION 3

struct state_db;

struct cert_record {
    char name[256];
    /* The certificate in use (empty before the first issuance). */
    char serial[130];
    char thumbprint[41];
    time_t not_before, not_after;
    time_t last_renewal; /* when the current certificate was installed */
    /* ARI (0 = none known). */
    time_t ari_start, ari_end;
    time_t ari_next_check; /* from the CA's Retry-After */
    time_t renew_at;       /* the chosen point (random within the ARI window, or the policy's) */
    /* The last attempt. */
    time_t last_attempt;
    int last_ok; /* 1 ok, 0 failed, -1 never attempted */
    char last_message[512];
    int failure_count;   /* consecutive failures */
    time_t next_attempt; /* the CA's Retry-After: not before this; 0 = none (our own backoff
                          * follows from failure_count and last_attempt) */
    /* An order in flight (crash safety): recorded before finalize. */
    char pending_order[512];
    char pending_key[PATH_MAX];
    time_t pending_since;
};

enum state_open_mode {
    /* The database must be there and be one: `ccs status` and `ccs task run` never create it,
     * and a 0-byte file (history lost) is an error, not an empty history. */
    STATE_OPEN_EXISTING,
    /* Create it when it is missing or 0 bytes; *ORIGIN says which, so the caller says so. */
    STATE_OPEN_CREATE,
};

enum state_origin {
    STATE_EXISTED,         /* opened as it was (migrated when older) */
    STATE_CREATED,         /* there was no database: a new one */
    STATE_CREATED_OVER_EMPTY, /* the file was 0 bytes: a new database in its place */
};

/* ORIGIN may be NULL. */
int state_open(const char *state_dir, enum state_open_mode mode, enum state_origin *origin,
               struct state_db **out, struct errbuf *err);
void state_close(struct state_db *db);

/* *FOUND = 0 and OUT zeroed (last_ok = -1, name set) when the certificate has no record yet. */
int state_cert_get(struct state_db *db, const char *name, struct cert_record *out, int *found,
                   struct errbuf *err);
int state_cert_put(struct state_db *db, const struct cert_record *rec, struct errbuf *err);

/* History. */
int state_renewal_add(struct state_db *db, const char *cert, time_t when, int ok,
                      const char *serial, const char *message, struct errbuf *err);
int state_task_run_add(struct state_db *db, const char *cert, const char *task, time_t when,
                       int ok, const char *message, struct errbuf *err);

/* One run of a task, as the renewer records it: a history row and the task's state, in one
 * transaction. */
struct state_task_run {
    const char *cert, *task;
    time_t when;
    int ok;
    const char *message;
    /* The thumbprint of the certificate a successful run delivered (the live one), or NULL. */
    const char *delivered;
    /* Cut short because ccs was asked to stop: recorded, not counted as a failure (the backoff
     * is for tasks that fail, not for runs that were stopped). */
    int stopped;
};
int state_task_run_record(struct state_db *db, const struct state_task_run *run,
                          struct errbuf *err);

/* What is known of one task of a certificate. */
struct task_record {
    char task[128];
    char delivered[41];    /* thumbprint of the certificate its last success delivered; "" none */
    time_t delivered_at;
    int failure_count;     /* consecutive failures (stopped runs not counted) */
    time_t last_attempt;   /* 0: never ran */
    int last_ok;           /* 1 ok, 0 failed, -1 never ran */
    char last_message[512];
};

/* Every task of CERT that has run, by task name. Free *OUT with free(). */
int state_task_records(struct state_db *db, const char *cert, struct task_record **out,
                       size_t *count, struct errbuf *err);

struct history_row {
    char cert[256];
    char task[128]; /* "" for renewals */
    time_t when;
    int ok;
    char serial[130]; /* renewals only */
    char message[512];
};

/* Newest first; CERT NULL for all; at most LIMIT rows. Free *ROWS with free(). */
int state_renewals(struct state_db *db, const char *cert, size_t limit, struct history_row **rows,
                   size_t *count, struct errbuf *err);
int state_task_runs(struct state_db *db, const char *cert, size_t limit, struct history_row **rows,
                    size_t *count, struct errbuf *err);

/* Tasks of CERT whose most recent run failed. Free with free() on each and the array. */
int state_failing_tasks(struct state_db *db, const char *cert, char ***tasks, size_t *count,
                        struct errbuf *err);

/* ---- batches: many writes, one transaction -------------------------------------------------- */

/* Between state_batch_begin and state_batch_end every write of this connection (state_cert_put,
 * the history and task-run records) joins one transaction: one fsync for the batch instead of one
 * per row. Each write is a savepoint of it, so a write that fails is undone alone and reported,
 * and the batch goes on; state_batch_end commits what succeeded. The batch holds the database's
 * write lock until it ends: open one only around writes that follow each other without slow work
 * (no network, no tasks) in between, and from one thread. */
int state_batch_begin(struct state_db *db, struct errbuf *err);
int state_batch_end(struct state_db *db, struct errbuf *err);

/* ---- scans: every row once, for the views over all certificates ----------------------------- */

/* A certificate's record as the renewal plan and `ccs status` read it: without the pending order's
 * paths (only whether there is one). Strings are valid during the callback only. */
struct cert_brief {
    const char *name, *serial, *thumbprint, *last_message;
    time_t not_before, not_after, last_renewal;
    time_t ari_start, ari_end, ari_next_check;
    time_t last_attempt, next_attempt;
    int last_ok, failure_count;
    int pending; /* an order or its key is recorded (a run was interrupted) */
    time_t pending_since;
};

/* A task's state (as struct task_record), with the thumbprint its last success delivered. */
struct task_brief {
    const char *cert, *task, *delivered, *last_message;
    int failure_count, last_ok;
    time_t last_attempt;
};

struct run_brief {
    const char *cert, *task, *message;
    time_t when;
    int ok;
};

/* The callbacks run with the database's lock held: they must not call into this API. A callback
 * that returns non-zero stops the scan, which returns that value. */
typedef int (*state_cert_fn)(void *ctx, const struct cert_brief *c);
typedef int (*state_task_fn)(void *ctx, const struct task_brief *t);
typedef int (*state_run_fn)(void *ctx, const struct run_brief *r);

/* Every certificate, by name. */
int state_cert_scan(struct state_db *db, state_cert_fn fn, void *ctx, struct errbuf *err);
/* Every task state, by certificate and task. */
int state_task_scan(struct state_db *db, state_task_fn fn, void *ctx, struct errbuf *err);
/* The PER_CERT newest task runs of every certificate: by certificate, newest first in each. */
int state_recent_runs_scan(struct state_db *db, size_t per_cert, state_run_fn fn, void *ctx,
                           struct errbuf *err);

#endif
