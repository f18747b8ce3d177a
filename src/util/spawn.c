/* spawn.c — run an operator's program with a timeout (see spawn.h). Extracted from the dns-01
 * hook runner so that task scripts run the same way: one place knows process groups, the kill
 * sequence and the output tail. */
#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPAWN_READ_CHUNK 4096
/* How often a running program is checked for exit while its output is quiet. */
#define SPAWN_POLL_INTERVAL_MS 50
/* When output keeps flowing after the program exited (a background child holds the pipe), stop
 * after this many reads rather than wait on it. */
#define SPAWN_DRAIN_READS_MAX 64
/* Marks a quote of the output that lacks its beginning (cut to fit, or the tail). */
#define SPAWN_QUOTE_MARKER "..."
#define MS_PER_S 1000LL
#define NS_PER_MS 1000000L
/* Start size of an environment being built; it doubles as needed. */
#define SPAWN_ENV_INITIAL 32

extern char **environ;

/* Set by spawn_stop_all, from a signal handler: a lock-free atomic, seen by every thread. */
static atomic_int stopping;

void spawn_stop_all(void)
{
    atomic_store(&stopping, 1);
}

int spawn_stopping(void)
{
    return atomic_load(&stopping);
}

void spawn_stop_reset(void)
{
    atomic_store(&stopping, 0);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

/* ---- the environment ---- */

/* Room for one more entry and the terminating NULL. */
static int env_reserve(struct spawn_env *env)
{
    size_t capacity;
    char **vars;

    if (env->count + 2 <= env->capacity)
        return 0;
    capacity = env->capacity ? env->capacity * 2 : SPAWN_ENV_INITIAL;
    vars = realloc(env->vars, capacity * sizeof(*vars));
    if (!vars)
        return -1;
    env->vars = vars;
    env->capacity = capacity;
    env->vars[env->count] = NULL;
    return 0;
}

static int env_add_entry(struct spawn_env *env, char *entry)
{
    if (!entry || env_reserve(env) < 0) {
        free(entry);
        return -1;
    }
    env->vars[env->count++] = entry;
    env->vars[env->count] = NULL;
    return 0;
}

int spawn_env_set(struct spawn_env *env, const char *name, const char *value)
{
    char *entry;

    if (asprintf(&entry, "%s=%s", name, value) < 0)
        return -1;
    return env_add_entry(env, entry);
}

/* Whether one of the first COUNT entries of ENV names the variable ENTRY ("NAME=VALUE") sets. */
static int env_sets(const struct spawn_env *env, size_t count, const char *entry)
{
    size_t len = strcspn(entry, "=");

    for (size_t i = 0; i < count; i++)
        if (strncmp(env->vars[i], entry, len) == 0 && env->vars[i][len] == '=')
            return 1;
    return 0;
}

static int has_prefix_of(const char *entry, const char *const prefixes[])
{
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

int spawn_env_inherit(struct spawn_env *env, const char *const drop_prefixes[])
{
    size_t own = env->count;
    int has_path = 0;

    for (size_t i = 0; i < own; i++)
        has_path |= strncmp(env->vars[i], "PATH=", 5) == 0;
    for (size_t i = 0; environ && environ[i]; i++) {
        const char *entry = environ[i];

        /* Only the caller's entries can clash: inherited names are distinct already. */
        if (has_prefix_of(entry, drop_prefixes) || env_sets(env, own, entry))
            continue;
        has_path |= strncmp(entry, "PATH=", 5) == 0;
        if (env_add_entry(env, strdup(entry)) < 0)
            return -1;
    }
    if (!has_path && env_add_entry(env, strdup(SPAWN_DEFAULT_PATH_VAR)) < 0)
        return -1;
    return 0;
}

void spawn_env_free(struct spawn_env *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->vars[i]);
    free(env->vars);
    memset(env, 0, sizeof(*env));
}

/* ---- running ---- */

int spawn_check_program(const char *label, const char *program, struct errbuf *err)
{
    struct stat st;

    if (!program || !program[0])
        return errbuf_set(err, "%s: no program given", label);
    if (stat(program, &st) < 0)
        return errbuf_set_errno(err, "%s %s", label, program);
    if (!S_ISREG(st.st_mode))
        return errbuf_set(err, "%s %s: not a regular file", label, program);
    if (access(program, X_OK) < 0)
        return errbuf_set_errno(err, "%s %s: not executable", label, program);
    return 0;
}

/* stdin on /dev/null, stdout on /dev/null or into OUTPUT_FD, stderr into OUTPUT_FD, and no other
 * descriptor of ours. */
static int set_spawn_files(posix_spawn_file_actions_t *actions, int output_fd, int capture_stdout)
{
    int rc = posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    if (rc == 0)
        rc = capture_stdout ? posix_spawn_file_actions_adddup2(actions, output_fd, STDOUT_FILENO)
                            : posix_spawn_file_actions_addopen(actions, STDOUT_FILENO, "/dev/null",
                                                               O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(actions, output_fd, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    /* Descriptors a library opened without O_CLOEXEC must not reach the program either. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(actions, STDERR_FILENO + 1);
#endif
    return rc;
}

/* Default signal handling and an empty signal mask, in a process group of its own. */
static int set_spawn_attributes(posix_spawnattr_t *attr)
{
    sigset_t all, none;
    int rc;

    sigfillset(&all);
    sigemptyset(&none);
    rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(attr, 0);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETPGROUP);
    return rc;
}

/* Start the program. Returns 0 or an errno value, as posix_spawn does. */
static int start_program(const struct spawn_options *opts, int output_fd, pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc;

    if ((rc = posix_spawn_file_actions_init(&actions)) != 0)
        return rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    rc = set_spawn_files(&actions, output_fd, opts->capture_stdout);
    if (rc == 0)
        rc = set_spawn_attributes(&attr);
    if (rc == 0)
        rc = posix_spawn(pid, opts->program, &actions, &attr, opts->argv, opts->envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

/* Keep the last SPAWN_TAIL_MAX bytes seen. */
static void tail_append(struct spawn_result *res, const char *data, size_t len)
{
    if (len >= sizeof(res->tail)) {
        res->truncated |= len > sizeof(res->tail) || res->tail_len > 0;
        memcpy(res->tail, data + len - sizeof(res->tail), sizeof(res->tail));
        res->tail_len = sizeof(res->tail);
        return;
    }
    if (res->tail_len + len > sizeof(res->tail)) {
        size_t drop = res->tail_len + len - sizeof(res->tail);
        memmove(res->tail, res->tail + drop, res->tail_len - drop);
        res->tail_len -= drop;
        res->truncated = 1;
    }
    memcpy(res->tail + res->tail_len, data, len);
    res->tail_len += len;
}

/* Read what the pipe has now (FD is non-blocking). Returns -1 once it reached end of file. */
static int read_output(int fd, struct spawn_result *res)
{
    char chunk[SPAWN_READ_CHUNK];

    for (int i = 0; i < SPAWN_DRAIN_READS_MAX; i++) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 0; /* EAGAIN: nothing more for now */
        if (n == 0)
            return -1;
        tail_append(res, chunk, (size_t)n);
    }
    return 0;
}

/* SIGTERM to the program's group, SIGKILL after the grace period, then reap it. The group is
 * signalled while the program is still unreaped (waitid WNOWAIT), so its id cannot have been
 * reused. */
static void kill_group(pid_t pid, int *status)
{
    long long deadline = now_ms() + SPAWN_KILL_GRACE_MS;
    siginfo_t info;

    kill(-pid, SIGTERM);
    while (now_ms() < deadline) {
        memset(&info, 0, sizeof(info));
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            break;
        poll(NULL, 0, SPAWN_POLL_INTERVAL_MS);
    }
    kill(-pid, SIGKILL); /* whatever of the group is left, stragglers that ignored SIGTERM too */
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* Collect output from FD until the program exits or TIMEOUT_S passes (then kill it). A stop
 * kills it too, unless it is a CLEANUP: that gets at most SPAWN_STOP_CLEANUP_S from then on. */
static void wait_for(pid_t pid, int fd, int timeout_s, int cleanup, struct spawn_result *res)
{
    long long deadline = now_ms() + timeout_s * MS_PER_S;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int stop_seen = 0, capped = 0;

    for (;;) {
        long long left;
        pid_t done;

        if (cleanup && !stop_seen && spawn_stopping()) {
            long long cap = now_ms() + SPAWN_STOP_CLEANUP_S * MS_PER_S;
            stop_seen = 1;
            capped = cap < deadline;
            deadline = capped ? cap : deadline;
        }
        left = deadline - now_ms();
        if (left <= 0 || (!cleanup && spawn_stopping())) {
            /* A clean-up cut at the stop's cap was stopped, not past its own timeout. */
            res->timed_out = left <= 0 && !capped;
            res->stopped = !res->timed_out;
            kill_group(pid, &res->status);
            break;
        }
        if (poll(&pfd, 1, left < SPAWN_POLL_INTERVAL_MS ? (int)left : SPAWN_POLL_INTERVAL_MS) > 0 &&
            read_output(pfd.fd, res) < 0)
            pfd.fd = -1; /* end of file: poll ignores it from now on, and just waits */
        while ((done = waitpid(pid, &res->status, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (done == pid)
            break;
    }
    if (pfd.fd >= 0)
        read_output(pfd.fd, res); /* what it wrote just before it exited */
}

enum spawn_start spawn_run(const struct spawn_options *opts, struct spawn_result *result)
{
    int pipefd[2] = {-1, -1}, spawn_rc, saved;
    enum spawn_start outcome = SPAWN_RAN;
    pid_t pid;

    memset(result, 0, sizeof(*result));
    if (spawn_stopping() && !opts->cleanup) {
        errno = ECANCELED;
        return SPAWN_NOT_RUN;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 || fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
        outcome = SPAWN_NO_PIPE;
        goto out;
    }
    spawn_rc = start_program(opts, pipefd[1], &pid);
    close(pipefd[1]); /* the program has its copy: end of file comes when it closes that */
    pipefd[1] = -1;
    if (spawn_rc != 0) {
        errno = spawn_rc;
        outcome = SPAWN_NOT_RUN;
        goto out;
    }
    wait_for(pid, pipefd[0], opts->timeout_s, opts->cleanup, result);
out:
    saved = errno;
    for (int i = 0; i < 2; i++)
        if (pipefd[i] >= 0)
            close(pipefd[i]);
    errno = saved;
    return outcome;
}

int spawn_succeeded(const struct spawn_result *result)
{
    return !result->timed_out && !result->stopped && WIFEXITED(result->status) &&
           WEXITSTATUS(result->status) == 0;
}

void spawn_describe(const struct spawn_result *result, int timeout_s, char *out, size_t out_size)
{
    if (result->timed_out)
        snprintf(out, out_size, "timed out after %d s and was killed", timeout_s);
    else if (result->stopped)
        snprintf(out, out_size, "was stopped (ccs is stopping)");
    else if (WIFSIGNALED(result->status))
        snprintf(out, out_size, "failed (killed by signal %d)", WTERMSIG(result->status));
    else if (WEXITSTATUS(result->status) != 0)
        snprintf(out, out_size, "failed (exit %d)", WEXITSTATUS(result->status));
    else
        snprintf(out, out_size, "succeeded (exit 0)");
}

/* The tail on one line: control characters (newlines too) become spaces, and surrounding space
 * is trimmed. Returns the start of the text in OUT (SPAWN_TAIL_MAX + 1 bytes). */
static const char *tail_one_line(const struct spawn_result *res, char *out)
{
    size_t len = res->tail_len, start = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)res->tail[i];
        out[i] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
    }
    while (len > 0 && out[len - 1] == ' ')
        len--;
    out[len] = '\0';
    while (out[start] == ' ')
        start++;
    return out + start;
}

int spawn_quote_tail(struct errbuf *err, const char *what, const struct spawn_result *result)
{
    char line[SPAWN_TAIL_MAX + 1];
    const char *quote = tail_one_line(result, line);
    size_t used, room, quote_len = strlen(quote);

    if (quote_len == 0)
        return errbuf_set(err, "%s", what);
    used = strlen(what) + strlen(": ") + strlen(SPAWN_QUOTE_MARKER) + 1;
    room = used < ERRBUF_SIZE ? ERRBUF_SIZE - used : 0;
    if (quote_len > room || result->truncated)
        return errbuf_set(err, "%s: %s%s", what, SPAWN_QUOTE_MARKER,
                          quote + (quote_len > room ? quote_len - room : 0));
    return errbuf_set(err, "%s: %s", what, quote);
}
