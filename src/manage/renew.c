#include "manage/renew.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "acme/ari.h"
#include "acme/order.h"
#include "acme/session.h"
#include "manage/certfiles.h"
#include "manage/policy.h"
#include "manage/state.h"
#include "manage/tasks.h"
#include "store/certinfo.h"
#include "store/names.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/secret.h"

/* Group of the machine copy's key (store-only), as Debian's ssl-cert package defines it. */
#define LIVE_KEY_GROUP "ssl-cert"
#define MAX_RESPONDERS 8

struct responder {
    int port;
    char listen[64];
    struct challenge_solver solver;
    int failed;
    char error[ERRBUF_SIZE];
};

struct run {
    const struct config *cfg;
    const struct renew_options *opts;
    struct acme_settings acme;
    struct acme_session session; /* the account; client unused by jobs */
    int have_account;
    struct state_db *db;
    pthread_mutex_t lock; /* output, responders, the next index */
    struct responder responders[MAX_RESPONDERS];
    size_t responder_count;
    size_t *selected, selected_count, next;
    struct renew_summary *summary;
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

static int take_lock(const char *state_dir, int *fd_out, struct errbuf *err)
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
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return errbuf_set(err, "another ccs renew is running (%s holds %s)",
                          holder[0] ? holder : "unknown process", path);
    }
    {
        char text[128];
        time_t now = time(NULL);
        char when[32];
        format_utc(now, when, sizeof(when));
        n = snprintf(text, sizeof(text), "pid %d, started %s\n", (int)getpid(), when);
        if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) < 0)
            log_debug("%s: cannot record the holder", path);
    }
    *fd_out = fd;
    return 0;
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

/* ---- the machine copy (store-only) ------------------------------------------------------------ */

/* The PFX password of CERT: its own file, else that of the store of its first deploy-ccs task. */
static const char *pfx_password_file(const struct config *cfg, const struct config_certificate *cert)
{
    if (cert->pfx_password_file)
        return cert->pfx_password_file;
    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_task *t = &cfg->tasks[i];
        if (t->type == TASK_DEPLOY_CCS && strcmp(t->certificate, cert->name) == 0) {
            const struct config_store *s = config_find_store(cfg, t->store);
            if (s)
                return s->password_file;
        }
    }
    return NULL;
}

static int write_live_copy(const struct config *cfg, const struct config_certificate *cert,
                           const struct acme_issued *issued, EVP_PKEY *key, struct errbuf *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct bytes key_pem = {0}, full = {0};
    struct pfx_bundle bundle = {0};
    struct bytes pfx = {0};
    struct secret pass = {0};
    struct secret_source src = {.what = "PFX password", .option = "pfx-password-file"};
    struct group *g = getgrnam(LIVE_KEY_GROUP);
    BIO *mem = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc = -1;

    snprintf(dir, sizeof(dir), "%s/%s", cfg->live_dir, cert->name);
    if (dir_create(dir, 0755, err) < 0)
        goto out;
    if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
        errbuf_set(err, "cannot encode the key");
        goto out;
    }
    len = BIO_get_mem_data(mem, &data);
    snprintf(path, sizeof(path), "%s/privkey.pem", dir);
    if (file_write_atomic(path, (unsigned char *)data, (size_t)len, 0640, err) < 0)
        goto out;
    if (g && chown(path, (uid_t)-1, g->gr_gid) < 0)
        log_warning("%s: cannot give it to group %s", path, LIVE_KEY_GROUP);
    {
        const struct {
            const char *name, *text;
        } files[] = {{"cert.pem", issued->cert_pem},
                     {"chain.pem", issued->chain_pem},
                     {"fullchain.pem", issued->fullchain_pem}};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
            if (file_write_atomic(path, (const unsigned char *)files[i].text,
                                  strlen(files[i].text), 0644, err) < 0)
                goto out;
        }
    }
    src.path = pfx_password_file(cfg, cert);
    if (!src.path) {
        log_warning("certificate %s: no PFX password file (pfx-password-file, or a deploy-ccs "
                    "task's store): %s/cert.pfx not written",
                    cert->name, dir);
        rc = 0;
        goto out;
    }
    key_pem.data = (unsigned char *)data;
    key_pem.len = (size_t)len;
    full.data = (unsigned char *)issued->fullchain_pem;
    full.len = strlen(issued->fullchain_pem);
    if (secret_load(&src, &pass, err) < 0 ||
        pfx_bundle_from_pem((struct pem_input){&full, "fullchain"},
                            (struct pem_input){&key_pem, "key"}, NULL, &bundle, err) < 0 ||
        pfx_encode(&bundle, pass.value, PFX_FORMAT_COMPAT, cert->name, &pfx, err) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/cert.pfx", dir);
    if (file_write_atomic(path, pfx.data, pfx.len, 0640, err) < 0)
        goto out;
    if (g && chown(path, (uid_t)-1, g->gr_gid) < 0)
        log_warning("%s: cannot give it to group %s", path, LIVE_KEY_GROUP);
    rc = 0;
out:
    bytes_free(&pfx);
    pfx_bundle_free(&bundle);
    secret_free(&pass);
    BIO_free(mem);
    return rc;
}

