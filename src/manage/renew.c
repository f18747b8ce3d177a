#include "manage/renew.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "acme/account_store.h"
#include "acme/ari.h"
#include "acme/http.h"
#include "acme/order.h"
#include "acme/session.h"
#include "manage/cert_tasks.h"
#include "manage/certfiles.h"
#include "manage/owed.h"
#include "manage/plan.h"
#include "manage/policy.h"
#include "manage/state.h"
#include "manage/stop.h"
#include "manage/tasks.h"
#include "store/certinfo.h"
#include "store/names.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/log.h"

#define MAX_RESPONDERS 8

struct responder {
    int port;
    char listen[64];
    struct challenge_solver solver;
    int failed;
    char error[ERRBUF_SIZE];
};

enum account_state { ACCOUNT_UNTRIED, ACCOUNT_OPEN, ACCOUNT_FAILED };

struct run {
    const struct config *cfg;
    const struct renew_options *opts;
    struct acme_settings acme;
    struct state_db *db;
    pthread_mutex_t lock; /* output, responders, the next index, ca_unreachable */
    struct responder responders[MAX_RESPONDERS];
    size_t responder_count;
    size_t *selected, selected_count, next;
    unsigned char *look; /* per selected certificate: 0 quiet (plan.h), else looked at; NULL all */
    char unfinished[128]; /* the holder line a killed run left in renew.lock ("" none) */
    struct cert_tasks tasks; /* each certificate's tasks (cert_tasks.h), built once a run */
    struct deferred *deferred; /* not-due records to write after the jobs (defer_record) */
    size_t deferred_count, deferred_cap;
    struct renew_summary *summary;
    /* The CA's directory could not be fetched (after the client's own retries): later ARI checks
     * and orders of this run fail at once with this reason instead of waiting on it again. */
    int ca_unreachable;
    char ca_error[ERRBUF_SIZE];
    /* The account: opened by the first order (use_account), not before. */
    pthread_mutex_t account_lock;
    enum account_state account;
    struct acme_session session; /* its client is not used by the jobs */
    char account_error[ERRBUF_SIZE];
};

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct run *r, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&r->lock);
    va_start(ap, fmt);
    vfprintf(r->opts->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->opts->out);
    fflush(r->opts->out);
    pthread_mutex_unlock(&r->lock);
}

/* ---- the lock: one run at a time ------------------------------------------------------------- */

/* STATE/renew.lock, held by `ccs renew` and by `ccs task run` (VERB), which write the same files.
 * The holder's pid, verb and start are written into it for the next one's message, and emptied
 * again by release_lock when the run ends: a line found there by the next run is a run that was
 * killed (*UNFINISHED, its line), whose leftovers may be beside any certificate. */
