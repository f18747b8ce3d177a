/* clang-format off */
/* manage_state — the state of N managed certificates, written through ccs's own state code, for
 * bench/manage-scale and the scale test (tests/e2e/test_manage_scale.sh); and the checker that
 * compares `ccs status --json` with what it wrote, row by row.
 *
 *   manage_state make STATE_DIR N DUE [mixed]   write the state of cert-0 .. cert-(N-1)
 *   manage_state check STATE_DIR N DUE [mixed]  read `ccs status --json` on stdin, compare
 *
 * The names are bench/lib/gen-config.sh's: certificate cert-I, one deploy-ccs task cert-I.ccs, the
 * default renewal policy (75% of the lifetime). Two real certificates (self-signed, P-256) are made
 * and their files written once under STATE_DIR/bench-sets/SERIAL/; each certificate's directory
 * is a link to one of two shared directories (make_dir) whose live link names that serial, as
 * certfiles_install leaves it. The last DUE certificates hold the OLD one (5 days left: due); the
 * others the FRESH one (80 days left). Without "mixed" every other certificate is renewed and
 * delivered: nothing owed, not due. With "mixed", certificates are put in classes by their number,
 * so that every field of the status differs between neighbours and a row given another's data is
 * caught:
 *   I % 13 == 7   never issued: no record, no files
 *   I % 7 == 3    its last renewal failed (1 + I % 3 consecutive failures)
 *   I % 11 == 5   its task failed twice: owed and failing
 *   I % 17 == 9   its task never ran: owed
 *   I % 19 == 4   the record names another serial (a run killed between the switch and the
 *                 record): the status must read the live file, not the record
 * `make` prints nothing but errors; `check` prints the mismatches (at most 20) and exits 1 on any.
 * Times are chosen half a day from any day boundary, so that `check` agrees with a status taken
 * a few minutes earlier. */
/* clang-format on */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "manage/config.h"
#include "manage/policy.h"
#include "manage/state.h"
#include "store/certinfo.h"
#include "testcert.h"

#define DAY 86400
#define MAX_REPORTED 20
#define NEXT_RENEWAL_SLACK_S 600 /* a due row's next renewal is "now": the status's now */

enum set_kind { SET_FRESH, SET_OLD };

struct cert_set {
    struct cert_summary sum;
};

struct gen {
    const char *state_dir;
    long n, due;
    int mixed;
    time_t now;
    struct cert_set sets[2];
};

/* ---- the classes ------------------------------------------------------------------------------
 */

static int is_due(const struct gen *g, long i)
{
    return i >= g->n - g->due;
}
static int is_never(const struct gen *g, long i)
{
    return g->mixed && !is_due(g, i) && i % 13 == 7;
}
static int is_failed(const struct gen *g, long i)
{
    return g->mixed && i % 7 == 3;
}
static int is_task_failed(const struct gen *g, long i)
{
    return g->mixed && i % 11 == 5;
}
static int is_task_never(const struct gen *g, long i)
{
    return g->mixed && !is_task_failed(g, i) && i % 17 == 9;
}
static int is_stale(const struct gen *g, long i)
{
    return g->mixed && i % 19 == 4;
}

static const struct cert_summary *set_of(const struct gen *g, long i)
{
    return &g->sets[is_due(g, i) ? SET_OLD : SET_FRESH].sum;
}