/* ---- tasks ---------------------------------------------------------------------------------------- */

struct task_report_ctx {
    struct run *r;
    const char *cert;
    struct renew_outcome *outcome;
};

static void record_task(void *ctx, const struct config_task *task, const struct task_result *res)
{
    struct task_report_ctx *c = ctx;
    struct errbuf err;

    if (!res->ran) {
        say(c->r, "  %s: task %s %s", c->cert, task->name, res->message); /* "skipped: why" */
        return;
    }
    c->outcome->tasks_ran++;
    if (!res->ok)
        c->outcome->tasks_failed++;
    say(c->r, "  %s: task %s %s: %s", c->cert, task->name,
        c->r->opts->dry_run ? "would run" : res->ok ? "ok" : "FAILED", res->message);
    if (!c->r->opts->dry_run &&
        state_task_run_add(c->r->db, c->cert, task->name, time(NULL), res->ok, res->message,
                           &err) < 0)
        log_warning("%s", err.msg);
}

static void fill_env(struct task_env *env, const struct config *cfg,
                     const struct config_certificate *cert, const struct cert_paths *paths,
                     X509 *live, const char *thumbprint, time_t not_after, time_t now)
{
    memset(env, 0, sizeof(*env));
    env->cfg = cfg;
    env->cert = cert;
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

/* ---- one certificate ------------------------------------------------------------------------------ */

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
    char *replaces = NULL;
    int reused = 0, rc = -1;
    void *ctx[2] = {rec, r};

    if (cert->domain_count > 256)
        return errbuf_set(err, "certificate %s: more than 256 domains", cert->name);
    if (identifiers_for(cert, ids, values, err) < 0)
        return -1;
    if (cert->reuse_key && live && key_load(paths->key, key, NULL, err) == 0) {
        reused = 1;
    } else if (certfiles_pending_key(paths, cert->key_type, key, &reused, err) < 0) {
        return -1;
    }
    if (reused && rec->pending_order[0])
        log_info("%s: an earlier run stopped during order %s; ordering again with its key",
                 cert->name, rec->pending_order);
    snprintf(rec->pending_key, sizeof(rec->pending_key), "%s", paths->pending_key);
    if (state_cert_put(r->db, rec, err) < 0)
        return -1;
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

static int open_client(struct run *r, struct acme_client **client, struct errbuf *err)
{
    struct acme_options o = {.directory_url = r->cfg->server, .ca_bundle = r->cfg->ca_bundle};

    if (*client)
        return 0;
    if (acme_client_open(&o, client, err) < 0)
        return -1;
    if (r->have_account)
        acme_client_set_account(*client, r->session.account_key, r->session.client->kid, err);
    return 0;
}

static void refresh_ari(struct run *r, struct acme_client *client, X509 *live,
                        struct cert_record *rec, time_t now)
{
    struct acme_suggested_window w;
    struct errbuf err;

    if (!live || !client->dir.renewal_info || rec->ari_next_check > now)
        return;
    if (acme_ari_fetch(client, live, &w, &err) < 0) {
        log_warning("%s: renewal information: %s", rec->name, err.msg);
        return;
    }
    rec->ari_start = w.start;
    rec->ari_end = w.end;
    rec->ari_next_check = now + (w.retry_after_s >= 0 ? w.retry_after_s : ARI_DEFAULT_RECHECK_S);
    acme_suggested_window_free(&w);
    (void)r;
}

static void describe_plan(struct run *r, const struct config_certificate *cert,
                          const struct task_env *env, struct renew_outcome *out)
{
    char domains[1024] = "";
    size_t o = 0;
    struct task_report_ctx ctx = {r, cert->name, out};
    struct phase_result pr;
    struct task_env plan = *env;

    for (size_t i = 0; i < cert->domain_count && o < sizeof(domains); i++)
        o += (size_t)snprintf(domains + o, sizeof(domains) - o, "%s%s", i ? ", " : "",
                              cert->domains[i]);
    say(r, "  %s: would order %s (%s%s%s, key %s%s%s)", cert->name, domains, cert->challenge,
        cert->webroot ? " webroot " : "", cert->webroot ? cert->webroot : "",
        key_type_name(cert->key_type), cert->profile ? ", profile " : "",
        cert->profile ? cert->profile : "");
    plan.dry_run = 1;
    plan.renewal_ok = 1;
    struct phase_hooks hooks = {NULL, record_task, &ctx};
    tasks_run_phase(TASK_PHASE_PRE, &plan, &hooks, &pr);
    tasks_run_phase(TASK_PHASE_POST, &plan, &hooks, &pr);
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

static void renew_one(struct run *r, struct acme_client **client,
                      const struct config_certificate *cert, struct renew_outcome *out)
{
    struct cert_paths paths;
    struct cert_record rec;
    struct cert_summary sum = {0}, ns = {0};
    struct policy_input in = {0};
    struct policy_decision d;
    struct acme_issued issued = {0};
    struct task_env env;
    struct task_report_ctx tctx = {r, cert->name, out};
    struct phase_hooks hooks = {NULL, record_task, &tctx};
    struct phase_result pre = {0}, post = {0};
    EVP_PKEY *key = NULL;
    X509 *live = NULL;
    struct errbuf err;
    int found, ok = 0;
    time_t now = r->opts->now ? r->opts->now : time(NULL);

    out->cert = cert;
    out->status = RENEW_FAILED;
    if (certfiles_paths(r->cfg->state_dir, cert->name, &paths, &err) < 0 ||
        certfiles_load_live(&paths, &live, &err) < 0 ||
        get_record(r, cert->name, &rec, &found, &err) < 0) {
        snprintf(out->message, sizeof(out->message), "%s", err.msg);
        goto out;
    }
    if (!r->opts->dry_run) {
        certfiles_prune(&paths);
        settle_pending(r, &paths, live, &rec);
    }
    if (live && cert_summarise(live, &sum, &err) < 0) {
        snprintf(out->message, sizeof(out->message), "%s", err.msg);
        goto out;
    }
    out->not_after = live ? sum.not_after : 0;
    if (live && r->cfg->server && open_client(r, client, &err) == 0)
        refresh_ari(r, *client, live, &rec, now);
    in.now = now;
    in.has_cert = live != NULL;
    in.not_before = sum.not_before;
    in.not_after = sum.not_after;
    in.last_renewal = rec.last_renewal;
    in.policy = cert->policy;
    in.has_ari = rec.ari_start && rec.ari_end > rec.ari_start;
    in.ari_start = rec.ari_start;
    in.ari_end = rec.ari_end;
    in.unit_random = policy_unit_random(cert->name, sum.serial);
    in.failure_count = rec.failure_count;
    in.last_attempt = rec.last_attempt;
    in.retry_not_before = rec.next_attempt;
    in.forced = r->opts->force;
    policy_decide(&in, &d);
    /* A run killed mid-renewal left its key (and maybe its order): finish what it started, with
     * that key, rather than leave it for the next due date. */
    if (!d.due && access(paths.pending_key, F_OK) == 0) {
        char since[32] = "an earlier run";
        if (rec.pending_since)
            format_utc(rec.pending_since, since, sizeof(since));
        d.due = 1;
        snprintf(d.why, sizeof(d.why), "finishing a renewal interrupted (order recorded %s)",
                 rec.pending_order[0] ? since : "none yet");
    }
    snprintf(out->why, sizeof(out->why), "%s", d.why);
    fill_env(&env, r->cfg, cert, &paths, live, sum.thumbprint, sum.not_after, now);
    if (!d.due) {
        out->status = RENEW_NOT_DUE;
        snprintf(out->message, sizeof(out->message), "not due: %s", d.why);
        say(r, "%s: not due: %s", cert->name, d.why);
        if (!r->opts->dry_run) {
            rec.renew_at = d.renew_at;
            if (state_cert_put(r->db, &rec, &err) < 0)
                log_warning("%s", err.msg);
        }
        goto out;
    }
    if (r->opts->dry_run) {
        out->status = RENEW_WOULD_RENEW;
        snprintf(out->message, sizeof(out->message), "would renew: %s", d.why);
        say(r, "%s: would renew: %s", cert->name, d.why);
        describe_plan(r, cert, &env, out);
        goto out;
    }
    say(r, "%s: renewing: %s", cert->name, d.why);
    env.renewal_ok = 1;
    tasks_run_phase(TASK_PHASE_PRE, &env, &hooks, &pre);
    if (pre.fatal_failure) {
        snprintf(out->message, sizeof(out->message), "a fatal pre-request task failed");
        note_failure(r, &rec, NULL, out->message);
        goto tasks;
    }
    if (open_client(r, client, &err) < 0 ||
        issue(r, *client, cert, &paths, &rec, live, &issued, &key, &err) < 0) {
        snprintf(out->message, sizeof(out->message), "%s", err.msg);
        /* The order failed and we know it: not an interrupted run for the next one to finish
         * (that would also skip the backoff). The next attempt starts afresh. */
        certfiles_clear_pending(&paths);
        rec.pending_order[0] = rec.pending_key[0] = '\0';
        rec.pending_since = 0;
        note_failure(r, &rec, *client, err.msg);
        goto tasks;
    }
    {
        /* Complete and verified (acme_issue checked key and names): install, then record. NS
         * lives as long as ENV, which points into it. */
        BIO *bio = BIO_new_mem_buf(issued.cert_pem, -1);
        X509 *fresh = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!fresh || cert_summarise(fresh, &ns, &err) < 0 ||
            certfiles_install(&paths, ns.serial, issued.cert_pem, issued.chain_pem,
                              issued.fullchain_pem, key, &err) < 0) {
            X509_free(fresh);
            snprintf(out->message, sizeof(out->message), "%s", err.msg);
            note_failure(r, &rec, *client, err.msg);
            goto tasks;
        }
        X509_free(fresh);
        certfiles_clear_pending(&paths);
        if (cert->deployment == DEPLOYMENT_STORE_ONLY &&
            write_live_copy(r->cfg, cert, &issued, key, &err) < 0)
            log_error("%s: machine copy under %s: %s", cert->name, r->cfg->live_dir, err.msg);
        snprintf(rec.serial, sizeof(rec.serial), "%s", ns.serial);
        snprintf(rec.thumbprint, sizeof(rec.thumbprint), "%s", ns.thumbprint);
        rec.not_before = ns.not_before;
        rec.not_after = ns.not_after;
        rec.last_renewal = rec.last_attempt = time(NULL);
        rec.last_ok = 1;
        rec.failure_count = 0;
        rec.next_attempt = 0;
        rec.ari_start = rec.ari_end = rec.ari_next_check = 0;
        rec.pending_order[0] = rec.pending_key[0] = '\0';
        rec.pending_since = 0;
        snprintf(rec.last_message, sizeof(rec.last_message), "renewed: %s", issued.order_url);
        if (state_cert_put(r->db, &rec, &err) < 0 ||
            state_renewal_add(r->db, cert->name, rec.last_renewal, 1, ns.serial,
                              rec.last_message, &err) < 0)
            log_warning("%s", err.msg);
        X509_free(live);
        live = NULL;
        certfiles_load_live(&paths, &live, &err);
        fill_env(&env, r->cfg, cert, &paths, live, ns.thumbprint, ns.not_after, now);
        out->not_after = ns.not_after;
        ok = 1;
    }
tasks:
    env.renewal_ok = ok;
    tasks_run_phase(TASK_PHASE_POST, &env, &hooks, &post);
    if (ok && !post.fatal_failure) {
        out->status = RENEW_RENEWED;
        snprintf(out->message, sizeof(out->message), "renewed%s",
                 post.failed ? " (a task failed)" : "");
    } else if (ok) {
        /* The certificate is installed (and stays: it is valid and newer), but the renewal counts
         * as failed, so `ccs status` shows it; `ccs task run` retries the task. */
        snprintf(out->message, sizeof(out->message),
                 "renewed, but a fatal task failed (retry it with `ccs task run`)");
        rec.last_ok = 0;
        snprintf(rec.last_message, sizeof(rec.last_message), "%s", out->message);
        if (state_cert_put(r->db, &rec, &err) < 0)
            log_warning("%s", err.msg);
    }
    say(r, "%s: %s", cert->name,
        out->status == RENEW_RENEWED ? out->message : "FAILED");
    if (out->status != RENEW_RENEWED)
        say(r, "  %s: %s", cert->name, out->message);
out:
    acme_issued_free(&issued);
    EVP_PKEY_free(key);
    X509_free(live);
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
        renew_one(r, &client, &r->cfg->certificates[r->selected[i]], &r->summary->items[i]);
    }
    acme_client_close(client);
    return NULL;
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
        size_t i;
        for (i = 0; i < cfg->certificate_count; i++)
            if (strcmp(cfg->certificates[i].name, r->opts->names[n]) == 0)
                break;
        if (i == cfg->certificate_count)
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
                    "is gone",
                    db_path);
    return 0;
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
    s->account_key_type = KEY_TYPE_DEFAULT;
    for (size_t i = 0; i < cfg->contact_count && i < ACME_MAX_CONTACTS; i++)
        s->contact[s->contact_count++] = cfg->contact[i];
}