static int take_lock(const char *state_dir, const char *verb, int *fd_out, char *unfinished,
                     size_t unfinished_size, struct errbuf *err)
{
    char path[PATH_MAX], holder[128] = "";
    int fd;
    ssize_t n;

    if (dir_create(state_dir, 0700, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", state_dir, RENEW_LOCK_FILE);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return errbuf_set_errno(err, "%s", path);
    n = pread(fd, holder, sizeof(holder) - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return errbuf_set(err, "another ccs renew or task run is running (%s holds %s)",
                          holder[0] ? holder : "unknown process", path);
    }
    /* Read again under the lock: the holder we raced with may have ended since. */
    n = pread(fd, holder, sizeof(holder) - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    snprintf(unfinished, unfinished_size, "%s", holder);
    {
        char text[128];
        time_t now = time(NULL);
        char when[32];
        format_utc(now, when, sizeof(when));
        n = snprintf(text, sizeof(text), "pid %d, %s, started %s\n", (int)getpid(), verb, when);
        if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) < 0)
            log_debug("%s: cannot record the holder", path);
    }
    *fd_out = fd;
    return 0;
}

/* The run ended (whatever its result): no holder line is left for the next run to find. */
static void release_lock(int fd)
{
    if (fd < 0)
        return;
    if (ftruncate(fd, 0) < 0)
        log_debug("renew.lock: cannot clear the holder");
    close(fd);
}

/* ---- leftovers of killed runs ---------------------------------------------------------------- */

/* Remove the temp files a killed atomic write of PATH left (file_remove_stale_temps), saying so. */
static void sweep_path(const char *path, const char *owner)
{
    struct errbuf err;
    int n = file_remove_stale_temps(path, &err);

    if (n < 0)
        log_warning("%s: %s", owner, err.msg);
    else if (n > 0)
        log_info("%s: removed %d temp file%s a killed run left beside %s", owner, n,
                 n == 1 ? "" : "s", path);
}

/* ---- solvers ---------------------------------------------------------------------------------- */

/* Several certificates may validate through the built-in responder at once: they share one per
 * address and port (a second listener could not bind). */
static struct challenge_solver *shared_responder(struct run *r, const char *listen, int port,
                                                 struct errbuf *err)
{
    struct challenge_solver *s = NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->responder_count && !s; i++) {
        struct responder *x = &r->responders[i];
        if (x->port == port && strcmp(x->listen, listen ? listen : "") == 0) {
            if (x->failed)
                errbuf_set(err, "%s", x->error);
            else
                s = &x->solver;
            goto out;
        }
    }
    if (r->responder_count == MAX_RESPONDERS) {
        errbuf_set(err, "more than %d http-01 listeners", MAX_RESPONDERS);
        goto out;
    }
    {
        struct responder *x = &r->responders[r->responder_count++];
        x->port = port;
        snprintf(x->listen, sizeof(x->listen), "%s", listen ? listen : "");
        if (challenge_http01_responder_new(listen, port, &x->solver, err) < 0) {
            x->failed = 1;
            snprintf(x->error, sizeof(x->error), "%s", err->msg);
        } else {
            s = &x->solver;
        }
    }
out:
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* The solver for CERT: shared responder, or one of its own (OWN is then set, to destroy). */
static int solver_for(struct run *r, const struct config_certificate *cert,
                      struct challenge_solver *own, struct challenge_solver **use,
                      struct errbuf *err)
{
    memset(own, 0, sizeof(*own));
    *use = NULL;
    if (strcmp(cert->challenge, "dns-01") == 0) {
        if (challenge_dns01_hook_new(cert->hook, cert->hook_timeout_s, own, err) < 0)
            return -1;
        *use = own;
    } else if (cert->webroot) {
        if (challenge_http01_webroot_new(cert->webroot, own, err) < 0)
            return -1;
        *use = own;
    } else {
        *use = shared_responder(r, cert->http_listen, cert->http_port, err);
        if (!*use)
            return -1;
    }
    return 0;
}

/* ---- identifiers -------------------------------------------------------------------------------- */

static int identifiers_for(const struct config_certificate *cert, struct acme_identifier *ids,
                           char (*values)[DNS_NAME_MAX + 1], struct errbuf *err)
{
    for (size_t i = 0; i < cert->domain_count; i++) {
        const char *d = cert->domains[i];
        struct store_name n;
        if (store_name_is_ip_literal(d, strlen(d))) {
            snprintf(values[i], DNS_NAME_MAX + 1, "%s", d);
            ids[i].type = "ip";
        } else if (store_name_normalise(d, strlen(d), &n, err) < 0) {
            return errbuf_prefix(err, "certificate %s", cert->name);
        } else {
            snprintf(values[i], DNS_NAME_MAX + 1, "%s", n.ace);
            ids[i].type = "dns";
        }
        ids[i].value = values[i];
    }
    return 0;
}

/* ---- recording task runs -------------------------------------------------------------------------- */

/* What the phase callbacks of one certificate share: reporting, recording, and for a retry the
 * tasks owed (pick_owed). */
struct task_ctx {
    struct run *r;
    const char *cert;
    struct renew_outcome *outcome;
    const struct task_env *env;
    const struct owed_list *owed; /* a retry of owed tasks: only these run */
    time_t now;
};

static const char *task_verdict(const struct run *r, const struct task_result *res)
{
    if (r->opts->dry_run)
        return "would run";
    if (res->stopped)
        return "stopped";
    return res->ok ? "ok" : "FAILED";
}

/* Report a task and record its run. A success with the live certificate in ENV is a delivery
 * (owed.h): recorded only now, after the task returned — after an export's last rename. */
static void record_task(void *ctx, const struct config_task *task, const struct task_result *res)
{
    struct task_ctx *c = ctx;
    struct state_task_run run = {.cert = c->cert, .task = task->name, .when = time(NULL),
                                 .ok = res->ok, .message = res->message, .stopped = res->stopped};
    struct errbuf err;

    c->outcome->tasks_stopped += res->stopped;
    if (!res->ran) {
        say(c->r, "  %s: task %s %s", c->cert, task->name, res->message); /* "skipped: why" */
        return;
    }
    c->outcome->tasks_ran++;
    if (!res->ok && !res->stopped)
        c->outcome->tasks_failed++;
    if (res->ok && c->env->cert_pem && c->env->thumbprint) {
        run.delivered = c->env->thumbprint;
        c->outcome->tasks_delivered++;
    }
    say(c->r, "  %s: task %s %s: %s", c->cert, task->name, task_verdict(c->r, res), res->message);
    if (!c->r->opts->dry_run && state_task_run_record(c->r->db, &run, &err) < 0)
        log_warning("%s", err.msg);
}

static void fill_env(struct task_env *env, const struct config *cfg,
                     const struct cert_tasks *tasks, const struct config_certificate *cert,
                     const struct cert_paths *paths,
                     X509 *live, const char *thumbprint, time_t not_after, time_t now)
{
    memset(env, 0, sizeof(*env));
    env->cfg = cfg;
    env->cert = cert;
    env->tasks = tasks;
    if (live) {
        env->cert_pem = paths->cert;
        env->chain_pem = paths->chain;
        env->fullchain_pem = paths->fullchain;
        env->key_pem = paths->key;
    }
    if (access(paths->previous_cert, R_OK) == 0)
        env->previous_cert_pem = paths->previous_cert;
    env->thumbprint = thumbprint;
    env->not_after = not_after;
    env->now = now;
}

/* ---- the CA: opened only for work that needs it ---------------------------------------------------- */

/* A thread's client: the CA's directory (enough for ARI), without an account. */
static int open_client(struct run *r, struct acme_client **client, struct errbuf *err)
{
    /* stop_asked: a stop abandons an order at its next step (a poll, a wait), not at the end of
     * its poll limit, so that it fits the unit's TimeoutStopSec (stop.h). */
    struct acme_options o = {.directory_url = r->cfg->server,
                             .ca_bundle = r->cfg->ca_bundle,
                             .stop_asked = stop_requested};
    int down;

    if (*client)
        return 0;
    pthread_mutex_lock(&r->lock);
    down = r->ca_unreachable;
    if (down)
        errbuf_set(err, "%s", r->ca_error);
    pthread_mutex_unlock(&r->lock);
    if (down)
        return -1;
    if (acme_client_open(&o, client, err) == 0)
        return 0;
    pthread_mutex_lock(&r->lock);
    r->ca_unreachable = 1;
    snprintf(r->ca_error, sizeof(r->ca_error), "%s", err->msg);
    pthread_mutex_unlock(&r->lock);
    return -1;
}

/* The advice for an account that cannot be used, in ccs.conf's terms (the library says what
 * happened; the renewer's user fixes it in the configuration, not on a command line). */
static void account_advice(const struct run *r, struct errbuf *why)
{
    char what[ERRBUF_SIZE / 2];
    const char *fix = NULL;

    switch (r->session.problem) {
    case SESSION_PROBLEM_TERMS:
        fix = "read them, then set agree-tos = yes in [ccs]";
        break;
    case SESSION_PROBLEM_EAB_REQUIRED:
        fix = "set eab-kid and eab-hmac-file in [ccs]";
        break;
    default:
        return;
    }
    snprintf(what, sizeof(what), "%s", why->msg);
    errbuf_set(why, "%s: %s of %s", what, fix, r->cfg->path);
}

/* The account, for an order: opened (and registered when there is none) by the first order of the
 * run, under its own lock so other threads wait for it rather than register twice; a failure is
 * kept and given to every later order, not retried. Then CLIENT signs with it. */
static int use_account(struct run *r, struct acme_client *client, struct errbuf *err)
{
    int rc = 0;

    struct errbuf why;

    pthread_mutex_lock(&r->account_lock);
    if (r->account == ACCOUNT_UNTRIED) {
        if (acme_session_open(&r->acme, SESSION_AUTO_REGISTER, &r->session, &why) == 0) {
            r->account = ACCOUNT_OPEN;
        } else {
            r->account = ACCOUNT_FAILED;
            account_advice(r, &why);
            snprintf(r->account_error, sizeof(r->account_error), "%s", why.msg);
        }
    }
    if (r->account == ACCOUNT_FAILED)
        rc = errbuf_set(err, "%s", r->account_error);
    else if (!client->kid)
        acme_client_set_account(client, r->session.account_key, r->session.client->kid, err);
    pthread_mutex_unlock(&r->account_lock);
    return rc;
}

/* ---- ordering ------------------------------------------------------------------------------------- */

static void on_order(void *ctx, const char *url)
{
    struct cert_record *rec = ((void **)ctx)[0];
    struct run *r = ((void **)ctx)[1];
    struct errbuf err;

    snprintf(rec->pending_order, sizeof(rec->pending_order), "%s", url);
    rec->pending_since = time(NULL);
    if (state_cert_put(r->db, rec, &err) < 0)
        log_warning("%s", err.msg);
}

static int issue(struct run *r, struct acme_client *client, const struct config_certificate *cert,
                 const struct cert_paths *paths, struct cert_record *rec, X509 *live,
                 struct acme_issued *issued, EVP_PKEY **key, struct errbuf *err)
{
    struct acme_identifier ids[ACME_MAX_LIST < 256 ? ACME_MAX_LIST : 256];
    char values[256][DNS_NAME_MAX + 1];
    struct challenge_solver own, *use;
    char *replaces = NULL, resume[sizeof(rec->pending_order)] = "";
    int reused = 0, rc = -1;
    void *ctx[2] = {rec, r};

    if (cert->domain_count > 256)
        return errbuf_set(err, "certificate %s: more than 256 domains", cert->name);
    if (identifiers_for(cert, ids, values, err) < 0)
        return -1;
    /* Recorded before the key exists: a record without a pending key is settled, and the plan
     * (plan.h) leaves a settled, not-due certificate alone — a run killed after making the key
     * must not leave one unrecorded. */
    snprintf(rec->pending_key, sizeof(rec->pending_key), "%s", paths->pending_key);
    if (state_cert_put(r->db, rec, err) < 0)
        return -1;
    if (cert->reuse_key && live && key_load(paths->key, key, NULL, err) == 0) {
        reused = 1;
    } else if (certfiles_pending_key(paths, cert->key_type, key, &reused, err) < 0) {
        return -1;
    }
    /* An order an earlier run left (stopped or killed) with this key is taken up where it stands
     * (acme_issue_request.resume_order): a certificate issued meanwhile is not ordered again. */
    if (reused && rec->pending_order[0]) {
        snprintf(resume, sizeof(resume), "%s", rec->pending_order);
        log_info("%s: an earlier run stopped during order %s; finishing it with its key",
                 cert->name, resume);
    }
    if (solver_for(r, cert, &own, &use, err) < 0)
        return -1;
    if (live && client->dir.renewal_info)
        replaces = acme_ari_cert_id(live, err);
    struct challenge_solver *solvers[1] = {use};
    struct acme_issue_request req = {
        .identifiers = ids,
        .identifier_count = cert->domain_count,
        .profile = cert->profile,
        .replaces = replaces,
        .cert_key = *key,
        .solvers = solvers,
        .solver_count = 1,
        .preferred_chain = cert->preferred_chain,
        .on_order = on_order,
        .on_order_ctx = ctx,
        .resume_order = resume[0] ? resume : NULL,
    };
    rc = acme_issue(client, &req, issued, err);
    if (own.ops)
        own.ops->destroy(&own);
    free(replaces);
    return rc;
}

static void note_failure(struct run *r, struct cert_record *rec, struct acme_client *client,
                         const char *message)
{
    struct errbuf err;
    time_t now = time(NULL);

    rec->last_attempt = now;
    rec->last_ok = 0;
    rec->failure_count++;
    snprintf(rec->last_message, sizeof(rec->last_message), "%s", message);
    /* Only the CA's Retry-After: our own backoff follows from failure_count and last_attempt
     * (policy_decide), and must stay distinguishable from it (it is lifted near expiry). */
    rec->next_attempt = client && client->retry_not_before > now ? client->retry_not_before : 0;
    if (state_cert_put(r->db, rec, &err) < 0 ||
        state_renewal_add(r->db, rec->name, now, 0, "", message, &err) < 0)
        log_warning("%s", err.msg);
}

/* ---- one certificate ------------------------------------------------------------------------------ */

/* What one certificate's turn works with, from loading to the outcome. */
struct cert_job {
    struct run *r;
    struct acme_client **client; /* the thread's */
    const struct config_certificate *cert;
    struct renew_outcome *out;
    struct cert_paths paths;
    struct cert_record rec;
    struct cert_record loaded;   /* REC as the database has it (after settle_pending) */
    int found;                   /* the database has a record */
    X509 *live;                  /* the certificate in use, or NULL */
    struct cert_summary sum;     /* of LIVE */
    struct cert_summary fresh;   /* of a certificate installed by this run (ENV points into it) */
    struct task_env env;
    time_t now;
};

/* An outcome's texts: "" until set (never NULL), else the outcome's own copy; out of memory, ""
 * and a warning. */
static const char no_text[] = "";

static void outcome_text(const char **dst, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void outcome_text(const char **dst, const char *fmt, va_list ap)
{
    char *text = NULL;

    if (vasprintf(&text, fmt, ap) < 0) {
        log_warning("out of memory for a renewal's message");
        text = NULL;
    }
    if (*dst != no_text)
        free((char *)*dst);
    *dst = text ? text : no_text;
}

static void outcome_set(const char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outcome_set(const char **dst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    outcome_text(dst, fmt, ap);
    va_end(ap);
}

static void outcome_init(struct renew_outcome *o)
{
    o->why = o->message = no_text;
}

static void outcome_free(struct renew_outcome *o)
{
    if (o->why != no_text)
        free((char *)o->why);
    if (o->message != no_text)
        free((char *)o->message);
    outcome_init(o);
}

static void job_message(struct cert_job *j, enum renew_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_message(struct cert_job *j, enum renew_status status, const char *fmt, ...)
{
    va_list ap;

    j->out->status = status;
    va_start(ap, fmt);
    outcome_text(&j->out->message, fmt, ap);
    va_end(ap);
}

/* A dry run on a machine that never ran ccs has no database, and must not create one. */
static int get_record(struct run *r, const char *name, struct cert_record *rec, int *found,
                      struct errbuf *err)
{
    if (r->db)
        return state_cert_get(r->db, name, rec, found, err);
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->name, sizeof(rec->name), "%s", name);
    rec->last_ok = -1;
    *found = 0;
    return 0;
}

/* A run killed between installing a certificate and recording it leaves half the bookkeeping:
 * the pending key may already be the live one (the install completed), or the database may
 * still name an order whose key is gone. Neither is an interrupted renewal to finish. */
static void settle_pending(struct run *r, const struct cert_paths *paths, X509 *live,
                           struct cert_record *rec)
{
    EVP_PKEY *pending = NULL;
    struct errbuf err;
    int missing = 0, changed = 0;

    if (key_load(paths->pending_key, &pending, &missing, &err) == 0 && live &&
        EVP_PKEY_eq(X509_get0_pubkey(live), pending) == 1) {
        certfiles_clear_pending(paths);
        missing = 1;
    }
    EVP_PKEY_free(pending);
    if (missing && (rec->pending_order[0] || rec->pending_key[0])) {
        rec->pending_order[0] = rec->pending_key[0] = '\0';
        rec->pending_since = 0;
        changed = 1;
    }
    if (changed && state_cert_put(r->db, rec, &err) < 0)
        log_warning("%s", err.msg);
}

/* Remove the temp files killed writes of this certificate's files left (they can hold private
 * keys): beside every path its export tasks write, and in its state (the pending key, the live and
 * previous links). Under the renew lock: no other writer of these paths is running. */
static void sweep_leftovers(struct cert_job *j)
{
    const struct config *cfg = j->r->cfg;
    const char *state_paths[] = {j->paths.pending_key, j->paths.live, j->paths.previous};

    const struct cert_tasks *ct = &j->r->tasks;

    for (size_t i = cert_tasks_first(cfg, ct, j->cert); i != CERT_TASKS_END;
         i = cert_tasks_next(cfg, ct, j->cert, i)) {
        const struct config_task *t = &cfg->tasks[i];
        const char *paths[] = {t->cert_path, t->chain_path, t->fullchain_path, t->key_path,
                               t->pfx_path};
        if (t->type != TASK_EXPORT)
            continue;
        for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
            if (paths[k])
                sweep_path(paths[k], j->cert->name);
    }
    for (size_t k = 0; k < sizeof(state_paths) / sizeof(state_paths[0]); k++)
        sweep_path(state_paths[k], j->cert->name);
}

/* Step 1: the certificate's files and record; a real run also tidies after killed runs. */
static int job_load(struct cert_job *j)
{
    struct errbuf err;
    int found;

    if (certfiles_paths(j->r->cfg->state_dir, j->cert->name, &j->paths, &err) < 0 ||
        certfiles_load_live(&j->paths, &j->live, &err) < 0 ||
        get_record(j->r, j->cert->name, &j->rec, &found, &err) < 0 ||
        (j->live && cert_summarise(j->live, &j->sum, &err) < 0)) {
        job_message(j, RENEW_FAILED, "%s", err.msg);
        return -1;
    }
    if (!j->r->opts->dry_run) {
        certfiles_prune(&j->paths);
        settle_pending(j->r, &j->paths, j->live, &j->rec);
        sweep_leftovers(j);
    }
    j->found = found;
    j->loaded = j->rec;
    j->out->not_after = j->live ? j->sum.not_after : 0;
    fill_env(&j->env, j->r->cfg, &j->r->tasks, j->cert, &j->paths, j->live, j->sum.thumbprint,
             j->sum.not_after, j->now);
    return 0;
}

static time_t live_lifetime(const struct cert_summary *s)
{
    return s->not_after > s->not_before ? s->not_after - s->not_before : 0;
}

static enum task_pick pick_owed(void *ctx, const struct config_task *task, struct task_result *why)
{
    const struct task_ctx *c = ctx;
    const struct owed_task *o = owed_lookup(c->owed, task);
    char until[32];

    if (!o)
        return TASK_PICK_IGNORE;
    if (c->r->opts->force || o->retry_at <= c->now)
        return TASK_PICK_RUN;
    format_utc(o->retry_at, until, sizeof(until));
    snprintf(why->message, sizeof(why->message),
             "skipped: owed the live certificate, backing off after %d failures until %s",
             o->failure_count, until);
    return TASK_PICK_HOLD;
}

/* Step 2: deliver the live certificate to the tasks that still owe it (owed.h), before anything
 * else and whether or not a renewal is due. */
static void deliver_owed(struct cert_job *j)
{
    struct run *r = j->r;
    struct owed_list owed;
    struct task_env env = j->env;
    struct task_ctx ctx = {r, j->cert->name, j->out, &env, &owed, j->now};
    struct phase_hooks hooks = {pick_owed, record_task, &ctx};
    struct phase_result pr;
    struct errbuf err;
    char names[512];

    if (!j->live)
        return;
    if (owed_find(r->cfg, &r->tasks, r->db, j->cert, j->sum.thumbprint, live_lifetime(&j->sum),
                  &owed, &err) < 0) {
        log_warning("%s", err.msg);
        return;
    }
    if (owed.count == 0)
        goto out;
    owed_names(&owed, names, sizeof(names));
    if (r->opts->dry_run) {
        say(r, "%s: would deliver the live certificate to the tasks that owe it: %s", j->cert->name,
            names);
        goto out;
    }
    say(r, "%s: delivering the live certificate to the tasks that owe it: %s", j->cert->name, names);
    env.renewal_ok = 1; /* the delivery of a successful renewal: on-success and any fire */
    tasks_run_phase(TASK_PHASE_POST, &env, &hooks, &pr);
out:
    owed_free(&owed);
}

/* The CA's renewal information for the live certificate, when it is time to ask again. A CA that
 * cannot be reached is a warning: the policy's own date still stands. */
static void refresh_ari(struct cert_job *j)
{
    struct run *r = j->r;
    struct acme_suggested_window w;
    struct errbuf err;

    if (!j->live || !r->cfg->server || j->rec.ari_next_check > j->now)
        return;
    if (open_client(r, j->client, &err) < 0) {
        log_warning("%s: cannot ask the CA for renewal information (ARI): %s; the renewal "
                    "policy's date stands",
                    j->cert->name, err.msg);
        return;
    }
    if (!(*j->client)->dir.renewal_info) {
        /* The CA offers no ARI: ask again when we would have asked for the window, not on every
         * run (the plan looks at a certificate whose question is due, plan.h). */
        j->rec.ari_next_check = j->now + ARI_DEFAULT_RECHECK_S;
        return;
    }
    if (acme_ari_fetch(*j->client, j->live, &w, &err) < 0) {
        log_warning("%s: renewal information (ARI): %s; the renewal policy's date stands",
                    j->cert->name, err.msg);
        return;
    }
    j->rec.ari_start = w.start;
    j->rec.ari_end = w.end;
    j->rec.ari_next_check =
        j->now + (w.retry_after_s >= 0 ? w.retry_after_s : ARI_DEFAULT_RECHECK_S);
    acme_suggested_window_free(&w);
}

/* Step 3: whether the certificate is due, and why. */
static void decide(struct cert_job *j, struct policy_decision *d)
{
    struct policy_input in = {0};

    refresh_ari(j);
    in.now = j->now;
    in.has_cert = j->live != NULL;
    in.not_before = j->sum.not_before;
    in.not_after = j->sum.not_after;
    in.last_renewal = j->rec.last_renewal;
    in.policy = j->cert->policy;
    in.has_ari = j->rec.ari_start && j->rec.ari_end > j->rec.ari_start;
    in.ari_start = j->rec.ari_start;
    in.ari_end = j->rec.ari_end;
    in.unit_random = policy_unit_random(j->cert->name, j->sum.serial);
    in.failure_count = j->rec.failure_count;
    in.last_attempt = j->rec.last_attempt;
    in.retry_not_before = j->rec.next_attempt;
    in.forced = j->r->opts->force;
    policy_decide(&in, d);
    /* A run killed mid-renewal left its key (and maybe its order): finish what it started, with
     * that key, rather than leave it for the next due date. */
    if (!d->due && access(j->paths.pending_key, F_OK) == 0) {
        char since[32] = "an earlier run";
        if (j->rec.pending_since)
            format_utc(j->rec.pending_since, since, sizeof(since));
        d->due = 1;
        snprintf(d->why, sizeof(d->why), "finishing a renewal interrupted (order recorded %s)",
                 j->rec.pending_order[0] ? since : "none yet");
    }
    outcome_set(&j->out->why, "%s", d->why);
}

static void describe_plan(struct cert_job *j)
{
    const struct config_certificate *cert = j->cert;
    char domains[1024] = "";
    size_t o = 0;
    struct task_env plan = j->env;
    struct task_ctx ctx = {j->r, cert->name, j->out, &plan, NULL, j->now};
    struct phase_hooks hooks = {NULL, record_task, &ctx};
    struct phase_result pr;

    for (size_t i = 0; i < cert->domain_count && o < sizeof(domains); i++)
        o += (size_t)snprintf(domains + o, sizeof(domains) - o, "%s%s", i ? ", " : "",
                              cert->domains[i]);
    say(j->r, "  %s: would order %s (%s%s%s, key %s%s%s)", cert->name, domains, cert->challenge,
        cert->webroot ? " webroot " : "", cert->webroot ? cert->webroot : "",
        key_type_name(cert->key_type), cert->profile ? ", profile " : "",
        cert->profile ? cert->profile : "");
    plan.dry_run = 1;
    plan.renewal_ok = 1;
    tasks_run_phase(TASK_PHASE_PRE, &plan, &hooks, &pr);
    tasks_run_phase(TASK_PHASE_POST, &plan, &hooks, &pr);
}

/* Install ISSUED (complete and verified: acme_issue checked key and names) as the live certificate,
 * then record it. From the switch on, every post task that fires on success is owed the new
 * certificate (owed.h) — before anything is recorded, so no kill can lose that. */
static int install(struct cert_job *j, const struct acme_issued *issued, EVP_PKEY *key,
                   struct errbuf *err)
{
    struct run *r = j->r;
    struct cert_record *rec = &j->rec;
    X509 *fresh = cert_from_pem(issued->cert_pem, strlen(issued->cert_pem));
    int rc = -1;

    if (!fresh) {
        errbuf_set(err, "%s: the CA's certificate does not parse", j->cert->name);
        goto out;
    }
    if (cert_summarise(fresh, &j->fresh, err) < 0 ||
        certfiles_install(&j->paths, j->fresh.serial, issued->cert_pem, issued->chain_pem,
                          issued->fullchain_pem, key, err) < 0)
        goto out;
    certfiles_clear_pending(&j->paths);
    snprintf(rec->serial, sizeof(rec->serial), "%s", j->fresh.serial);
    snprintf(rec->thumbprint, sizeof(rec->thumbprint), "%s", j->fresh.thumbprint);
    rec->not_before = j->fresh.not_before;
    rec->not_after = j->fresh.not_after;
    rec->last_renewal = rec->last_attempt = time(NULL);
    rec->last_ok = 1;
    rec->failure_count = 0;
    rec->next_attempt = 0;
    rec->ari_start = rec->ari_end = rec->ari_next_check = 0;
    rec->pending_order[0] = rec->pending_key[0] = '\0';
    rec->pending_since = 0;
    snprintf(rec->last_message, sizeof(rec->last_message), "renewed: %s", issued->order_url);
    if (state_cert_put(r->db, rec, err) < 0 ||
        state_renewal_add(r->db, j->cert->name, rec->last_renewal, 1, j->fresh.serial,
                          rec->last_message, err) < 0)
        log_warning("%s", err->msg);
    X509_free(j->live);
    j->live = NULL;
    certfiles_load_live(&j->paths, &j->live, err);
    fill_env(&j->env, r->cfg, &r->tasks, j->cert, &j->paths, j->live, j->fresh.thumbprint,
             j->fresh.not_after, j->now);
    j->out->not_after = j->fresh.not_after;
    rc = 0;
out:
    X509_free(fresh);
    return rc;
}

/* Order the certificate and install it. Returns 1 installed, 0 failed (recorded as a failed
 * attempt), -1 cut short by a stop: no failure, and not over — the pending key and the order's
 * record are kept, as after a kill, so the next run finishes the renewal with that key (decide). */
static int order_and_install(struct cert_job *j)
{
    struct run *r = j->r;
    struct acme_issued issued = {0};
    EVP_PKEY *key = NULL;
    struct errbuf err;
    int rc = 0;

    if (open_client(r, j->client, &err) < 0 || use_account(r, *j->client, &err) < 0 ||
        issue(r, *j->client, j->cert, &j->paths, &j->rec, j->live, &issued, &key, &err) < 0) {
        if (stop_requested()) {
            job_message(j, RENEW_STOPPED, "stopped during the order%s: %s",
                        access(j->paths.pending_key, F_OK) == 0
                            ? " (the next run finishes it with the same key)"
                            : "",
                        err.msg);
            rc = -1;
            goto out;
        }
        /* The order failed and we know it: not an interrupted run for the next one to finish
         * (that would also skip the backoff). The next attempt starts afresh. */
        certfiles_clear_pending(&j->paths);
        j->rec.pending_order[0] = j->rec.pending_key[0] = '\0';
        j->rec.pending_since = 0;
        job_message(j, RENEW_FAILED, "%s", err.msg);
        note_failure(r, &j->rec, *j->client, err.msg);
        goto out;
    }
    if (install(j, &issued, key, &err) < 0) {
        job_message(j, RENEW_FAILED, "%s", err.msg);
        note_failure(r, &j->rec, *j->client, err.msg);
        goto out;
    }
    rc = 1;
out:
    acme_issued_free(&issued);
    EVP_PKEY_free(key);
    return rc;
}

/* Step 4: pre tasks, the order, the install, the post tasks. */
static void renew_cert(struct cert_job *j, const struct policy_decision *d)
{
    struct run *r = j->r;
    struct task_ctx ctx = {r, j->cert->name, j->out, &j->env, NULL, j->now};
    struct phase_hooks hooks = {NULL, record_task, &ctx};
    struct phase_result pre, post;
    int installed = 0;

    say(r, "%s: renewing: %s", j->cert->name, d->why);
    j->env.renewal_ok = 1;
    tasks_run_phase(TASK_PHASE_PRE, &j->env, &hooks, &pre);
    if (pre.stopped) {
        job_message(j, RENEW_STOPPED, "stopped before the order: ccs is stopping");
        return; /* nothing ordered, nothing to report to post tasks */
    }
    if (pre.fatal_failure) {
        job_message(j, RENEW_FAILED, "a fatal pre-request task failed");
        note_failure(r, &j->rec, NULL, j->out->message);
    } else {
        installed = order_and_install(j);
        if (installed < 0)
            return;
    }
    j->env.renewal_ok = installed;
    tasks_run_phase(TASK_PHASE_POST, &j->env, &hooks, &post);
    if (!installed)
        return;
    if (post.fatal_failure)
        job_message(j, RENEW_FAILED,
                    "renewed, but a fatal task failed: the certificate is installed, the task is "
                    "owed and the next run retries it");
    else if (post.stopped)
        job_message(j, RENEW_RENEWED, "renewed; stopped before its tasks were done (owed to the "
                                      "next run)");
    else
        job_message(j, RENEW_RENEWED, "renewed%s", post.failed ? "; a task failed (owed to the "
                                                                  "next run)" : "");
}

/* Step 5: what is owed now, for the summary and `ccs status`. */
static void count_owed(struct cert_job *j)
{
    struct owed_list owed;
    struct errbuf err;

    if (!j->live || j->r->opts->dry_run)
        return;
    if (owed_find(j->r->cfg, &j->r->tasks, j->r->db, j->cert, j->env.thumbprint, 0, &owed,
                  &err) < 0) {
        log_warning("%s", err.msg);
        return;
    }
    j->out->tasks_owed = owed.count;
    owed_free(&owed);
}

/* A not-due certificate's record (its renewal point, the ARI window asked for, the live
 * certificate it names) is written with the others in one transaction when the jobs are done
 * (write_deferred), not in one fsync'd transaction each: with ARI every certificate's window is
 * asked for every few hours, so a run over 100,000 certificates writes thousands of them. Safe to
 * defer: nothing waits on them — a run killed before they are written leaves its line in
 * renew.lock, and the next run looks at every certificate and asks again. What must be on disk
 * before the run goes on (an order's key and URL, an installed certificate) is still written at
 * once. */
struct deferred {
    const struct config_certificate *cert;
    time_t renew_at, ari_start, ari_end, ari_next_check, not_before, not_after;
    char serial[130], thumbprint[41];
};

static void defer_record(struct run *r, const struct cert_record *rec)
{
    const struct config_certificate *cert = config_find_certificate(r->cfg, rec->name);
    struct deferred *d;

    pthread_mutex_lock(&r->lock);
    if (r->deferred_count == r->deferred_cap) {
        size_t cap = r->deferred_cap ? 2 * r->deferred_cap : 64;
        struct deferred *grown = realloc(r->deferred, cap * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&r->lock);
            log_warning("%s: out of memory: its renewal point is not recorded", rec->name);
            return;
        }
        r->deferred = grown;
        r->deferred_cap = cap;
    }
    d = &r->deferred[r->deferred_count++];
    d->cert = cert;
    d->renew_at = rec->renew_at;
    d->ari_start = rec->ari_start;
    d->ari_end = rec->ari_end;
    d->ari_next_check = rec->ari_next_check;
    d->not_before = rec->not_before;
    d->not_after = rec->not_after;
    memcpy(d->serial, rec->serial, sizeof(d->serial));
    memcpy(d->thumbprint, rec->thumbprint, sizeof(d->thumbprint));
    pthread_mutex_unlock(&r->lock);
}

/* The deferred records, in one batch (state.h), after the jobs: each record is read again and
 * only the fields above are set, so nothing else a job wrote is undone. */
static void write_deferred(struct run *r)
{
    struct errbuf err;
    int batch;

    if (!r->deferred_count || !r->db)
        return;
    batch = state_batch_begin(r->db, &err) == 0;
    if (!batch)
        log_warning("%s; writing the records one by one", err.msg);
    for (size_t i = 0; i < r->deferred_count; i++) {
        const struct deferred *d = &r->deferred[i];
        struct cert_record rec;
        int found;
        if (!d->cert || state_cert_get(r->db, d->cert->name, &rec, &found, &err) < 0) {
            if (d->cert)
                log_warning("%s", err.msg);
            continue;
        }
        rec.renew_at = d->renew_at;
        rec.ari_start = d->ari_start;
        rec.ari_end = d->ari_end;
        rec.ari_next_check = d->ari_next_check;
        rec.not_before = d->not_before;
        rec.not_after = d->not_after;
        memcpy(rec.serial, d->serial, sizeof(rec.serial));
        memcpy(rec.thumbprint, d->thumbprint, sizeof(rec.thumbprint));
        if (state_cert_put(r->db, &rec, &err) < 0)
            log_warning("%s", err.msg);
    }
    if (batch && state_batch_end(r->db, &err) < 0)
        log_warning("%s", err.msg);
}

/* The record describes the certificate in use: when it names another (a run killed between the
 * switch and the record, or a database started anew), it takes the live one's serial, thumbprint
 * and dates, so that the next run's plan (plan.h) can vouch for it again. */
static void record_live(struct cert_job *j)
{
    struct cert_record *rec = &j->rec;

    if (!j->live ||
        (strcmp(rec->serial, j->sum.serial) == 0 && strcmp(rec->thumbprint, j->sum.thumbprint) == 0))
        return;
    snprintf(rec->serial, sizeof(rec->serial), "%s", j->sum.serial);
    snprintf(rec->thumbprint, sizeof(rec->thumbprint), "%s", j->sum.thumbprint);
    rec->not_before = j->sum.not_before;
    rec->not_after = j->sum.not_after;
}

static void renew_one(struct run *r, struct acme_client **client,
                      const struct config_certificate *cert, struct renew_outcome *out)
{
    struct cert_job j = {.r = r, .client = client, .cert = cert, .out = out};
    struct policy_decision d;

    j.now = r->opts->now ? r->opts->now : time(NULL);
    out->cert = cert;
    out->status = RENEW_FAILED;
    if (stop_requested()) {
        job_message(&j, RENEW_STOPPED, "not started: ccs is stopping");
        return;
    }
    if (job_load(&j) < 0)
        goto out;
    deliver_owed(&j);
    decide(&j, &d);
    if (!d.due) {
        job_message(&j, RENEW_NOT_DUE, "not due: %s", d.why);
        say(r, "%s: not due: %s", cert->name, d.why);
        if (!r->opts->dry_run) {
            j.rec.renew_at = d.renew_at;
            record_live(&j);
            /* Written only when it changed: after a killed run every certificate is looked at,
             * and an fsync'd transaction per unchanged record would be most of that run. */
            if (!j.found || memcmp(&j.rec, &j.loaded, sizeof(j.rec)) != 0)
                defer_record(r, &j.rec);
        }
    } else if (r->opts->dry_run) {
        job_message(&j, RENEW_WOULD_RENEW, "would renew: %s", d.why);
        say(r, "%s: would renew: %s", cert->name, d.why);
        describe_plan(&j);
    } else if (stop_requested()) {
        job_message(&j, RENEW_STOPPED, "due (%s), not started: ccs is stopping", d.why);
    } else {
        renew_cert(&j, &d);
        say(r, "%s: %s", cert->name, out->status == RENEW_RENEWED ? out->message
                                     : out->status == RENEW_STOPPED ? "stopped" : "FAILED");
        if (out->status != RENEW_RENEWED)
            say(r, "  %s: %s", cert->name, out->message);
    }
    count_owed(&j);
out:
    X509_free(j.live);
}

/* Tell opts->progress (renew.h) of certificate I's start (DONE NULL) or end, one call at a time. */
static void progress(struct run *r, size_t i, const struct renew_outcome *done)
{
    if (!r->opts->progress)
        return;
    pthread_mutex_lock(&r->lock);
    r->opts->progress(r->opts->progress_arg, r->cfg->certificates[r->selected[i]].name, done);
    pthread_mutex_unlock(&r->lock);
}

static void *job(void *arg)
{
    struct run *r = arg;
    struct acme_client *client = NULL;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&r->lock);
        i = r->next++;
        pthread_mutex_unlock(&r->lock);
        if (i >= r->selected_count)
            break;
        if (r->look && !r->look[i])
            continue; /* quiet: the plan filled its outcome */
        progress(r, i, NULL);
        renew_one(r, &client, &r->cfg->certificates[r->selected[i]], &r->summary->items[i]);
        progress(r, i, &r->summary->items[i]);
    }
    acme_client_close(client);
    return NULL;
}

