/* state.h — what ccs remembers between runs, in SQLite (STATE_DIR/ccs.db, WAL, with a schema
 * version and migrations): per managed certificate its current serial, thumbprint and validity,
 * the ARI window, the last attempt and its result, failure count and the next attempt allowed,
 * an unfinished order (crash safety); and a history of renewals and of task runs.
 *
 * Safe to call from several threads: one connection, used under a mutex. */
#ifndef CCS_MANAGE_STATE_H
#define CCS_MANAGE_STATE_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define STATE_DB_FILE "ccs.db"
#define STATE_SCHEMA_VERSION 1

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

int state_open(const char *state_dir, struct state_db **out, struct errbuf *err);
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

#endif