int renew_run(const struct config *cfg, const struct renew_options *opts,
              struct renew_summary *summary, struct errbuf *err)
{
    struct run r;
    pthread_t threads[RENEW_MAX_JOBS];
    int lock_fd = -1, jobs, rc = -1;
    size_t started = 0;

    memset(&r, 0, sizeof(r));
    memset(summary, 0, sizeof(*summary));
    r.cfg = cfg;
    r.opts = opts;
    r.summary = summary;
    pthread_mutex_init(&r.lock, NULL);
    settings_from(cfg, &r.acme);
    if (select_certificates(&r, err) < 0)
        goto out;
    /* A dry run changes nothing, the lock file included; it may run beside a real run. */
    if (!opts->dry_run && take_lock(cfg->state_dir, &lock_fd, err) < 0)
        goto out;
    if (open_state(&r, err) < 0)
        goto out;
    summary->items = calloc(r.selected_count + 1, sizeof(*summary->items));
    if (!summary->items) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    summary->count = r.selected_count;
    if (r.selected_count && !opts->dry_run) {
        if (acme_session_open(&r.acme, SESSION_AUTO_REGISTER, &r.session) < 0) {
            errbuf_set(err, "cannot use the ACME account at %s (see above)", cfg->server);
            goto out;
        }
        r.have_account = 1;
    }
    jobs = opts->jobs > 0 ? opts->jobs : RENEW_DEFAULT_JOBS;
    if (jobs > RENEW_MAX_JOBS)
        jobs = RENEW_MAX_JOBS;
    if ((size_t)jobs > r.selected_count)
        jobs = (int)r.selected_count;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[started], NULL, job, &r) == 0)
            started++;
    if (started == 0 && r.selected_count)
        job(&r);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < summary->count; i++) {
        summary->renewed += summary->items[i].status == RENEW_RENEWED;
        summary->failed += summary->items[i].status == RENEW_FAILED;
        summary->not_due += summary->items[i].status == RENEW_NOT_DUE;
    }
    rc = 0;