/* ---- the plan: only the certificates with something to do are looked at ----------------------- */

static void quiet_outcome(void *ctx, size_t i, time_t not_after, const struct policy_decision *d)
{
    struct run *r = ctx;
    struct renew_outcome *o = &r->summary->items[i];

    o->cert = &r->cfg->certificates[i];
    o->status = RENEW_NOT_DUE;
    o->not_after = not_after;
    outcome_set(&o->why, "%s", d->why);
    say(r, "%s: not due: %s", o->cert->name, d->why);
    progress(r, i, NULL);
    progress(r, i, o);
}

/* Leave alone what the state vouches has nothing to do (plan.h). Forced runs and named
 * certificates are looked at; so is everything after a run that was killed (its temp files may be
 * beside any certificate, even one it was only running a task of by hand), when there is no state
 * (a dry run on a machine that never ran ccs) or when the plan cannot be made (a warning: the run
 * goes on, looking at all). */
static void plan(struct run *r)
{
    size_t n = r->cfg->certificate_count;
    struct errbuf err;

    if (r->opts->force || (r->opts->names && r->opts->name_count) || !r->db || n == 0)
        return;
    if (r->unfinished[0]) {
        log_info("the last run (%s) did not finish: looking at every certificate for what it "
                 "left", r->unfinished);
        return;
    }
    r->look = malloc(n);
    if (!r->look) {
        log_warning("renewal plan: out of memory; looking at every certificate");
        return;
    }
    if (plan_renewals(r->cfg, r->db, r->opts->now ? r->opts->now : time(NULL), r->look,
                      quiet_outcome, r, &err) < 0)
        log_warning("%s; looking at every certificate", err.msg);
}

