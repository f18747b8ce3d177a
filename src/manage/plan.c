/* plan.c — the renewal plan (plan.h): the state's records put in their certificate's place by
 * name, the task states checked against each certificate's tasks, then one decision a
 * certificate. */
#include "manage/plan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manage/cert_tasks.h"
#include "manage/certfiles.h"
#include "manage/owed.h"
#include "store/certinfo.h"

/* What the plan keeps of a certificate's record. */
struct record {
    char *serial; /* NULL: no settled record (none, no certificate, or an order pending) */
    char thumbprint[THUMBPRINT_HEX_LEN + 1];
    time_t not_before, not_after, last_renewal, ari_start, ari_end, ari_next_check;
    time_t last_attempt, next_attempt;
    int failure_count;
};

struct planner {
    const struct config *cfg;
    struct cert_tasks ct;
    struct record *records;   /* per certificate */
    unsigned char *delivered; /* per task: its last delivery is the record's certificate */
    int oom;
};

static int take_record(void *ctx, const struct cert_brief *c)
{
    struct planner *p = ctx;
    size_t i = cert_index(p->cfg, c->name);
    struct record *r;

    if (i == SIZE_MAX || c->pending || !c->serial[0] || !c->thumbprint[0] ||
        strlen(c->thumbprint) > THUMBPRINT_HEX_LEN)
        return 0; /* not ours any more, or not settled: looked at */
    r = &p->records[i];
    if (!(r->serial = strdup(c->serial)))
        return p->oom = -1;
    memcpy(r->thumbprint, c->thumbprint, strlen(c->thumbprint) + 1);
    r->not_before = c->not_before;
    r->not_after = c->not_after;
    r->last_renewal = c->last_renewal;
    r->ari_start = c->ari_start;
    r->ari_end = c->ari_end;
    r->ari_next_check = c->ari_next_check;
    r->last_attempt = c->last_attempt;
    r->next_attempt = c->next_attempt;
    r->failure_count = c->failure_count;
    return 0;
}

static int take_task(void *ctx, const struct task_brief *t)
{
    struct planner *p = ctx;
    size_t i = cert_index(p->cfg, t->cert);

    if (i == SIZE_MAX || !p->records[i].serial || strcmp(t->delivered, p->records[i].thumbprint))
        return 0;
    for (size_t k = p->ct.first[i]; k != CERT_TASKS_END; k = p->ct.next[k])
        if (strcmp(p->cfg->tasks[k].name, t->task) == 0)
            p->delivered[k] = 1;
    return 0;
}

/* Whether certificate I can be left alone; its decision in *D. */
static int quiet(const struct planner *p, int certs_fd, size_t i, time_t now,
                 struct policy_decision *d)
{
    const struct config_certificate *cert = &p->cfg->certificates[i];
    const struct record *r = &p->records[i];
    char serial[130];
    struct policy_input in;

    if (!r->serial || !certfiles_live_serial(certs_fd, cert->name, serial, sizeof(serial)) ||
        strcmp(serial, r->serial) != 0)
        return 0;
    if (p->cfg->server && r->ari_next_check <= now)
        return 0;
    for (size_t k = p->ct.first[i]; k != CERT_TASKS_END; k = p->ct.next[k])
        if (owed_applies(&p->cfg->tasks[k]) && !p->delivered[k])
            return 0;
    in = (struct policy_input){
        .now = now,
        .has_cert = 1,
        .not_before = r->not_before,
        .not_after = r->not_after,
        .last_renewal = r->last_renewal,
        .policy = cert->policy,
        .has_ari = r->ari_start && r->ari_end > r->ari_start,
        .ari_start = r->ari_start,
        .ari_end = r->ari_end,
        /* only an ARI window uses it: a SHA-256 less per certificate without one */
        .unit_random = (r->ari_start && r->ari_end > r->ari_start)
                           ? policy_unit_random(cert->name, r->serial)
                           : 0,
        .failure_count = r->failure_count,
        .last_attempt = r->last_attempt,
        .retry_not_before = r->next_attempt};
    policy_decide(&in, d);
    return !d->due;
}

int plan_renewals(const struct config *cfg, struct state_db *db, time_t now, unsigned char *look,
                  plan_quiet_fn quiet_fn, void *ctx, struct errbuf *err)
{
    struct planner p = {.cfg = cfg};
    size_t n = cfg->certificate_count;
    int certs_fd = -1, ret = -1;

    memset(look, 1, n);
    p.records = calloc(n + 1, sizeof(*p.records));
    p.delivered = calloc(cfg->task_count + 1, 1);
    if (!p.records || !p.delivered || cert_tasks_build(cfg, &p.ct) < 0)
        goto oom;
    if (state_cert_scan(db, take_record, &p, err) != 0 ||
        state_task_scan(db, take_task, &p, err) != 0) {
        if (p.oom)
            goto oom;
        goto out;
    }
    certs_fd = certfiles_certs_dir(cfg->state_dir);
    for (size_t i = 0; i < n; i++) {
        struct policy_decision d;
        if (quiet(&p, certs_fd, i, now, &d)) {
            look[i] = 0;
            quiet_fn(ctx, i, p.records[i].not_after, &d);
        }
    }
    ret = 0;
    goto out;
oom:
    errbuf_set(err, "the renewal plan of %zu certificates: out of memory", n);
out:
    if (ret < 0)
        memset(look, 1, n);
    if (certs_fd >= 0)
        close(certs_fd);
    for (size_t i = 0; p.records && i < n; i++)
        free(p.records[i].serial);
    free(p.records);
    free(p.delivered);
    cert_tasks_free(&p.ct);
    return ret;
}
