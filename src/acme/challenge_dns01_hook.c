/* challenge_dns01_hook.c — challenges answered by a program the operator provides, through
 * uacme's hook interface (uacme(1), "HOOK PROGRAM"), so scripts written for uacme work unchanged:
 *
 *   HOOK begin|done|failed TYPE IDENT TOKEN AUTH
 *
 * The hook inherits ccs's environment, as uacme's hooks do (uacme's own example hook reads
 * CHALLENGE_PATH from it, DNS hooks read their server and key file names from it), with the
 * challenge values set under uacme's names and ours on top. That is safe here because ccs never
 * keeps a secret in its environment: passwords and keys come from files, and only the files'
 * names travel in variables. stdin is /dev/null, stdout is discarded, and the tail of stderr is
 * kept to quote when the hook fails.
 *
 * The hook runs in a process group of its own, so that when it outlives its timeout, SIGTERM and
 * then SIGKILL reach the commands it started (a `sleep`, a `curl`) as well as the hook itself.
 *
 * Only dns-01 is offered today, but nothing here is specific to it: the type and AUTH come from
 * the challenge, so an http-01 hook is one more ops table and constructor. */
#include "acme/challenge.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* Kept from the hook's stderr to quote in an error; the end is what explains a failure. */
#define HOOK_STDERR_TAIL_MAX 2048
#define HOOK_READ_CHUNK 4096
/* How often a running hook is checked for exit while its stderr is quiet. */
#define HOOK_POLL_INTERVAL_MS 50
/* Between SIGTERM and SIGKILL for a hook past its timeout: time to clean up, not to go on. */
#define HOOK_KILL_GRACE_MS 2000
/* When stderr keeps flowing after the hook exited (a background child holds it), stop after this
 * many reads rather than wait on it. */
#define HOOK_DRAIN_READS_MAX 64
/* Room for "timed out after N s and was killed", "failed (killed by signal N)". */
#define HOOK_HOW_MAX 64
/* Marks a quote of stderr that lacks its beginning (cut to fit the error message, or the tail). */
#define HOOK_QUOTE_MARKER "..."
#define MS_PER_S 1000LL
#define WILDCARD_PREFIX "*."
/* Far above what CAs issue (Let's Encrypt and Pebble: 43 characters, 256 bits). */
#define TOKEN_MAX_LEN 128
/* RFC 4648 §5 */
#define BASE64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#define HOOK_DEFAULT_PATH_VAR "PATH=/usr/local/bin:/usr/bin:/bin"

/* The challenge values, each under UACME_ and CCS_ names, plus CCS_WILDCARD. */
#define HOOK_VALUES 5
#define HOOK_OWN_VARS (2 * HOOK_VALUES + 1)

extern char **environ;

struct hook {
    char *program;
    int timeout_s;
};

/* What one run of the hook did. */
struct hook_result {
    int status;    /* from waitpid */
    int timed_out; /* killed by us at the timeout */
    char tail[HOOK_STDERR_TAIL_MAX];
    size_t tail_len;
    int truncated; /* the tail is not the whole of stderr */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / 1000000;
}

/* A token becomes a URL path, a file name, a hook's argument: only the base64url alphabet (RFC 8555
 * §8.1) may pass, so "..", "/" and control characters never do. */
static int token_is_valid(const char *token)
{
    size_t len = strlen(token);

    return len > 0 && len <= TOKEN_MAX_LEN && strspn(token, BASE64URL_ALPHABET) == len;
}

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

/* IDENT as uacme passes it: a wildcard's base name. The engine gives that already; a "*." that
 * slipped through is removed here all the same, since a hook would build "_acme-challenge.*.x". */
static const char *base_identifier(const struct acme_challenge_data *c)
{
    return strncmp(c->identifier, WILDCARD_PREFIX, strlen(WILDCARD_PREFIX)) == 0
               ? c->identifier + strlen(WILDCARD_PREFIX)
               : c->identifier;
}

static int is_wildcard(const struct acme_challenge_data *c)
{
    return c->wildcard || base_identifier(c) != c->identifier;
}

/* AUTH as uacme defines it: the TXT record value for dns-01, the key authorization otherwise. */
static const char *auth_of(const struct acme_challenge_data *c)
{
    return strcmp(c->type, "dns-01") == 0 ? c->dns_txt_value : c->key_authorization;
}