/* ---- the run -------------------------------------------------------------------------------------- */

static int select_certificates(struct run *r, struct errbuf *err)
{
    const struct config *cfg = r->cfg;

    r->selected = calloc(cfg->certificate_count + 1, sizeof(*r->selected));
    if (!r->selected)
        return errbuf_set(err, "out of memory");
    if (!r->opts->names || r->opts->name_count == 0) {
        for (size_t i = 0; i < cfg->certificate_count; i++)
            r->selected[r->selected_count++] = i;
        return 0;
    }
    for (size_t n = 0; n < r->opts->name_count; n++) {
        size_t i = cert_index(cfg, r->opts->names[n]);
        if (i == SIZE_MAX)
            return errbuf_set(err, "no certificate \"%s\" in %s", r->opts->names[n], cfg->path);
        r->selected[r->selected_count++] = i;
    }
    return 0;
}

/* The state database. A real run creates it when there is none, and says so: a new database
 * where one with history was expected (a 0-byte file) must not pass unnoticed. A dry run writes
 * nothing: without a database (or with a 0-byte one) it goes on as on a machine that never ran
 * ccs, saying what the real run would do; one it cannot read fails it, as it would the real run. */
static int open_state(struct run *r, struct errbuf *err)
{
    const char *dir = r->cfg->state_dir;
    enum state_origin origin;
    char db_path[PATH_MAX];
    struct stat st;

    snprintf(db_path, sizeof(db_path), "%s/%s", dir, STATE_DB_FILE);
    if (r->opts->dry_run) {
        if (stat(db_path, &st) != 0)
            return 0;
        if (S_ISREG(st.st_mode) && st.st_size == 0) {
            log_warning("state %s is empty (0 bytes): a real run would start a new database",
                        db_path);
            return 0;
        }
        return state_open(dir, STATE_OPEN_EXISTING, NULL, &r->db, err);
    }
    if (state_open(dir, STATE_OPEN_CREATE, &origin, &r->db, err) < 0)
        return -1;
    if (origin == STATE_CREATED)
        log_info("state %s: no database yet: created a new one", db_path);
    else if (origin == STATE_CREATED_OVER_EMPTY)
        log_warning("state %s was empty (0 bytes): started a new database; the history it held "
                    "is gone, and every task is owed the live certificate again",
                    db_path);
    return 0;
}

