/* status.c — the view of `ccs status` (status.h): the state's rows put in their certificate's place
 * by name through a map, the live certificate from the record when the live link names its serial,
 * the policy's decision, and the owed and failing tasks from the task states. */
#include "manage/status.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manage/cert_tasks.h"
#include "manage/certfiles.h"
#include "manage/owed.h"
#include "store/certinfo.h"

/* What the state holds of one certificate, as the view needs it. Strings never NULL. */
struct facts {
    int found;
    const char *serial, *thumbprint, *last_message;
    time_t not_before, not_after, last_renewal, ari_start, ari_end, last_attempt, next_attempt;
    int last_ok, failure_count;
};

/* Buffers one certificate's view is built in, reused from one certificate to the next. */
struct scratch {
    const struct config_task **tasks; /* the certificate's tasks, configuration order */
    size_t task_count, task_cap;
    struct task_brief *states; /* its task states, by task name */
    size_t state_count, state_cap;
    struct status_run *runs;
    size_t run_count, run_cap;
    struct status_owed *owed;
    size_t owed_cap;
    const char **failing;
    size_t failing_cap;
    int certs_fd; /* STATE/certs (certfiles_certs_dir) */
};

#define GROW(arr, count, cap) ((count) < (cap) ? 0 : grow((void **)&(arr), &(cap), sizeof(*(arr))))

