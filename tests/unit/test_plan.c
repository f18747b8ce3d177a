/* Unit tests for src/manage/plan.c: which certificates a run leaves alone. One certificate per
 * reason to look, against a real state database and real live links; each would be quiet but for
 * the one thing its name says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "manage/plan.h"
#include "testcert.h"

#define DAY 86400
#define NB ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define NA (NB + 90 * DAY)
#define NOW (NB + 10 * DAY) /* well before the 75% point */

/* name, and what differs from a quiet certificate */
static const char *const names[] = {
    "quiet",        /* settled record, live link on its serial, task delivered: left alone */
    "on-error",     /* also quiet: its undelivered task fires on errors only (never owed) */
    "pending",      /* an order's key is recorded */
    "no-record",    /* the state has no record */
    "no-link",      /* no live link */
    "other-serial", /* the live link names another serial */
    "owed",         /* its task delivered another certificate */
    "never-ran",    /* its task never ran */
    "due",          /* the policy says due */
    "ari",          /* an ARI question is due (looked at only when a CA is configured) */
};
#define COUNT (sizeof(names) / sizeof(names[0]))

struct fixture {
    char *tmp;
    char state[4096];
    struct config cfg;
    struct config_certificate certs[COUNT];
    struct config_task tasks[COUNT];
    struct state_db *db;
    unsigned char look[COUNT];
    int quiet_seen[COUNT];
    time_t quiet_not_after[COUNT];
};

static void must(int rc, const struct errbuf *err)
{
    if (rc < 0)
        fail_msg("%s", err->msg);
}

static void live_link(struct fixture *f, const char *name, const char *serial)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/certs/%s", f->state, name);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/certs/%s/live", f->state, name);
    assert_int_equal(symlink(serial, path), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err = {""};
    char path[4200];

    f->tmp = testcert_tmpdir();
    snprintf(f->state, sizeof(f->state), "%s/state", f->tmp);
    must(state_open(f->state, STATE_OPEN_CREATE, NULL, &f->db, &err), &err);
    snprintf(path, sizeof(path), "%s/certs", f->state);
    assert_int_equal(mkdir(path, 0700), 0);
    for (size_t i = 0; i < COUNT; i++) {
        const char *n = names[i];
        struct cert_record rec = {0};
        struct state_task_run run = {.cert = n,
                                     .task = "ccs",
                                     .when = NB + 1,
                                     .ok = 1,
                                     .delivered = "AAAA",
                                     .message = "delivered"};

        f->certs[i].name = (char *)n;
        f->certs[i].policy = (struct renewal_policy){RENEWAL_PERCENT_OF_LIFETIME, 75};
        f->tasks[i].name = (char *)"ccs";
        f->tasks[i].certificate = (char *)n;
        f->tasks[i].phase = TASK_PHASE_POST;
        f->tasks[i].trigger = strcmp(n, "on-error") == 0 ? TRIGGER_ON_ERROR : TRIGGER_ON_SUCCESS;
        if (strcmp(n, "no-link") != 0)
            live_link(f, n, strcmp(n, "other-serial") == 0 ? "02" : "01");
        if (strcmp(n, "no-record") == 0)
            continue;
        snprintf(rec.name, sizeof(rec.name), "%s", n);
        snprintf(rec.serial, sizeof(rec.serial), "01");
        snprintf(rec.thumbprint, sizeof(rec.thumbprint), "AAAA");
        rec.not_before = NB;
        rec.not_after = strcmp(n, "due") == 0 ? NB + 12 * DAY : NA;
        rec.last_renewal = NB;
        rec.last_ok = 1;
        rec.ari_next_check = strcmp(n, "ari") == 0 ? NOW : NOW + DAY;
        if (strcmp(n, "pending") == 0)
            snprintf(rec.pending_key, sizeof(rec.pending_key), "%s/pending/privkey.pem", n);
        must(state_cert_put(f->db, &rec, &err), &err);
        if (strcmp(n, "never-ran") == 0)
            continue;
        if (strcmp(n, "owed") == 0 || strcmp(n, "on-error") == 0)
            run.delivered = "BBBB";
        must(state_task_run_record(f->db, &run, &err), &err);
    }
    f->cfg.state_dir = f->state;
    f->cfg.certificates = f->certs;
    f->cfg.certificate_count = COUNT;
    f->cfg.tasks = f->tasks;
    f->cfg.task_count = COUNT;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    state_close(f->db);
    testcert_rmdir(f->tmp);
    free(f);
    return 0;
}

static void on_quiet(void *ctx, size_t i, time_t not_after, const struct policy_decision *d)
{
    struct fixture *f = ctx;
    assert_true(i < COUNT);
    assert_false(d->due);
    f->quiet_seen[i]++;
    f->quiet_not_after[i] = not_after;
}

static const char *looked_at(struct fixture *f)
{
    static char out[512];
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < COUNT; i++) {
        assert_int_equal(f->quiet_seen[i], !f->look[i]); /* quiet ones reported once each */
        if (f->look[i])
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? " " : "", names[i]);
    }
    return out;
}

static void test_without_ca(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};

    must(plan_renewals(&f->cfg, f->db, NOW, f->look, on_quiet, f, &err), &err);
    assert_string_equal(looked_at(f), "pending no-record no-link other-serial owed never-ran due");
    assert_int_equal(f->quiet_not_after[0], NA); /* the record's expiry, for the summary */
}

static void test_with_ca_the_ari_question(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};

    f->cfg.server = (char *)"https://ca.example/directory";
    must(plan_renewals(&f->cfg, f->db, NOW, f->look, on_quiet, f, &err), &err);
    assert_string_equal(looked_at(f),
                        "pending no-record no-link other-serial owed never-ran due ari");
}

/* Later, the policy's point passed: every certificate is due, none is left alone. */
static void test_all_due(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};

    must(plan_renewals(&f->cfg, f->db, NA - DAY, f->look, on_quiet, f, &err), &err);
    assert_string_equal(looked_at(f), "quiet on-error pending no-record no-link other-serial owed "
                                      "never-ran due ari");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_without_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_ca_the_ari_question, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_due, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