/* Leftovers of the account's files (a killed registration or key rollover). */
static void sweep_account(const struct run *r)
{
    struct account_paths paths;
    struct errbuf err;

    if (!r->cfg->server ||
        account_paths_for(r->cfg->state_dir, r->cfg->server, 0, &paths, &err) < 0)
        return;
    sweep_path(paths.key, "account");
    sweep_path(paths.new_key, "account");
    sweep_path(paths.info, "account");
}

static void settings_from(const struct config *cfg, struct acme_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->server = cfg->server;
    s->ca_bundle = cfg->ca_bundle;
    s->eab_kid = cfg->eab_kid;
    s->eab_hmac_file = cfg->eab_hmac_file;
    s->state_dir = cfg->state_dir;
    s->agree_tos = cfg->agree_tos;
    s->eab_hmac_option = "eab-hmac-file ="; /* "use eab-hmac-file = FILE" */
    s->account_key_type = KEY_TYPE_DEFAULT;
    for (size_t i = 0; i < cfg->contact_count && i < ACME_MAX_CONTACTS; i++)
        s->contact[s->contact_count++] = cfg->contact[i];
}

/* Run the jobs: up to opts->jobs threads take the certificates in turn. */
static void run_jobs(struct run *r)
{
    pthread_t threads[RENEW_MAX_JOBS];
    size_t started = 0;
    int jobs = r->opts->jobs > 0 ? r->opts->jobs : RENEW_DEFAULT_JOBS;

    if (jobs > RENEW_MAX_JOBS)
        jobs = RENEW_MAX_JOBS;
    if ((size_t)jobs > r->selected_count)
        jobs = (int)r->selected_count;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[started], NULL, job, r) == 0)
            started++;
    if (started == 0 && r->selected_count)
        job(r);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