static int grow(void **arr, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 8;
    void *p = n <= SIZE_MAX / size ? realloc(*arr, n * size) : NULL;

    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static void scratch_free(struct scratch *s)
{
    free(s->tasks);
    free(s->states);
    free(s->runs);
    free(s->owed);
    free(s->failing);
    if (s->certs_fd >= 0)
        close(s->certs_fd);
}

static const struct task_brief *state_of(const struct scratch *s, const char *task)
{
    for (size_t i = 0; i < s->state_count; i++) /* one certificate's tasks: a handful */
        if (strcmp(s->states[i].task, task) == 0)
            return &s->states[i];
    return NULL;
}

/* The live certificate of CERT into V: from F when the live link names F's serial, else from the
 * file (SUM holds it then). */
static void find_live(const struct config *cfg, int certs_fd, const struct config_certificate *cert,
                      const struct facts *f, struct cert_summary *sum, struct status_view *v)
{
    char serial[sizeof(sum->serial)];
    struct cert_paths paths;
    struct errbuf err;
    X509 *live = NULL;

    if (!certfiles_live_serial(certs_fd, cert->name, serial, sizeof(serial)))
        return; /* never issued */
    if (f->found && f->thumbprint[0] && strcmp(serial, f->serial) == 0) {
        v->live = 1;
        v->serial = f->serial;
        v->thumbprint = f->thumbprint;
        v->not_before = f->not_before;
        v->not_after = f->not_after;
        return;
    }
    if (certfiles_paths(cfg->state_dir, cert->name, &paths, &err) < 0 ||
        certfiles_load_live(&paths, &live, &err) < 0 || !live ||
        cert_summarise(live, sum, &err) < 0) {
        X509_free(live);
        return;
    }
    X509_free(live);
    v->live = 1;
    v->serial = sum->serial;
    v->thumbprint = sum->thumbprint;
    v->not_before = sum->not_before;
    v->not_after = sum->not_after;
}

/* The view of CERT from F and the scratch's tasks, task states and runs; then FN. */
static int emit(const struct config *cfg, const struct config_certificate *cert,
                const struct facts *f, struct scratch *s, const struct status_request *req,
                status_fn fn, void *ctx, struct errbuf *err)
{
    struct status_view v = {.cert = cert, .serial = "", .thumbprint = ""};
    struct cert_summary sum;
    struct policy_input in;
    time_t lifetime;

    find_live(cfg, s->certs_fd, cert, f, &sum, &v);
    v.last_ok = f->found ? f->last_ok : -1;
    v.failure_count = f->failure_count;
    v.last_message = f->last_message;
    in = (struct policy_input){
        .now = req->now,
        .has_cert = v.live,
        .not_before = v.not_before,
        .not_after = v.not_after,
        .last_renewal = f->last_renewal,
        .policy = cert->policy,
        .has_ari = f->ari_start && f->ari_end > f->ari_start,
        .ari_start = f->ari_start,
        .ari_end = f->ari_end,
        /* only an ARI window uses it: a SHA-256 less per certificate without one */
        .unit_random = (f->ari_start && f->ari_end > f->ari_start)
                           ? policy_unit_random(cert->name, v.serial)
                           : 0,
        .failure_count = f->failure_count,
        .last_attempt = f->last_attempt,
        .retry_not_before = f->next_attempt};
    policy_decide(&in, &v.decision);

    /* Owed (owed.h): a post task firing on success whose last delivery is not the live one. */
    while (s->owed_cap < s->task_count)
        if (grow((void **)&s->owed, &s->owed_cap, sizeof(*s->owed)) < 0)
            return errbuf_set(err, "certificate %s: status: out of memory", cert->name);
    while (s->failing_cap < s->state_count)
        if (grow((void **)&s->failing, &s->failing_cap, sizeof(*s->failing)) < 0)
            return errbuf_set(err, "certificate %s: status: out of memory", cert->name);
    lifetime = v.not_after > v.not_before ? v.not_after - v.not_before : 0;
    for (size_t i = 0; v.live && i < s->task_count; i++) {
        const struct config_task *task = s->tasks[i];
        const struct task_brief *t;
        struct status_owed *o;
        if (!owed_applies(task))
            continue;
        t = state_of(s, task->name);
        if (t && strcmp(t->delivered, v.thumbprint) == 0)
            continue;
        o = &s->owed[v.owed_count++];
        memset(o, 0, sizeof(*o));
        o->task = task;
        o->last_message = t ? t->last_message : "";
        if (t) {
            o->failure_count = t->failure_count;
            o->last_attempt = t->last_attempt;
            o->retry_at = policy_backoff_until(t->failure_count, t->last_attempt, lifetime);
        }
    }
    for (size_t i = 0; i < s->state_count; i++)
        if (s->states[i].last_ok == 0)
            s->failing[v.failing_count++] = s->states[i].task;
    v.owed = s->owed;
    v.failing = s->failing;
    v.runs = s->runs;
    v.run_count = s->run_count;
    return fn(ctx, &v);
}

/* ---- the certificates named: each with its own queries -------------------------------------- */

static int one(const struct config *cfg, struct state_db *db, const char *name,
               const struct status_request *req, struct scratch *s, status_fn fn, void *ctx,
               struct errbuf *err)
{
    const struct config_certificate *cert = config_find_certificate(cfg, name);
    struct cert_record rec;
    struct task_record *records = NULL;
    struct history_row *rows = NULL;
    size_t nrecords = 0, nrows = 0;
    struct facts f = {.serial = "", .thumbprint = "", .last_message = "", .last_ok = -1};
    int ret = -1;

    if (!cert)
        return errbuf_set(err, "no certificate \"%s\" in %s", name, cfg->path);
    s->task_count = s->state_count = s->run_count = 0;
    for (size_t i = cert_tasks_first(cfg, NULL, cert); i != CERT_TASKS_END;
         i = cert_tasks_next(cfg, NULL, cert, i)) {
        if (GROW(s->tasks, s->task_count, s->task_cap) < 0)
            goto oom;
        s->tasks[s->task_count++] = &cfg->tasks[i];
    }
    if (db) {
        if (state_cert_get(db, name, &rec, &f.found, err) < 0 ||
            state_task_records(db, name, &records, &nrecords, err) < 0 ||
            (req->with_runs &&
             state_task_runs(db, name, STATUS_RECENT_RUNS, &rows, &nrows, err) < 0))
            goto out;
        f = (struct facts){.found = f.found,
                           .serial = rec.serial,
                           .thumbprint = rec.thumbprint,
                           .last_message = rec.last_message,
                           .not_before = rec.not_before,
                           .not_after = rec.not_after,
                           .last_renewal = rec.last_renewal,
                           .ari_start = rec.ari_start,
                           .ari_end = rec.ari_end,
                           .last_attempt = rec.last_attempt,
                           .next_attempt = rec.next_attempt,
                           .last_ok = rec.last_ok,
                           .failure_count = rec.failure_count};
    }
    for (size_t i = 0; i < nrecords; i++) {
        if (GROW(s->states, s->state_count, s->state_cap) < 0)
            goto oom;
        s->states[s->state_count++] = (struct task_brief){.cert = name,
                                                          .task = records[i].task,
                                                          .delivered = records[i].delivered,
                                                          .last_message = records[i].last_message,
                                                          .failure_count = records[i].failure_count,
                                                          .last_ok = records[i].last_ok,
                                                          .last_attempt = records[i].last_attempt};
    }
    for (size_t i = 0; i < nrows; i++) {
        if (GROW(s->runs, s->run_count, s->run_cap) < 0)
            goto oom;
        s->runs[s->run_count++] = (struct status_run){.task = rows[i].task,
                                                      .when = rows[i].when,
                                                      .ok = rows[i].ok,
                                                      .message = rows[i].message};
    }
    ret = emit(cfg, cert, &f, s, req, fn, ctx, err);
    goto out;
oom:
    errbuf_set(err, "certificate %s: status: out of memory", name);
out:
    free(records);
    free(rows);
    return ret;
}

/* ---- every certificate: three scans, rows placed by name ------------------------------------ */

struct task_node {
    struct task_node *next;
    char *task, *last_message;
    char delivered[41];
    int failure_count, last_ok;
    time_t last_attempt;
};

struct run_node {
    struct run_node *next;
    char *task, *message;
    time_t when;
    int ok;
};

/* One certificate's place. Strings NULL for "". */
struct slot {
    char *serial, *thumbprint, *last_message;
    time_t not_before, not_after, last_renewal, ari_start, ari_end, last_attempt, next_attempt;
    int found, last_ok, failure_count;
    struct task_node *tasks, **tasks_end; /* by task name, as the scan gives them */
    struct run_node *runs, **runs_end;    /* newest first */
};

struct all {
    const struct config *cfg;
    struct slot *slots; /* per certificate of cfg, found by name with cert_index */
    int oom;
};

static char *dup_or_null(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static struct slot *slot_of(struct all *a, const char *name)
{
    size_t i = cert_index(a->cfg, name);

    return i == SIZE_MAX ? NULL : &a->slots[i];
}

static int put_cert(void *ctx, const struct cert_brief *c)
{
    struct all *a = ctx;
    struct slot *s = slot_of(a, c->name);

    if (!s)
        return 0; /* in the state, no longer in the configuration */
    s->found = 1;
    s->not_before = c->not_before;
    s->not_after = c->not_after;
    s->last_renewal = c->last_renewal;
    s->ari_start = c->ari_start;
    s->ari_end = c->ari_end;
    s->last_attempt = c->last_attempt;
    s->next_attempt = c->next_attempt;
    s->last_ok = c->last_ok;
    s->failure_count = c->failure_count;
    s->serial = dup_or_null(c->serial);
    s->thumbprint = dup_or_null(c->thumbprint);
    s->last_message = dup_or_null(c->last_message);
    if ((c->serial[0] && !s->serial) || (c->thumbprint[0] && !s->thumbprint) ||
        (c->last_message[0] && !s->last_message))
        return a->oom = -1;
    return 0;
}

static int put_task(void *ctx, const struct task_brief *t)
{
    struct all *a = ctx;
    struct slot *s = slot_of(a, t->cert);
    struct task_node *n;

    if (!s)
        return 0;
    n = calloc(1, sizeof(*n));
    if (!n)
        return a->oom = -1;
    *s->tasks_end = n;
    s->tasks_end = &n->next;
    snprintf(n->delivered, sizeof(n->delivered), "%s", t->delivered);
    n->failure_count = t->failure_count;
    n->last_ok = t->last_ok;
    n->last_attempt = t->last_attempt;
    n->task = strdup(t->task);
    n->last_message = dup_or_null(t->last_message);
    if (!n->task || (t->last_message[0] && !n->last_message))
        return a->oom = -1;
    return 0;
}

static int put_run(void *ctx, const struct run_brief *r)
{
    struct all *a = ctx;
    struct slot *s = slot_of(a, r->cert);
    struct run_node *n;

    if (!s)
        return 0;
    n = calloc(1, sizeof(*n));
    if (!n)
        return a->oom = -1;
    *s->runs_end = n;
    s->runs_end = &n->next;
    n->when = r->when;
    n->ok = r->ok;
    n->task = strdup(r->task);
    n->message = dup_or_null(r->message);
    if (!n->task || (r->message[0] && !n->message))
        return a->oom = -1;
    return 0;
}

static void slot_free(struct slot *s)
{
    for (struct task_node *n = s->tasks, *next; n; n = next) {
        next = n->next;
        free(n->task);
        free(n->last_message);
        free(n);
    }
    for (struct run_node *n = s->runs, *next; n; n = next) {
        next = n->next;
        free(n->task);
        free(n->message);
        free(n);
    }
    free(s->serial);
    free(s->thumbprint);
    free(s->last_message);
    memset(s, 0, sizeof(*s));
}

/* Certificate I's view from its slot and its tasks in CT. */
static int emit_slot(struct all *a, size_t i, const struct cert_tasks *ct,
                     const struct status_request *req, struct scratch *s, status_fn fn, void *ctx,
                     struct errbuf *err)
{
    const struct config *cfg = a->cfg;
    struct slot *sl = &a->slots[i];
    struct facts f = {.found = sl->found,
                      .serial = or_empty(sl->serial),
                      .thumbprint = or_empty(sl->thumbprint),
                      .last_message = or_empty(sl->last_message),
                      .not_before = sl->not_before,
                      .not_after = sl->not_after,
                      .last_renewal = sl->last_renewal,
                      .ari_start = sl->ari_start,
                      .ari_end = sl->ari_end,
                      .last_attempt = sl->last_attempt,
                      .next_attempt = sl->next_attempt,
                      .last_ok = sl->found ? sl->last_ok : -1,
                      .failure_count = sl->failure_count};
    int ret;

    s->task_count = s->state_count = s->run_count = 0;
    for (size_t t = ct->first[i]; t != CERT_TASKS_END; t = ct->next[t]) {
        if (GROW(s->tasks, s->task_count, s->task_cap) < 0)
            goto oom;
        s->tasks[s->task_count++] = &cfg->tasks[t];
    }
    for (struct task_node *n = sl->tasks; n; n = n->next) {
        if (GROW(s->states, s->state_count, s->state_cap) < 0)
            goto oom;
        s->states[s->state_count++] = (struct task_brief){.task = n->task,
                                                          .delivered = n->delivered,
                                                          .last_message = or_empty(n->last_message),
                                                          .failure_count = n->failure_count,
                                                          .last_ok = n->last_ok,
                                                          .last_attempt = n->last_attempt};
    }
    for (struct run_node *n = sl->runs; n; n = n->next) {
        if (GROW(s->runs, s->run_count, s->run_cap) < 0)
            goto oom;
        s->runs[s->run_count++] = (struct status_run){
            .task = n->task, .message = or_empty(n->message), .when = n->when, .ok = n->ok};
    }
    ret = emit(cfg, &cfg->certificates[i], &f, s, req, fn, ctx, err);
    slot_free(sl); /* done with it: the memory goes back as the walk goes on */
    return ret;
oom:
    return errbuf_set(err, "certificate %s: status: out of memory", cfg->certificates[i].name);
}

static int every(const struct config *cfg, struct state_db *db, const struct status_request *req,
                 struct scratch *s, status_fn fn, void *ctx, struct errbuf *err)
{
    struct all a = {.cfg = cfg};
    struct cert_tasks ct = {0};
    size_t n = cfg->certificate_count;
    int ret = -1;

    a.slots = calloc(n + 1, sizeof(*a.slots));
    if (!a.slots || cert_tasks_build(cfg, &ct) < 0)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        a.slots[i].tasks_end = &a.slots[i].tasks;
        a.slots[i].runs_end = &a.slots[i].runs;
    }
    if (db && (state_cert_scan(db, put_cert, &a, err) != 0 ||
               state_task_scan(db, put_task, &a, err) != 0 ||
               (req->with_runs &&
                state_recent_runs_scan(db, STATUS_RECENT_RUNS, put_run, &a, err) != 0))) {
        if (a.oom)
            goto oom;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((ret = emit_slot(&a, i, &ct, req, s, fn, ctx, err)) != 0)
            goto out;
    ret = 0;
    goto out;
oom:
    ret = errbuf_set(err, "status of %zu certificates: out of memory", n);
out:
    if (a.slots)
        for (size_t i = 0; i < n; i++)
            slot_free(&a.slots[i]);
    free(a.slots);
    cert_tasks_free(&ct);
    return ret;
}

int status_each(const struct config *cfg, struct state_db *db, const struct status_request *req,
                status_fn fn, void *ctx, struct errbuf *err)
{
    struct scratch s = {.certs_fd = certfiles_certs_dir(cfg->state_dir)};
    int ret = 0;

    if (req->names && req->name_count) {
        for (size_t i = 0; i < req->name_count; i++) /* all known before any is shown */
            if (!config_find_certificate(cfg, req->names[i]))
                return errbuf_set(err, "no certificate \"%s\" in %s", req->names[i], cfg->path);
        for (size_t i = 0; i < req->name_count && ret == 0; i++)
            ret = one(cfg, db, req->names[i], req, &s, fn, ctx, err);
    } else {
        ret = every(cfg, db, req, &s, fn, ctx, err);
    }
    scratch_free(&s);
    return ret;
}