/* ---- make ---------------------------------------------------------------------------------------
 */

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f)
        return -1;
    ok = (!cert || PEM_write_X509(f, cert)) &&
         (!key || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A certificate set under STATE/bench-sets/SERIAL, and its summary. */
static int make_set(struct gen *g, enum set_kind kind)
{
    time_t nb = kind == SET_OLD ? g->now - 85 * DAY : g->now - 10 * DAY;
    time_t na = (kind == SET_OLD ? g->now + 5 * DAY : g->now + 80 * DAY) + DAY / 2;
    struct pfx_bundle b = {0};
    struct errbuf err;
    char dir[4096], path[4200];
    int rc = -1;

    testcert_leaf(&b, NULL, kind == SET_OLD ? "old.bench" : "fresh.bench", "DNS:bench.example", nb,
                  na);
    if (cert_summarise(b.cert, &g->sets[kind].sum, &err) < 0) {
        fprintf(stderr, "manage_state: %s\n", err.msg);
        goto out;
    }
    snprintf(dir, sizeof(dir), "%s/bench-sets", g->state_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof(dir), "%s/bench-sets/%s", g->state_dir, g->sets[kind].sum.serial);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    if (write_pem(path, b.cert, NULL) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/fullchain.pem", dir);
    if (write_pem(path, b.cert, NULL) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/chain.pem", dir);
    if (write_pem(path, NULL, NULL) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/privkey.pem", dir);
    if (write_pem(path, NULL, b.key) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "manage_state: %s: %s\n", dir, strerror(errno));
out:
    pfx_bundle_free(&b);
    return rc;
}

/* STATE/certs/cert-I -> ../bench-dirs/KIND, where KIND holds {SERIAL -> ../../bench-sets/SERIAL,
 * live -> SERIAL} as certfiles_install leaves a certificate's directory: one inode per certificate
 * instead of three (a directory and two links), which on a busy ext4 is most of the time taken to
 * write 100,000 of them. Only dry runs and views may be pointed at such a state: a real run would
 * write into the directory the certificates share. */
static int make_dir(const struct gen *g, enum set_kind kind)
{
    const char *serial = g->sets[kind].sum.serial, *name = kind == SET_OLD ? "old" : "fresh";
    char dir[4096], path[4200], target[4200];

    snprintf(dir, sizeof(dir), "%s/bench-dirs", g->state_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        goto fail;
    snprintf(dir, sizeof(dir), "%s/bench-dirs/%s", g->state_dir, name);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        goto fail;
    snprintf(path, sizeof(path), "%s/%s", dir, serial);
    snprintf(target, sizeof(target), "../../bench-sets/%s", serial);
    if (symlink(target, path) < 0 && errno != EEXIST)
        goto fail;
    snprintf(path, sizeof(path), "%s/live", dir);
    if (symlink(serial, path) < 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "manage_state: %s: %s\n", dir, strerror(errno));
    return -1;
}

static int link_set(const struct gen *g, long i)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/certs/cert-%ld", g->state_dir, i);
    if (symlink(is_due(g, i) ? "../bench-dirs/old" : "../bench-dirs/fresh", path) < 0 &&
        errno != EEXIST) {
        fprintf(stderr, "manage_state: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int make_one(const struct gen *g, struct state_db *db, long i, struct errbuf *err)
{
    const struct cert_summary *s = set_of(g, i);
    struct cert_record rec = {0};
    char name[64], message[128];

    if (is_never(g, i))
        return 0;
    snprintf(name, sizeof(name), "cert-%ld", i);
    if (link_set(g, i) < 0)
        return errbuf_set(err, "cannot link the files of %s", name);
    snprintf(rec.name, sizeof(rec.name), "%s", name);
    snprintf(rec.serial, sizeof(rec.serial), "%s", is_stale(g, i) ? "00" : s->serial);
    snprintf(rec.thumbprint, sizeof(rec.thumbprint), "%s",
             is_stale(g, i) ? "stale" : s->thumbprint);
    rec.not_before = is_stale(g, i) ? g->now - 100 * DAY : s->not_before;
    rec.not_after = is_stale(g, i) ? g->now - 10 * DAY : s->not_after;
    rec.last_renewal = s->not_before;
    rec.ari_next_check = g->now + 30 * DAY; /* no ARI question to the CA in this run */
    rec.last_attempt = g->now - 3600;
    if (is_failed(g, i)) {
        rec.last_ok = 0;
        rec.failure_count = 1 + (int)(i % 3);
        snprintf(rec.last_message, sizeof(rec.last_message), "order failed: %s", name);
    } else {
        rec.last_ok = 1;
        snprintf(rec.last_message, sizeof(rec.last_message),
                 "renewed: https://ca.example/order/%ld", i);
    }
    if (state_cert_put(db, &rec, err) < 0)
        return -1;
    if (is_task_never(g, i))
        return 0;
    for (int k = 1; k <= (is_task_failed(g, i) ? 2 : 1); k++) {
        struct state_task_run run = {.cert = name, .task = "ccs", .when = g->now - 1800 + k};
        if (is_task_failed(g, i)) {
            snprintf(message, sizeof(message), "deploy failed: %s (%d)", name, k);
        } else {
            snprintf(message, sizeof(message), "deployed %s", name);
            run.ok = 1;
            run.delivered = s->thumbprint;
        }
        run.message = message;
        if (state_task_run_record(db, &run, err) < 0)
            return -1;
    }
    return 0;
}

static int make(struct gen *g)
{
    struct state_db *db = NULL;
    struct errbuf err;
    char dir[4200];
    int rc = -1;

    snprintf(dir, sizeof(dir), "%s/certs", g->state_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "manage_state: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (make_set(g, SET_FRESH) < 0 || make_set(g, SET_OLD) < 0 || make_dir(g, SET_FRESH) < 0 ||
        make_dir(g, SET_OLD) < 0)
        return -1;
    if (state_open(g->state_dir, STATE_OPEN_CREATE, NULL, &db, &err) < 0 ||
        state_batch_begin(db, &err) < 0)
        goto out;
    for (long i = 0; i < g->n; i++)
        if (make_one(g, db, i, &err) < 0)
            goto out;
    if (state_batch_end(db, &err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "manage_state: %s\n", err.msg);
    state_close(db);
    return rc;
}

/* ---- check --------------------------------------------------------------------------------------
 */

struct checker {
    const struct gen *g;
    long row;
    int bad;
};

static void mismatch(struct checker *c, const char *field, const char *want, const char *got)
{
    if (c->bad++ < MAX_REPORTED)
        fprintf(stderr, "row %ld (cert-%ld): %s: want %s, got %s\n", c->row, c->row, field, want,
                got);
}

static void expect_str(struct checker *c, json_t *obj, const char *field, const char *want)
{
    json_t *v = json_object_get(obj, field);
    const char *got = json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "?";

    if (strcmp(want ? want : "null", got) != 0)
        mismatch(c, field, want ? want : "null", got);
}

static void expect_int(struct checker *c, json_t *obj, const char *field, long long want)
{
    json_t *v = json_object_get(obj, field);
    char w[32], got[32];

    if (json_is_integer(v) && json_integer_value(v) == want)
        return;
    snprintf(w, sizeof(w), "%lld", want);
    snprintf(got, sizeof(got), "%lld", json_is_integer(v) ? (long long)json_integer_value(v) : -1);
    mismatch(c, field, w, got);
}

static void check_row(struct checker *c, json_t *row)
{
    const struct gen *g = c->g;
    long i = c->row;
    const struct cert_summary *s = set_of(g, i);
    int never = is_never(g, i), failed = is_failed(g, i);
    int task_failed = !never && is_task_failed(g, i), task_never = !never && is_task_never(g, i);
    struct policy_input in = {0};
    struct policy_decision d;
    char name[64], want[256], when[32];
    json_t *a, *t;

    snprintf(name, sizeof(name), "cert-%ld", i);
    expect_str(c, row, "name", name);
    snprintf(want, sizeof(want), "cert-%ld.example.com,www.cert-%ld.example.com", i, i);
    expect_str(c, row, "domains", want);
    expect_str(c, row, "state",
               never                       ? "never"
               : failed                    ? "failed"
               : task_failed || task_never ? "owed"
                                           : "ok");
    format_utc(s->not_after, when, sizeof(when));
    expect_str(c, row, "not_after", never ? NULL : when);
    expect_int(c, row, "days_left", never ? 0 : days_until(s->not_after, g->now));
    expect_str(c, row, "last_result", never ? "never" : failed ? "failed" : "ok");
    if (never)
        want[0] = '\0';
    else if (failed)
        snprintf(want, sizeof(want), "order failed: %s", name);
    else
        snprintf(want, sizeof(want), "renewed: https://ca.example/order/%ld", i);
    expect_str(c, row, "last_message", want);
    expect_int(c, row, "failures", !never && failed ? 1 + i % 3 : 0);

    /* The policy's decision, from what was written (the policy itself has its own tests). */
    in.now = g->now;
    in.has_cert = !never;
    in.not_before = never ? 0 : s->not_before;
    in.not_after = never ? 0 : s->not_after;
    in.last_renewal = never ? 0 : s->not_before;
    in.policy = (struct renewal_policy){RENEWAL_PERCENT_OF_LIFETIME, RENEWAL_DEFAULT_PERCENT};
    in.unit_random = policy_unit_random(name, never ? "" : s->serial);
    in.failure_count = !never && failed ? 1 + (int)(i % 3) : 0;
    in.last_attempt = never ? 0 : g->now - 3600;
    policy_decide(&in, &d);
    expect_str(c, row, "why", d.why);
    if (d.due) {
        const char *got = json_string_value(json_object_get(row, "next_renewal"));
        struct tm tm = {0};
        if (!got || !strptime(got, "%Y-%m-%dT%H:%M:%SZ", &tm) ||
            labs((long)(timegm(&tm) - g->now)) > NEXT_RENEWAL_SLACK_S)
            mismatch(c, "next_renewal", "about now", got ? got : "?");
    } else {
        format_utc(d.not_before > d.renew_at ? d.not_before : d.renew_at, when, sizeof(when));
        expect_str(c, row, "next_renewal", when);
    }

    /* Tasks: owed, failing, and the runs newest first. */
    a = json_object_get(row, "owed_tasks");
    if (json_array_size(a) != (size_t)(task_failed || task_never)) {
        snprintf(want, sizeof(want), "%d owed", task_failed || task_never);
        mismatch(c, "owed_tasks", want, "another count");
    } else if ((t = json_array_get(a, 0))) {
        snprintf(want, sizeof(want), "deploy failed: %s (2)", name);
        expect_str(c, t, "task", "ccs");
        expect_int(c, t, "failures", task_failed ? 2 : 0);
        expect_str(c, t, "last_message", task_failed ? want : "");
    }
    a = json_object_get(row, "failing_tasks");
    t = json_array_get(a, 0);
    if (json_array_size(a) != (size_t)task_failed ||
        (task_failed && (!json_is_string(t) || strcmp(json_string_value(t), "ccs") != 0)))
        mismatch(c, "failing_tasks", task_failed ? "[ccs]" : "[]", "another list");
    a = json_object_get(row, "recent_task_runs");
    if (json_array_size(a) != (size_t)(never || task_never ? 0 : task_failed ? 2 : 1)) {
        mismatch(c, "recent_task_runs", "the runs written", "another count");
        return;
    }
    for (size_t k = 0; k < json_array_size(a); k++) {
        t = json_array_get(a, k);
        if (task_failed)
            snprintf(want, sizeof(want), "deploy failed: %s (%zu)", name, 2 - k); /* newest first */
        else
            snprintf(want, sizeof(want), "deployed %s", name);
        expect_str(c, t, "message", want);
        if (json_is_true(json_object_get(t, "ok")) == task_failed)
            mismatch(c, "recent_task_runs.ok", task_failed ? "false" : "true", "the other");
    }
}

static int check(struct gen *g)
{
    struct checker c = {.g = g};
    json_error_t jerr;
    json_t *doc, *rows;
    struct state_db *db;
    struct errbuf err;

    /* The two certificates' summaries, from the files `make` wrote (any live link names one). */
    for (int k = 0; k < 2; k++) {
        char path[4200], serial[130];
        long i = k == SET_OLD ? g->n - 1 : 0;
        X509 *x = NULL;
        int missing;
        while (i < g->n && is_never(g, i))
            i++;
        snprintf(path, sizeof(path), "%s/certs/cert-%ld/live", g->state_dir, i);
        ssize_t n = readlink(path, serial, sizeof(serial) - 1);
        if (n <= 0) {
            fprintf(stderr, "manage_state: %s: no live link\n", path);
            return 1;
        }
        serial[n] = '\0';
        snprintf(path, sizeof(path), "%s/bench-sets/%s/cert.pem", g->state_dir, serial);
        if (cert_read_pem_file(path, &x, &missing, &err) < 0 || !x ||
            cert_summarise(x, &g->sets[k].sum, &err) < 0) {
            fprintf(stderr, "manage_state: %s: cannot read\n", path);
            X509_free(x);
            return 1;
        }
        X509_free(x);
    }
    (void)db;
    doc = json_loadf(stdin, 0, &jerr);
    rows = json_object_get(doc, "certificates");
    if (!json_is_array(rows)) {
        fprintf(stderr, "manage_state: stdin: not a status (%s, line %d)\n", jerr.text, jerr.line);
        json_decref(doc);
        return 1;
    }
    if (json_array_size(rows) != (size_t)g->n) {
        fprintf(stderr, "manage_state: %zu rows, want %ld\n", json_array_size(rows), g->n);
        c.bad++;
    }
    for (c.row = 0; c.row < g->n && (size_t)c.row < json_array_size(rows); c.row++)
        check_row(&c, json_array_get(rows, (size_t)c.row));
    json_decref(doc);
    if (c.bad)
        fprintf(stderr, "manage_state: %d mismatches in %ld rows\n", c.bad, g->n);
    else
        printf("manage_state: all %ld rows right\n", g->n);
    return c.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct gen g = {0};
    char *end;

    if (argc < 5 || argc > 6 || (strcmp(argv[1], "make") != 0 && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: manage_state make|check STATE_DIR N DUE [mixed]\n");
        return 2;
    }
    g.state_dir = argv[2];
    g.n = strtol(argv[3], &end, 10);
    if (*end || g.n < 1)
        return fprintf(stderr, "manage_state: N \"%s\": a positive number\n", argv[3]), 2;
    g.due = strtol(argv[4], &end, 10);
    if (*end || g.due < 0 || g.due > g.n)
        return fprintf(stderr, "manage_state: DUE \"%s\": 0 to N\n", argv[4]), 2;
    g.mixed = argc == 6 && strcmp(argv[5], "mixed") == 0;
    g.now = time(NULL);
    if (strcmp(argv[1], "make") == 0)
        return make(&g) < 0 ? 1 : 0;
    return check(&g);
}