out:
    if (rc < 0)
        renew_summary_free(summary);
    for (size_t i = 0; i < r.responder_count; i++)
        if (!r.responders[i].failed)
            r.responders[i].solver.ops->destroy(&r.responders[i].solver);
    if (r.have_account)
        acme_session_close(&r.session);
    state_close(r.db);
    free(r.selected);
    if (lock_fd >= 0)
        close(lock_fd);
    pthread_mutex_destroy(&r.lock);
    return rc;
}

void renew_summary_free(struct renew_summary *s)
{
    free(s->items);
    memset(s, 0, sizeof(*s));
}

int renew_task_run(const struct config *cfg, const char *cert_name, const char *task_name,
                   int dry_run, FILE *out, struct errbuf *err)
{
    const struct config_certificate *cert = config_find_certificate(cfg, cert_name);
    const struct config_task *task = NULL;
    struct renew_options opts = {.dry_run = dry_run, .out = out};
    struct renew_outcome outcome = {0};
    struct run r;
    struct cert_paths paths;
    struct cert_summary sum = {0};
    struct task_env env;
    struct task_result res;
    X509 *live = NULL;
    int rc = -1;

    if (!cert)
        return errbuf_set(err, "no certificate \"%s\" in %s", cert_name, cfg->path);
    for (size_t i = 0; i < cfg->task_count && !task; i++)
        if (strcmp(cfg->tasks[i].certificate, cert_name) == 0 &&
            strcmp(cfg->tasks[i].name, task_name) == 0)
            task = &cfg->tasks[i];
    if (!task)
        return errbuf_set(err, "certificate %s has no task \"%s\"", cert_name, task_name);
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = &opts;
    pthread_mutex_init(&r.lock, NULL);
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
    fill_env(&env, cfg, cert, &paths, live, sum.thumbprint, sum.not_after, time(NULL));
    env.renewal_ok = 1;
    env.manual = 1;
    env.dry_run = dry_run;
    task_run(task, &env, &res);
    res.ran = 1;
    {
        struct task_report_ctx ctx = {&r, cert_name, &outcome};
        record_task(&ctx, task, &res);
    }
    rc = res.ok ? 0 : errbuf_set(err, "task %s of %s failed: %s", task_name, cert_name,
                                 res.message);
out:
    state_close(r.db);
    X509_free(live);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