static void summarise(struct renew_summary *s)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct renew_outcome *o = &s->items[i];
        s->renewed += o->status == RENEW_RENEWED;
        s->failed += o->status == RENEW_FAILED;
        s->not_due += o->status == RENEW_NOT_DUE;
        s->stopped += o->status == RENEW_STOPPED;
        s->tasks_failed += o->tasks_failed;
        s->tasks_delivered += o->tasks_delivered;
        s->tasks_owed += o->tasks_owed;
    }
    s->stop_signal = stop_requested();
}

int renew_run(const struct config *cfg, const struct renew_options *opts,
              struct renew_summary *summary, struct errbuf *err)
{
    struct run r;
    struct stop_saved saved;
    int lock_fd = -1, watching, rc = -1;

    memset(&r, 0, sizeof(r));
    memset(summary, 0, sizeof(*summary));
    r.cfg = cfg;
    r.opts = opts;
    r.summary = summary;
    pthread_mutex_init(&r.lock, NULL);
    pthread_mutex_init(&r.account_lock, NULL);
    settings_from(cfg, &r.acme);
    watching = stop_watch(&saved) == 0;
    if (select_certificates(&r, err) < 0)
        goto out;
    if (cert_tasks_build(cfg, &r.tasks) < 0) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    /* A dry run changes nothing, the lock file included; it may run beside a real run. */
    if (!opts->dry_run && take_lock(cfg->state_dir, "ccs renew", &lock_fd, r.unfinished,
                                    sizeof(r.unfinished), err) < 0)
        goto out;
    if (open_state(&r, err) < 0)
        goto out;
    summary->items = calloc(r.selected_count + 1, sizeof(*summary->items));
    if (!summary->items) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    summary->count = r.selected_count;
    for (size_t i = 0; i < r.selected_count; i++)
        outcome_init(&summary->items[i]);
    plan(&r);
    if (!opts->dry_run)
        sweep_account(&r);
    /* libcurl's global setup before the jobs start: each opens its own client (http.h) */
    if (http_global_init(err) < 0)
        goto out;
    run_jobs(&r);
    write_deferred(&r);
    summarise(summary);
    rc = 0;
out:
    if (rc < 0)
        renew_summary_free(summary);
    for (size_t i = 0; i < r.responder_count; i++)
        if (!r.responders[i].failed)
            r.responders[i].solver.ops->destroy(&r.responders[i].solver);
    if (r.account == ACCOUNT_OPEN)
        acme_session_close(&r.session);
    state_close(r.db);
    free(r.selected);
    free(r.look);
    free(r.deferred);
    cert_tasks_free(&r.tasks);
    release_lock(lock_fd);
    if (watching)
        stop_unwatch(&saved);
    pthread_mutex_destroy(&r.account_lock);
    pthread_mutex_destroy(&r.lock);
    return rc;
}

