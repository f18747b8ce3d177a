/* spawn.h — run a program the operator provides (a challenge hook, a task's script) and wait for
 * it, with a timeout, keeping the end of what it wrote to quote when it fails.
 *
 * The program runs without a shell, in a process group of its own, with default signal handling
 * and an empty signal mask (ccs may ignore SIGPIPE; a script must not inherit that). stdin is
 * /dev/null; stderr — and stdout too, when asked — goes into a pipe of which the last
 * SPAWN_TAIL_MAX bytes are kept; no other descriptor of ours reaches it. Past its timeout the
 * whole group gets SIGTERM, then SIGKILL after a grace period (SPAWN_KILL_GRACE_MS), so what it
 * started (a `sleep`, a `curl`) goes with it. A program that exits while something it started
 * still holds the pipe is done when it exits: we do not wait for that.
 *
 * When ccs is asked to stop (spawn_stop_all, from manage/stop.c's signal handler), a running
 * program gets the same treatment at once, and no new one is started — except a clean-up
 * (spawn_options.cleanup): what undoes an earlier run's work (a dns-01 hook withdrawing the TXT
 * record its "begin" published) still runs and is not stopped, with at most
 * SPAWN_STOP_CLEANUP_S, so that a stop leaves nothing published behind it. */
#ifndef CCS_UTIL_SPAWN_H
#define CCS_UTIL_SPAWN_H

#include <stddef.h>

#include "util/err.h"

/* Between SIGTERM and SIGKILL for a program past its timeout, or running when ccs is asked to
 * stop: time to clean up, not to go on. (systemd/ccs-renew.service's TimeoutStopSec allows for it.) */
#define SPAWN_KILL_GRACE_MS 2000

/* The most a clean-up gets once ccs is stopping (its own timeout when shorter): time for a DNS
 * API call or two, and short enough that several fit systemd's stop timeout
 * (systemd/ccs-renew.service's TimeoutStopSec allows for it). */
#define SPAWN_STOP_CLEANUP_S 15

/* Kept from the program's output to quote in a message; the end is what explains a failure. */
#define SPAWN_TAIL_MAX 2048

/* The PATH a program gets when ccs itself has none, so a script finds sh and curl. */
#define SPAWN_DEFAULT_PATH_VAR "PATH=/usr/local/bin:/usr/bin:/bin"

/* An environment being built: VARS is NULL-terminated, every entry malloc'd "NAME=VALUE". */
struct spawn_env {
    char **vars;
    size_t count, capacity;
};

/* Add NAME=VALUE. Returns -1 when out of memory. */
int spawn_env_set(struct spawn_env *env, const char *name, const char *value);
/* Add ccs's own environment, except the variables ENV already sets and those whose names start
 * with one of DROP_PREFIXES (NULL-terminated, or NULL for none); then SPAWN_DEFAULT_PATH_VAR when
 * there is no PATH. Returns -1 when out of memory. */
int spawn_env_inherit(struct spawn_env *env, const char *const drop_prefixes[]);
void spawn_env_free(struct spawn_env *env);

/* Check that PROGRAM is an executable regular file, so a typo in a configuration is reported
 * when it is read, not when the program is first needed. Messages start with LABEL ("dns-01
 * hook", "script"): "LABEL PROGRAM: not executable: Permission denied". */
int spawn_check_program(const char *label, const char *program, struct errbuf *err);

struct spawn_options {
    const char *program;
    char *const *argv; /* argv[0] is conventionally PROGRAM */
    char *const *envp;
    int timeout_s;      /* > 0 */
    int capture_stdout; /* 1: stdout into the tail with stderr; 0: stdout to /dev/null */
    int cleanup;        /* 1: undoes earlier work: runs, and runs on, when ccs is stopping */
};

/* What one run did. */
struct spawn_result {
    int status;    /* from waitpid */
    int timed_out; /* killed by us at the timeout */
    int stopped;   /* killed by us because ccs was asked to stop */
    char tail[SPAWN_TAIL_MAX];
    size_t tail_len;
    int truncated; /* the tail is not the whole of the output */
};

enum spawn_start {
    SPAWN_RAN,     /* it ran: RESULT says how it ended */
    SPAWN_NO_PIPE, /* the output pipe could not be made (errno says why) */
    SPAWN_NOT_RUN, /* posix_spawn failed (errno says why: ENOENT, EACCES, ...), or ccs is
                    * stopping (ECANCELED) */
};

/* Stop every program running now (as at its timeout) and start no other. Async-signal-safe. */
void spawn_stop_all(void);
/* Whether spawn_stop_all was called since the last spawn_stop_reset. */
int spawn_stopping(void);
void spawn_stop_reset(void);

/* Run OPTS->program and wait for it to end or be killed at its timeout. RESULT is zeroed first.
 * On SPAWN_NO_PIPE and SPAWN_NOT_RUN errno is set. */
enum spawn_start spawn_run(const struct spawn_options *opts, struct spawn_result *result);

/* Whether it exited with status 0 (and was not killed). */
int spawn_succeeded(const struct spawn_result *result);

/* How it ended: "succeeded (exit 0)", "failed (exit 3)", "failed (killed by signal 9)",
 * "timed out after TIMEOUT_S s and was killed", or "was stopped (ccs is stopping)". */
void spawn_describe(const struct spawn_result *result, int timeout_s, char *out, size_t out_size);

/* Set ERR to "WHAT: TAIL", the tail on one line (control characters become spaces, surrounding
 * space trimmed), or just "WHAT" when the program wrote nothing. When the whole does not fit, or
 * the tail lacks the beginning of the output, the quote is cut at its start and marked "...": the
 * end is what explains a failure. Returns -1, as errbuf_set does. */
int spawn_quote_tail(struct errbuf *err, const char *what, const struct spawn_result *result);

#endif