/* Every argument must be there, and the token must be a safe one: an http-01 hook uses it as a
 * file name. */
static int check_challenge(const struct acme_challenge_data *c, struct errbuf *err)
{
    const char *ident = identifier_of(c);

    if (!c->type || !c->identifier || !c->token || !auth_of(c))
        return errbuf_set(err,
                          "hook for %s: incomplete challenge (type, identifier, token or "
                          "authorization missing)",
                          ident);
    if (!token_is_valid(c->token))
        return errbuf_set(err,
                          "%s hook for %s: the challenge token is not 1 to %d base64url characters",
                          c->type, ident, TOKEN_MAX_LEN);
    return 0;
}

/* ---- the environment ---- */

static void env_free(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

static int env_add(char **envp, size_t *n, const char *name, const char *value)
{
    if (asprintf(&envp[*n], "%s=%s", name, value) < 0) {
        envp[*n] = NULL;
        return -1;
    }
    (*n)++;
    return 0;
}

/* A variable the hook gets from us, which the inherited copy must not shadow. */
static int is_ours(const char *entry)
{
    return strncmp(entry, "UACME_", 6) == 0 || strncmp(entry, "CCS_METHOD=", 11) == 0 ||
           strncmp(entry, "CCS_TYPE=", 9) == 0 || strncmp(entry, "CCS_IDENT=", 10) == 0 ||
           strncmp(entry, "CCS_TOKEN=", 10) == 0 || strncmp(entry, "CCS_AUTH=", 9) == 0 ||
           strncmp(entry, "CCS_WILDCARD=", 13) == 0;
}

/* *ENVP gets the hook's whole environment (NULL-terminated, every entry malloc'd): ours, then
 * the inherited variables, and a PATH when there is none, so a script finds sh and curl. */
static int env_build(char ***envp, const char *method, const struct acme_challenge_data *c)
{
    const char *names[HOOK_VALUES] = {"METHOD", "TYPE", "IDENT", "TOKEN", "AUTH"};
    const char *values[HOOK_VALUES] = {method, c->type, base_identifier(c), c->token, auth_of(c)};
    char name[sizeof("UACME_METHOD")];
    size_t n = 0, inherited = 0;
    int has_path = 0;
    char **env;

    while (environ && environ[inherited])
        inherited++;
    env = calloc(HOOK_OWN_VARS + inherited + 2, sizeof(*env));
    *envp = env;
    if (!env)
        return -1;
    for (int i = 0; i < HOOK_VALUES; i++) {
        snprintf(name, sizeof(name), "UACME_%s", names[i]);
        if (env_add(env, &n, name, values[i]) < 0)
            return -1;
        snprintf(name, sizeof(name), "CCS_%s", names[i]);
        if (env_add(env, &n, name, values[i]) < 0)
            return -1;
    }
    if (env_add(env, &n, "CCS_WILDCARD", is_wildcard(c) ? "1" : "0") < 0)
        return -1;
    for (size_t i = 0; i < inherited; i++) {
        if (is_ours(environ[i]))
            continue;
        has_path |= strncmp(environ[i], "PATH=", 5) == 0;
        if (!(env[n] = strdup(environ[i])))
            return -1;
        n++;
    }
    if (!has_path && !(env[n++] = strdup(HOOK_DEFAULT_PATH_VAR)))
        return -1;
    return 0;
}

/* ---- running ---- */

/* stdin and stdout on /dev/null, stderr into STDERR_FD, and no other descriptor of ours. */
static int set_spawn_files(posix_spawn_file_actions_t *actions, int stderr_fd)
{
    int rc = posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(actions, stderr_fd, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    /* Descriptors a library opened without O_CLOEXEC must not reach the hook either. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(actions, STDERR_FILENO + 1);
#endif
    return rc;
}

/* Default signal handling and an empty signal mask (ccs may ignore SIGPIPE; a script must not
 * inherit that), in a process group of its own. */
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

/* Start the hook. Returns 0 or an errno value, as posix_spawn does. */
static int hook_spawn(const struct hook *h, char *const argv[], char *const envp[], int stderr_fd,
                      pid_t *pid)
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
    rc = set_spawn_files(&actions, stderr_fd);
    if (rc == 0)
        rc = set_spawn_attributes(&attr);
    if (rc == 0)
        rc = posix_spawn(pid, h->program, &actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

/* Keep the last HOOK_STDERR_TAIL_MAX bytes seen. */
static void tail_append(struct hook_result *res, const char *data, size_t len)
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

/* Read what stderr has now (FD is non-blocking). Returns -1 once it reached end of file. */
static int read_stderr(int fd, struct hook_result *res)
{
    char chunk[HOOK_READ_CHUNK];

    for (int i = 0; i < HOOK_DRAIN_READS_MAX; i++) {
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

/* SIGTERM to the hook's group, SIGKILL after the grace period, then reap it. The group is
 * signalled while the hook is still unreaped (waitid WNOWAIT), so its id cannot have been reused.
 */
static void hook_kill(pid_t pid, int *status)
{
    long long deadline = now_ms() + HOOK_KILL_GRACE_MS;
    siginfo_t info;

    kill(-pid, SIGTERM);
    while (now_ms() < deadline) {
        memset(&info, 0, sizeof(info));
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            break;
        poll(NULL, 0, HOOK_POLL_INTERVAL_MS);
    }
    kill(-pid, SIGKILL); /* whatever of the group is left, stragglers that ignored SIGTERM too */
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* Collect stderr from FD until the hook exits or TIMEOUT_S passes (then kill it). A hook that
 * exits while something it started still holds stderr is done: we do not wait for that. */
static void hook_wait(pid_t pid, int fd, int timeout_s, struct hook_result *res)
{
    long long deadline = now_ms() + timeout_s * MS_PER_S;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    for (;;) {
        long long left = deadline - now_ms();
        pid_t done;

        if (left <= 0) {
            res->timed_out = 1;
            hook_kill(pid, &res->status);
            break;
        }
        if (poll(&pfd, 1, left < HOOK_POLL_INTERVAL_MS ? (int)left : HOOK_POLL_INTERVAL_MS) > 0 &&
            read_stderr(pfd.fd, res) < 0)
            pfd.fd = -1; /* end of file: poll ignores it from now on, and just waits */
        while ((done = waitpid(pid, &res->status, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (done == pid)
            break;
    }
    if (pfd.fd >= 0)
        read_stderr(pfd.fd, res); /* what it wrote just before it exited */
}

/* The tail of stderr on one line: control characters (newlines too) become spaces, and
 * surrounding space is trimmed. Returns the start of the text in OUT. */
static const char *tail_one_line(const struct hook_result *res, char *out)
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

/* "TYPE hook PROGRAM METHOD for IDENT failed (exit N): <end of stderr>", cut at the start of the
 * quote when the whole does not fit: the end of stderr is what explains a failure. */
static int hook_error(const struct hook *h, const char *method, const struct acme_challenge_data *c,
                      const struct hook_result *res, struct errbuf *err)
{
    char how[HOOK_HOW_MAX], what[ERRBUF_SIZE], line[HOOK_STDERR_TAIL_MAX + 1];
    const char *quote = tail_one_line(res, line);
    size_t used, room, quote_len = strlen(quote);

    if (res->timed_out)
        snprintf(how, sizeof(how), "timed out after %d s and was killed", h->timeout_s);
    else if (WIFSIGNALED(res->status))
        snprintf(how, sizeof(how), "failed (killed by signal %d)", WTERMSIG(res->status));
    else
        snprintf(how, sizeof(how), "failed (exit %d)", WEXITSTATUS(res->status));
    snprintf(what, sizeof(what), "%s hook %s %s for %s%s %s", c->type, h->program, method,
             is_wildcard(c) ? WILDCARD_PREFIX : "", base_identifier(c), how);
    if (quote_len == 0)
        return errbuf_set(err, "%s", what);
    used = strlen(what) + strlen(": ") + strlen(HOOK_QUOTE_MARKER) + 1;
    room = used < ERRBUF_SIZE ? ERRBUF_SIZE - used : 0;
    if (quote_len > room || res->truncated)
        return errbuf_set(err, "%s: %s%s", what, HOOK_QUOTE_MARKER,
                          quote + (quote_len > room ? quote_len - room : 0));
    return errbuf_set(err, "%s: %s", what, quote);
}

/* Run HOOK METHOD TYPE IDENT TOKEN AUTH and wait for it. 0 when it exits with status 0. */
static int hook_run(const struct hook *h, const char *method, const struct acme_challenge_data *c,
                    struct errbuf *err)
{
    char **envp = NULL;
    char *argv[] = {h->program,
                    (char *)method,
                    (char *)c->type,
                    (char *)base_identifier(c),
                    (char *)c->token,
                    (char *)auth_of(c),
                    NULL};
    int pipefd[2] = {-1, -1}, rc = -1, spawn_rc;
    struct hook_result res = {0};
    pid_t pid;

    if (env_build(&envp, method, c) < 0) {
        errbuf_set(err, "%s hook for %s: out of memory", c->type, c->identifier);
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 || fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
        errbuf_set_errno(err, "%s hook %s: cannot create a pipe", c->type, h->program);
        goto out;
    }
    log_debug("running %s hook %s %s for %s", c->type, h->program, method, c->identifier);
    spawn_rc = hook_spawn(h, argv, envp, pipefd[1], &pid);
    close(pipefd[1]); /* the hook has its copy: end of file comes when it closes that */
    pipefd[1] = -1;
    if (spawn_rc != 0) {
        errno = spawn_rc;
        errbuf_set_errno(err, "%s hook %s %s for %s: cannot run it", c->type, h->program, method,
                         c->identifier);
        goto out;
    }
    hook_wait(pid, pipefd[0], h->timeout_s, &res);
    if (res.timed_out || !WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
        hook_error(h, method, c, &res, err);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        if (pipefd[i] >= 0)
            close(pipefd[i]);
    env_free(envp);
    return rc;
}

static int hook_begin(struct challenge_solver *s, const struct acme_challenge_data *c,
                      struct errbuf *err)
{
    if (check_challenge(c, err) < 0)
        return -1;
    return hook_run(s->impl, "begin", c, err);
}

/* A failure here is reported, and affects nothing else: each finish runs its own hook. */
static int hook_finish(struct challenge_solver *s, const struct acme_challenge_data *c,
                       int succeeded, struct errbuf *err)
{
    if (check_challenge(c, err) < 0)
        return -1;
    return hook_run(s->impl, succeeded ? "done" : "failed", c, err);
}

static void hook_destroy(struct challenge_solver *s)
{
    struct hook *h = s->impl;

    if (!h)
        return;
    free(h->program);
    free(h);
    s->impl = NULL;
}

static const struct challenge_solver_ops dns01_hook_ops = {
    .type = "dns-01",
    .begin = hook_begin,
    .finish = hook_finish,
    .destroy = hook_destroy,
};

/* Check PROGRAM now, so a typo is reported before an order is placed, not at the first begin. */
static int check_program(const char *type, const char *program, struct errbuf *err)
{
    struct stat st;

    if (!program || !program[0])
        return errbuf_set(err, "%s hook: no program given", type);
    if (stat(program, &st) < 0)
        return errbuf_set_errno(err, "%s hook %s", type, program);
    if (!S_ISREG(st.st_mode))
        return errbuf_set(err, "%s hook %s: not a regular file", type, program);
    if (access(program, X_OK) < 0)
        return errbuf_set_errno(err, "%s hook %s: not executable", type, program);
    return 0;
}

static int hook_new(const struct challenge_solver_ops *ops, const char *program, int timeout_s,
                    struct challenge_solver *out, struct errbuf *err)
{
    struct hook *h;

    out->ops = NULL;
    out->impl = NULL;
    if (check_program(ops->type, program, err) < 0)
        return -1;
    if (timeout_s <= 0)
        return errbuf_set(err, "%s hook %s: timeout %d s is not positive", ops->type, program,
                          timeout_s);
    h = calloc(1, sizeof(*h));
    if (!h || !(h->program = strdup(program))) {
        free(h);
        return errbuf_set(err, "%s hook %s: out of memory", ops->type, program);
    }
    h->timeout_s = timeout_s;
    out->ops = ops;
    out->impl = h;
    return 0;
}

int challenge_dns01_hook_new(const char *hook_program, int timeout_s, struct challenge_solver *out,
                             struct errbuf *err)
{
    return hook_new(&dns01_hook_ops, hook_program, timeout_s, out, err);
}