void renew_summary_free(struct renew_summary *s)
{
    for (size_t i = 0; s->items && i < s->count; i++)
        outcome_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

static const struct config_task *find_task(const struct config *cfg, const char *cert_name,
                                           const char *task_name)
{
    for (size_t i = 0; i < cfg->task_count; i++)
        if (strcmp(cfg->tasks[i].certificate, cert_name) == 0 &&
            strcmp(cfg->tasks[i].name, task_name) == 0)
            return &cfg->tasks[i];
    return NULL;
}

int renew_task_run(const struct config *cfg, const char *cert_name, const char *task_name,
                   int dry_run, FILE *out, struct errbuf *err)
{
    const struct config_certificate *cert = config_find_certificate(cfg, cert_name);
    const struct config_task *task = find_task(cfg, cert_name, task_name);
    struct renew_options opts = {.dry_run = dry_run, .out = out};
    struct renew_outcome outcome = {.why = no_text, .message = no_text};
    struct run r;
    struct cert_paths paths;
    struct cert_summary sum = {0};
    struct task_env env;
    struct task_result res;
    struct stop_saved saved;
    X509 *live = NULL;
    int lock_fd = -1, watching, rc = -1;

    if (!cert)
        return errbuf_set(err, "no certificate \"%s\" in %s", cert_name, cfg->path);
    if (!task)
        return errbuf_set(err, "certificate %s has no task \"%s\"", cert_name, task_name);
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = &opts;
    pthread_mutex_init(&r.lock, NULL);
    watching = stop_watch(&saved) == 0;
    /* The renewer's lock: a task must not write the files a renewal's tasks are writing. */
    if (!dry_run && take_lock(cfg->state_dir, "ccs task run", &lock_fd, r.unfinished,
                              sizeof(r.unfinished), err) < 0)
        goto out;
    if (certfiles_paths(cfg->state_dir, cert_name, &paths, err) < 0 ||
        certfiles_load_live(&paths, &live, err) < 0)
        goto out;
    if (!live) {
        errbuf_set(err, "certificate %s has not been issued yet: nothing for task %s to deliver",
                   cert_name, task_name);
        goto out;
    }
    if (cert_summarise(live, &sum, err) < 0 ||
        state_open(cfg->state_dir, STATE_OPEN_EXISTING, NULL, &r.db, err) < 0)
        goto out;
    fill_env(&env, cfg, NULL, cert, &paths, live, sum.thumbprint, sum.not_after, time(NULL));
    env.renewal_ok = 1;
    env.manual = 1;
    env.dry_run = dry_run;
    task_run(task, &env, &res);
    res.ran = 1;
    {
        struct task_ctx ctx = {&r, cert_name, &outcome, &env, NULL, env.now};
        record_task(&ctx, task, &res);
    }
    rc = res.ok ? 0 : errbuf_set(err, "task %s of %s %s: %s", task_name, cert_name,
                                 res.stopped ? "was stopped" : "failed", res.message);
out:
    state_close(r.db);
    X509_free(live);
    release_lock(lock_fd);
    if (watching)
        stop_unwatch(&saved);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
