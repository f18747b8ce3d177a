/* Unit tests for src/manage/tasks.c and the task types (task_deploy_ccs.c, task_export.c,
 * task_script.c): triggers and sequencing, deploy-ccs into a local store,
 * export with modes and a PFX, scripts with their environment, exit codes and timeouts. Configs are
 * built in memory; certificates are made in-process (testcert.h) and written as PEM files in a
 * temp directory, as the renewer leaves them. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "manage/stop.h"
#include "manage/tasks.h"
#include "store/certinfo.h"
#include "testcert.h"
#include "util/spawn.h"
#include "util/testpoint.h"

#define STORE_PASSWORD "store-pw"
#define PFX_PASSWORD "pfx-pw"
#define MAX_TASKS 16
#define MAX_RECORDS 32
#define DAY (86400L)

struct record {
    char task[64];
    int ran, ok;
    char message[ERRBUF_SIZE];
};

struct fixture {
    char *dir;
    struct test_ca ca;
    time_t now;
    /* the live certificate (a.example, b.example) and the one it replaced (a, old) */
    char cert_pem[512], chain_pem[512], fullchain_pem[512], key_pem[512];
    char prev_cert_pem[512], prev_fullchain_pem[512], prev_key_pem[512];
    char thumbprint[THUMBPRINT_HEX_LEN + 1];
    time_t not_after;
    char store_dir[512], store_pw[512], pfx_pw[512];
    char *domains[2];
    struct config_store store;
    struct config_certificate cert;
    struct config_task tasks[MAX_TASKS];
    struct config cfg;
    struct task_env env;
    struct record records[MAX_RECORDS];
    size_t record_count;
};

/* ---- files ---- */

static void path_in(const struct fixture *f, char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", f->dir, name);
}

static void write_text(const char *path, const char *text, unsigned mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *text;
    long len;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    len = ftell(fp);
    rewind(fp);
    text = calloc(1, (size_t)len + 1);
    if (fread(text, 1, (size_t)len, fp) != (size_t)len) {
        free(text);
        text = NULL;
    }
    fclose(fp);
    return text;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static void write_cert_pems(const struct pfx_bundle *b, const char *cert, const char *chain,
                            const char *fullchain, const char *key)
{
    FILE *fp;

    assert_non_null(fp = fopen(cert, "w"));
    PEM_write_X509(fp, b->cert);
    fclose(fp);
    if (chain) {
        assert_non_null(fp = fopen(chain, "w"));
        for (int i = 0; i < sk_X509_num(b->chain); i++)
            PEM_write_X509(fp, sk_X509_value(b->chain, i));
        fclose(fp);
    }
    assert_non_null(fp = fopen(fullchain, "w"));
    PEM_write_X509(fp, b->cert);
    for (int i = 0; i < sk_X509_num(b->chain); i++)
        PEM_write_X509(fp, sk_X509_value(b->chain, i));
    fclose(fp);
    assert_non_null(fp = fopen(key, "w"));
    PEM_write_PrivateKey(fp, b->key, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    chmod(key, 0600);
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct pfx_bundle live = {0}, prev = {0};
    struct cert_summary sum;
    struct errbuf err;
    struct fixture *f;

    if (pfx_crypto_init(&err) < 0)
        return -1;
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = testcert_tmpdir();
    f->now = time(NULL);
    testcert_ca(&f->ca, "Tasks Test CA");
    /* The previous certificate expires before the new one: newer-only lets the new one in. */
    testcert_leaf(&prev, &f->ca, "a.example", "DNS:a.example,DNS:old.example", f->now - 60 * DAY,
                  f->now + 30 * DAY);
    testcert_leaf(&live, &f->ca, "a.example", "DNS:a.example,DNS:b.example", f->now - 3600,
                  f->now + 90 * DAY);
    path_in(f, f->cert_pem, sizeof(f->cert_pem), "cert.pem");
    path_in(f, f->chain_pem, sizeof(f->chain_pem), "chain.pem");
    path_in(f, f->fullchain_pem, sizeof(f->fullchain_pem), "fullchain.pem");
    path_in(f, f->key_pem, sizeof(f->key_pem), "privkey.pem");
    write_cert_pems(&live, f->cert_pem, f->chain_pem, f->fullchain_pem, f->key_pem);
    path_in(f, f->prev_cert_pem, sizeof(f->prev_cert_pem), "prev-cert.pem");
    path_in(f, f->prev_fullchain_pem, sizeof(f->prev_fullchain_pem), "prev-fullchain.pem");
    path_in(f, f->prev_key_pem, sizeof(f->prev_key_pem), "prev-privkey.pem");
    write_cert_pems(&prev, f->prev_cert_pem, NULL, f->prev_fullchain_pem, f->prev_key_pem);
    assert_int_equal(cert_summarise(live.cert, &sum, &err), 0);
    memcpy(f->thumbprint, sum.thumbprint, sizeof(f->thumbprint));
    f->not_after = sum.not_after;
    pfx_bundle_free(&live);
    pfx_bundle_free(&prev);

    path_in(f, f->store_dir, sizeof(f->store_dir), "store");
    assert_int_equal(mkdir(f->store_dir, 0755), 0);
    path_in(f, f->store_pw, sizeof(f->store_pw), "store.pw");
    write_text(f->store_pw, STORE_PASSWORD "\n", 0600);
    path_in(f, f->pfx_pw, sizeof(f->pfx_pw), "pfx.pw");
    write_text(f->pfx_pw, PFX_PASSWORD "\n", 0600);

    f->store = (struct config_store){.name = "iis",
                                     .location = f->store_dir,
                                     .password_file = f->store_pw,
                                     .format = PFX_FORMAT_COMPAT,
                                     .mode = 0640};
    f->domains[0] = "a.example";
    f->domains[1] = "b.example";
    f->cert = (struct config_certificate){.name = "www", .domains = f->domains, .domain_count = 2};
    f->cfg = (struct config){.stores = &f->store,
                             .store_count = 1,
                             .certificates = &f->cert,
                             .certificate_count = 1,
                             .tasks = f->tasks};
    f->env = (struct task_env){.cfg = &f->cfg,
                               .cert = &f->cert,
                               .cert_pem = f->cert_pem,
                               .chain_pem = f->chain_pem,
                               .fullchain_pem = f->fullchain_pem,
                               .key_pem = f->key_pem,
                               .thumbprint = f->thumbprint,
                               .not_after = f->not_after,
                               .renewal_ok = 1,
                               .now = f->now};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stop_clear(); /* a stop test that failed half-way must not stop the next tests' tasks */
    testcert_rmdir(f->dir);
    testcert_ca_free(&f->ca);
    free(f);
    return 0;
}

/* A new post task of "www" with the defaults config.c gives (on-success, not fatal). */
static struct config_task *add_task(struct fixture *f, const char *name, enum task_type type)
{
    struct config_task *t;

    assert_true(f->cfg.task_count < MAX_TASKS);
    t = &f->tasks[f->cfg.task_count++];
    *t = (struct config_task){.name = (char *)name,
                              .certificate = "www",
                              .type = type,
                              .phase = TASK_PHASE_POST,
                              .trigger = TRIGGER_ON_SUCCESS};
    return t;
}

static void record(void *ctx, const struct config_task *task, const struct task_result *r)
{
    const char *verbose = getenv("CCS_TEST_VERBOSE");
    struct fixture *f = ctx;
    struct record *rec;

    assert_true(f->record_count < MAX_RECORDS);
    rec = &f->records[f->record_count++];
    snprintf(rec->task, sizeof(rec->task), "%s", task->name);
    rec->ran = r->ran;
    rec->ok = r->ok;
    snprintf(rec->message, sizeof(rec->message), "%s", r->message);
    if (verbose && strcmp(verbose, "2") == 0) /* 2: every task a phase reports */
        print_message("  %s: ran=%d ok=%d %s\n", rec->task, rec->ran, rec->ok, rec->message);
}

static const struct record *record_of(const struct fixture *f, const char *task)
{
    for (size_t i = 0; i < f->record_count; i++)
        if (strcmp(f->records[i].task, task) == 0)
            return &f->records[i];
    fail_msg("task %s was not reported", task);
    abort(); /* fail_msg does not return; the compiler does not know */
}

static void run_phase(struct fixture *f, enum task_phase phase, struct phase_result *out)
{
    struct phase_hooks hooks = {NULL, record, f};

    f->record_count = 0;
    tasks_run_phase(phase, &f->env, &hooks, out);
}

static void run_one(struct fixture *f, const struct config_task *t, struct task_result *r)
{
    task_run(t, &f->env, r);
    if (getenv("CCS_TEST_VERBOSE"))
        print_message("%s: ok=%d %s\n", t->name, r->ok, r->message);
    assert_int_equal(r->ran, 1);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" not in \"%s\"", part, text);
}

/* An export task that succeeds (copies the certificate to out-NAME.pem) or fails (its
 * destination directory does not exist). Fast: no process is started. */
static struct config_task *add_export(struct fixture *f, const char *name, int fails)
{
    struct config_task *t = add_task(f, name, TASK_EXPORT);
    char path[600];

    snprintf(path, sizeof(path), "%s/%s/out-%s.pem", f->dir, fails ? "missing-dir" : ".", name);
    t->cert_path = strdup(path);
    return t;
}

static void free_export_paths(struct fixture *f)
{
    for (size_t i = 0; i < f->cfg.task_count; i++) {
        free(f->tasks[i].cert_path);
        f->tasks[i].cert_path = NULL;
    }
}

/* ---- triggers ---- */

static void test_trigger_matches(void **state)
{
    struct fixture *f = *state;
    struct config_task t = {.name = "t"};
    /* [renewal_ok][trigger] for an automatic run */
    static const int expect[2][4] = {
        /* on-success on-error any manual */
        {0, 1, 1, 0}, /* renewal failed */
        {1, 0, 1, 0}, /* renewal succeeded */
    };

    for (int ok = 0; ok <= 1; ok++)
        for (int trig = TRIGGER_ON_SUCCESS; trig <= TRIGGER_MANUAL; trig++) {
            t.trigger = (enum task_trigger)trig;
            f->env.renewal_ok = ok;
            f->env.manual = 0;
            assert_int_equal(task_trigger_matches(&t, &f->env), expect[ok][trig]);
            f->env.manual = 1; /* `ccs task run`: whatever the trigger */
            assert_int_equal(task_trigger_matches(&t, &f->env), 1);
        }
}

/* Every combination of: the renewal's result, manual or not, the tested task's trigger, fatal,
 * run-if-previous-failed, whether a task before it failed, and whether it fails itself. */
static void test_trigger_sequencing_matrix(void **state)
{
    struct fixture *f = *state;
    int combos = 0, ran_count = 0, fatal_count = 0;

    for (int ok = 0; ok <= 1; ok++)
        for (int manual = 0; manual <= 1; manual++)
            for (int trig = TRIGGER_ON_SUCCESS; trig <= TRIGGER_MANUAL; trig++)
                for (int fatal = 0; fatal <= 1; fatal++)
                    for (int rif = 0; rif <= 1; rif++)
                        for (int prev_fails = 0; prev_fails <= 1; prev_fails++)
                            for (int fails = 0; fails <= 1; fails++) {
                                struct config_task *prev, *t;
                                struct phase_result pr;
                                const struct record *rec;
                                int matches = manual || trig == TRIGGER_ANY ||
                                              (trig == TRIGGER_ON_SUCCESS && ok) ||
                                              (trig == TRIGGER_ON_ERROR && !ok);
                                int should_run = matches && (!prev_fails || rif);

                                f->cfg.task_count = 0;
                                prev = add_export(f, "prev", prev_fails);
                                prev->trigger = TRIGGER_ANY;
                                t = add_export(f, "t", fails);
                                t->trigger = (enum task_trigger)trig;
                                t->fatal = fatal;
                                t->run_if_previous_failed = rif;
                                f->env.renewal_ok = ok;
                                f->env.manual = manual;
                                run_phase(f, TASK_PHASE_POST, &pr);
                                free_export_paths(f);

                                assert_int_equal(f->record_count, 2);
                                rec = record_of(f, "t");
                                if (rec->ran != should_run)
                                    fail_msg("ok=%d manual=%d trigger=%d fatal=%d rif=%d "
                                             "prev_fails=%d fails=%d: ran=%d, expected %d (%s)",
                                             ok, manual, trig, fatal, rif, prev_fails, fails,
                                             rec->ran, should_run, rec->message);
                                assert_int_equal(pr.ran, 1 + should_run);
                                assert_int_equal(pr.skipped, !should_run);
                                assert_int_equal(pr.failed, prev_fails + (should_run && fails));
                                assert_int_equal(pr.fatal_failure, should_run && fails && fatal);
                                if (should_run) {
                                    assert_int_equal(rec->ok, !fails);
                                } else if (!matches) {
                                    assert_contains(rec->message, "skipped: trigger");
                                    assert_int_equal(rec->ok, 1);
                                } else {
                                    assert_contains(rec->message,
                                                    "skipped: previous task prev failed");
                                    assert_int_equal(rec->ok, 0);
                                }
                                combos++;
                                ran_count += should_run;
                                fatal_count += pr.fatal_failure;
                            }
    assert_int_equal(combos, 256);
    if (getenv("CCS_TEST_VERBOSE"))
        print_message("matrix: %d combinations, tested task ran in %d, fatal failure in %d\n",
                      combos, ran_count, fatal_count);
}

/* A failure sticks for the rest of the phase: a later plain task is skipped even after a
 * run-if-previous-failed task succeeded; a fatal task that is skipped does not fail the
 * renewal. */
static void test_failure_skips_rest_of_phase(void **state)
{
    struct fixture *f = *state;
    struct phase_result pr;
    struct config_task *t;

    add_export(f, "a", 0);
    add_export(f, "b", 1);
    add_export(f, "c", 0)->fatal = 1;
    add_export(f, "d", 0)->run_if_previous_failed = 1;
    add_export(f, "e", 0);
    t = add_export(f, "f", 1);
    t->run_if_previous_failed = 1;
    t->fatal = 1;
    run_phase(f, TASK_PHASE_POST, &pr);
    free_export_paths(f);

    assert_int_equal(f->record_count, 6);
    assert_string_equal(f->records[0].task, "a"); /* reported in file order */
    assert_string_equal(f->records[5].task, "f");
    assert_true(record_of(f, "a")->ran && record_of(f, "a")->ok);
    assert_true(record_of(f, "b")->ran && !record_of(f, "b")->ok);
    assert_false(record_of(f, "c")->ran);
    assert_contains(record_of(f, "c")->message, "previous task b failed");
    assert_true(record_of(f, "d")->ran && record_of(f, "d")->ok);
    assert_false(record_of(f, "e")->ran);
    assert_true(record_of(f, "f")->ran && !record_of(f, "f")->ok);
    assert_int_equal(pr.ran, 4);
    assert_int_equal(pr.failed, 2);
    assert_int_equal(pr.skipped, 2);
    assert_int_equal(pr.fatal_failure, 1); /* f: fatal, ran, failed */
}

/* Only this certificate's tasks of this phase run; the others are not even reported. */
static void test_phase_and_certificate_filter(void **state)
{
    struct fixture *f = *state;
    struct phase_result pr;

    add_export(f, "pre1", 0)->phase = TASK_PHASE_PRE;
    add_export(f, "post1", 0);
    add_export(f, "other", 0)->certificate = "mail";
    add_export(f, "pre2", 1)->phase = TASK_PHASE_PRE;
    run_phase(f, TASK_PHASE_PRE, &pr);
    assert_int_equal(f->record_count, 2);
    assert_string_equal(f->records[0].task, "pre1");
    assert_string_equal(f->records[1].task, "pre2");
    assert_int_equal(pr.ran, 2);
    assert_int_equal(pr.failed, 1);
    /* a failure in the pre phase does not carry over to the post phase */
    run_phase(f, TASK_PHASE_POST, &pr);
    free_export_paths(f);
    assert_int_equal(f->record_count, 1);
    assert_string_equal(f->records[0].task, "post1");
    assert_true(f->records[0].ran && f->records[0].ok);
    assert_int_equal(pr.failed, 0);
}

/* ---- deploy-ccs ---- */

static void store_file(const struct fixture *f, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->store_dir, name);
}

static void assert_store_pfx_is(const struct fixture *f, const char *name, const char *thumbprint)
{
    char path[700];
    struct bytes data = {0};
    struct pfx_decoded dec;
    struct cert_summary sum;
    struct errbuf err;

    store_file(f, name, path, sizeof(path));
    if (bytes_read_file(path, CERT_INPUT_MAX, &data, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pfx_decode(data.data, data.len, STORE_PASSWORD, &dec, &err), PFX_OK);
    assert_int_equal(cert_summarise(dec.bundle.cert, &sum, &err), 0);
    assert_string_equal(sum.thumbprint, thumbprint);
    assert_int_equal(dec.format, PFX_FORMAT_COMPAT);
    pfx_decoded_free(&dec);
    bytes_free(&data);
}

/* Deploy the previous certificate (a.example, old.example) as a renewal before would have. */
static void deploy_previous(struct fixture *f, const struct config_task *t)
{
    struct task_env env = f->env;
    struct task_result r;

    env.cert_pem = f->prev_cert_pem;
    env.chain_pem = NULL;
    env.fullchain_pem = f->prev_fullchain_pem;
    env.key_pem = f->prev_key_pem;
    task_run(t, &env, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
}

static void test_deploy_writes_and_prunes(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct task_result r;
    char path[700], expect[1200];

    t->store = "iis";
    deploy_previous(f, t);
    store_file(f, "old.example.pfx", path, sizeof(path));
    assert_true(exists(path));

    f->env.previous_cert_pem = f->prev_cert_pem;
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    snprintf(expect, sizeof(expect), "store iis (%s): 2 written, 0 unchanged, 1 removed",
             f->store_dir);
    assert_string_equal(r.message, expect);
    assert_false(exists(path)); /* pruned: old.example held the previous certificate */
    assert_store_pfx_is(f, "a.example.pfx", f->thumbprint);
    assert_store_pfx_is(f, "b.example.pfx", f->thumbprint);
    store_file(f, "b.example.pfx", path, sizeof(path));
    assert_int_equal(mode_of(path), 0640);

    /* again: nothing to do */
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_contains(r.message, "0 written, 2 unchanged, 0 removed");
}

static void test_deploy_dry_run_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct task_result r;
    char path[700];

    t->store = "iis";
    f->env.dry_run = 1;
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "dry run, nothing written: store iis (");
    assert_contains(r.message, "would be 2 written, 0 unchanged, 0 removed");
    store_file(f, "a.example.pfx", path, sizeof(path));
    assert_false(exists(path));
    store_file(f, "b.example.pfx", path, sizeof(path));
    assert_false(exists(path));
}

/* A plan before the first issuance: the store and its password are checked, nothing is read or
 * written, and the task does not fail for want of a certificate. */
static void test_deploy_dry_run_before_issuance(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct task_result r;
    char missing[600];

    t->store = "iis";
    f->env.dry_run = 1;
    f->env.cert_pem = f->env.fullchain_pem = f->env.key_pem = f->env.chain_pem = NULL;
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "would receive the certificate once it is issued");
    path_in(f, missing, sizeof(missing), "no-such.pw");
    f->store.password_file = missing;
    run_one(f, t, &r);
    assert_false(r.ok); /* what can be checked is */
    assert_contains(r.message, missing);
}

/* A store file holding a certificate that expires later is left alone, and said so; the task
 * still succeeds (newer-only is the store's rule, not a failure). */
static void test_deploy_skipped_newer_is_mentioned(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct pfx_bundle newer = {0};
    struct task_env env = f->env;
    struct task_result r;
    char cert[600], full[600], key[600];

    t->store = "iis";
    testcert_leaf(&newer, &f->ca, "b.example", "DNS:b.example", f->now - 3600, f->now + 200 * DAY);
    path_in(f, cert, sizeof(cert), "newer-cert.pem");
    path_in(f, full, sizeof(full), "newer-full.pem");
    path_in(f, key, sizeof(key), "newer-key.pem");
    write_cert_pems(&newer, cert, NULL, full, key);
    pfx_bundle_free(&newer);
    env.cert_pem = cert;
    env.fullchain_pem = full;
    env.chain_pem = NULL;
    env.key_pem = key;
    task_run(t, &env, &r);
    assert_true(r.ok);

    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "1 written, 0 unchanged, 0 removed, 1 skipped, newer in the store "
                               "(b.example.pfx)");
}

/* A share that cannot be reached: tried DEPLOY_CCS_ATTEMPTS (4) times with backoff (2 + 4 + 8 s),
 * and the outcome says so. A share refused for a reason that does not pass (a credentials file
 * others may read) is not tried again. */
static void test_deploy_smb_retries_only_transient(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct task_result r;
    char creds[600];
    time_t t0;

    t->store = "iis";
    path_in(f, creds, sizeof(creds), "smb.creds");
    write_text(creds, "username = ccs\npassword = share-secret-7\n", 0600);
    f->store.location = "smb://127.0.0.1:1/share/certs"; /* port 1: connection refused */
    f->store.credentials_file = creds;
    t0 = time(NULL);
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "attempt 4 of 4");
    assert_contains(r.message, "server unreachable");
    assert_null(strstr(r.message, "share-secret-7"));
    assert_true(time(NULL) - t0 >= 2 + 4 + 8 - 1);

    assert_int_equal(chmod(creds, 0644), 0);
    t0 = time(NULL);
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "readable by others");
    assert_null(strstr(r.message, "attempt"));
    assert_true(time(NULL) - t0 < 2);
    f->store.location = f->store_dir;
    f->store.credentials_file = NULL;
}

/* tests/e2e/smb_server.sh, found from this file's own path (CMake compiles it by full path). */
static void smb_server_script(char *out, size_t size)
{
    const char *slash = strrchr(__FILE__, '/');
    snprintf(out, size, "%.*s/../e2e/smb_server.sh", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
}

/* KEY's value in the env file smb_server.sh writes into DIR ("" when absent). */
static void smb_fact(const char *dir, const char *key, char *out, size_t size)
{
    char path[600], *text;
    const char *at;

    snprintf(path, sizeof(path), "%s/env", dir);
    text = read_text(path);
    out[0] = '\0';
    if (text && (at = strstr(text, key)) && at[strlen(key)] == '=')
        snprintf(out, size, "%.*s", (int)strcspn(at + strlen(key) + 1, "\n"), at + strlen(key) + 1);
    free(text);
}

/* A share that is down when the task starts and back a second later, inside the first wait (2 s):
 * the task's second attempt deploys, and its outcome says it took two. A real smbd
 * (tests/e2e/smb_server.sh), stopped, then started again on the same port by a child process. */
static void test_deploy_smb_retry_succeeds_when_the_share_returns(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    char dir[] = "/tmp/ccs-smbd-tasks.XXXXXX", script[600], cmd[1600], port[16], creds[600],
         rw[600], certs[700], conf[600], location[128], pidfile[600], pidtext[32], pfx[800];
    struct task_result r = {0};
    struct stat share;
    pid_t smbd;
    int written;

    smb_server_script(script, sizeof(script));
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "sh '%s' start '%s' >/dev/null", script, dir);
    if (system(cmd) != 0)
        fail_msg("cannot start the test smbd (see %s/log.smbd)", dir);
    smb_fact(dir, "SMB_PORT", port, sizeof(port));
    smb_fact(dir, "SMB_CREDS", creds, sizeof(creds));
    smb_fact(dir, "SMB_RW", rw, sizeof(rw));
    snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(certs, sizeof(certs), "%s/certs", rw);
    assert_int_equal(stat(rw, &share), 0);
    assert_int_equal(mkdir(certs, 0700), 0);
    assert_int_equal(chown(certs, share.st_uid, share.st_gid), 0);

    snprintf(conf, sizeof(conf), "%s/smb.conf", dir);
    fflush(NULL);
    smbd = fork();
    assert_true(smbd >= 0);
    if (smbd == 0) { /* back in a second, in a session of its own as smb_server.sh starts it */
        int null = open("/dev/null", O_RDWR);
        sleep(1);
        setsid();
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("smbd", "smbd", "-F", "--no-process-group", "-s", conf, (char *)NULL);
        execl("/usr/sbin/smbd", "smbd", "-F", "--no-process-group", "-s", conf, (char *)NULL);
        _exit(127);
    }
    /* so that smb_server.sh stop stops it */
    snprintf(pidfile, sizeof(pidfile), "%s/smbd.pid.ours", dir);
    snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)smbd);
    write_text(pidfile, pidtext, 0644);

    t->store = "iis";
    snprintf(location, sizeof(location), "smb://127.0.0.1:%s/rw/certs", port);
    f->store.location = location;
    f->store.credentials_file = creds;
    task_run(t, &f->env, &r);
    snprintf(pfx, sizeof(pfx), "%s/a.example.pfx", certs);
    f->store.location = f->store_dir;
    f->store.credentials_file = NULL;
    print_message("share back after a second: ok=%d %s\n", r.ok, r.message);
    /* the checks after the server is gone, so that a failed one leaves no smbd behind */
    snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
    written = exists(pfx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);

    if (!r.ok)
        fail_msg("the deploy did not succeed once the share was back: %s", r.message);
    /* "attempt N of 4: store iis (...): 2 written, ..." with N at least 2: the first found none */
    assert_int_equal(strncmp(r.message, "attempt ", 8), 0);
    assert_true(r.message[8] >= '2' && r.message[8] <= '4');
    assert_contains(r.message, " of 4: store iis (smb://127.0.0.1:");
    assert_contains(r.message, "2 written");
    assert_null(strstr(r.message, "store unreachable or timing out"));
    assert_int_equal(written, 1);
}

static void test_deploy_errors(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "iis", TASK_DEPLOY_CCS);
    struct task_result r;
    char missing[600];

    t->store = "nowhere";
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_string_equal(r.message, "deploy-ccs: no store \"nowhere\" is configured");

    t->store = "iis";
    f->store.group = "no-such-group-ccs-test";
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "store iis (");
    assert_contains(r.message, "no group \"no-such-group-ccs-test\"");
    f->store.group = NULL;

    path_in(f, missing, sizeof(missing), "no-such.pw");
    f->store.password_file = missing;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "store password file");
    assert_contains(r.message, missing);
    f->store.password_file = f->store_pw;

    /* before issuance there is nothing to deploy */
    f->env.cert_pem = f->env.fullchain_pem = f->env.key_pem = f->env.chain_pem = NULL;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "no certificate file yet");
}

/* ---- export ---- */

static void assert_same_file(const char *a, const char *b)
{
    char *ta = read_text(a), *tb = read_text(b);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
}

static void copy_text(const char *from, const char *to, unsigned mode)
{
    char *text = read_text(from);
    assert_non_null(text);
    write_text(to, text, mode);
    free(text);
}

static int same_file(const char *a, const char *b)
{
    char *ta = read_text(a), *tb = read_text(b);
    int same = ta && tb && strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

struct export_paths {
    char cert[600], chain[600], fullchain[600], key[600], pfx[600];
};

static struct config_task *add_full_export(struct fixture *f, struct export_paths *p)
{
    struct config_task *t = add_task(f, "files", TASK_EXPORT);

    path_in(f, p->cert, sizeof(p->cert), "out-cert.pem");
    path_in(f, p->chain, sizeof(p->chain), "out-chain.pem");
    path_in(f, p->fullchain, sizeof(p->fullchain), "out-fullchain.pem");
    path_in(f, p->key, sizeof(p->key), "out-key.pem");
    path_in(f, p->pfx, sizeof(p->pfx), "out.pfx");
    t->cert_path = p->cert;
    t->chain_path = p->chain;
    t->fullchain_path = p->fullchain;
    t->key_path = p->key;
    t->pfx_path = p->pfx;
    t->pfx_password_file = f->pfx_pw;
    return t;
}

static void assert_pfx_opens(const struct fixture *f, const char *path, const char *password)
{
    struct bytes data = {0};
    struct pfx_decoded dec;
    struct cert_summary sum;
    struct errbuf err;

    if (bytes_read_file(path, CERT_INPUT_MAX, &data, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pfx_decode(data.data, data.len, password, &dec, &err), PFX_OK);
    assert_true(dec.key_matches);
    assert_int_equal(dec.format, PFX_FORMAT_COMPAT);
    assert_int_equal(sk_X509_num(dec.bundle.chain), 1); /* the CA came along */
    assert_int_equal(cert_summarise(dec.bundle.cert, &sum, &err), 0);
    assert_string_equal(sum.thumbprint, f->thumbprint);
    assert_string_equal(dec.friendly, "www");
    pfx_decoded_free(&dec);
    bytes_free(&data);
}

static void test_export_writes_files_with_modes(void **state)
{
    struct fixture *f = *state;
    struct export_paths p;
    struct config_task *t = add_full_export(f, &p);
    struct task_result r;

    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "wrote ");
    assert_contains(r.message, "out-key.pem (0640)");
    assert_same_file(p.cert, f->cert_pem);
    assert_same_file(p.chain, f->chain_pem);
    assert_same_file(p.fullchain, f->fullchain_pem);
    assert_same_file(p.key, f->key_pem);
    assert_int_equal(mode_of(p.cert), 0644);
    assert_int_equal(mode_of(p.chain), 0644);
    assert_int_equal(mode_of(p.fullchain), 0644);
    assert_int_equal(mode_of(p.key), 0640);
    assert_int_equal(mode_of(p.pfx), 0640);
    assert_pfx_opens(f, p.pfx, PFX_PASSWORD);

    /* a configured mode applies to all, but a key is never opened beyond 0640 */
    t->mode = 0664;
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_int_equal(mode_of(p.cert), 0664);
    assert_int_equal(mode_of(p.key), 0640);
    assert_int_equal(mode_of(p.pfx), 0640);
    t->mode = 0600;
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_int_equal(mode_of(p.cert), 0600);
    assert_int_equal(mode_of(p.key), 0600);
    assert_int_equal(mode_of(p.pfx), 0600);
}

/* Owner and group by name (our own, so the test needs no root); an unknown name fails the task
 * before anything is written. */
static void test_export_owner_group(void **state)
{
    struct fixture *f = *state;
    struct task_result r;
    struct config_task *t = add_task(f, "files", TASK_EXPORT);
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());
    char key[600];
    struct stat st;

    assert_non_null(pw);
    assert_non_null(gr);
    path_in(f, key, sizeof(key), "owned-key.pem");
    t->key_path = key;
    t->owner = strdup(pw->pw_name);
    t->group = strdup(gr->gr_name);
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_int_equal(lstat(key, &st), 0);
    assert_int_equal(st.st_uid, getuid());
    assert_int_equal(st.st_gid, getgid());
    assert_contains(r.message, "owner ");
    assert_int_equal(unlink(key), 0);

    free(t->owner);
    t->owner = "no-such-user-ccs-test";
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "no user \"no-such-user-ccs-test\"");
    assert_false(exists(key));
    t->owner = NULL;
    free(t->group);
    t->group = "no-such-group-ccs-test";
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "no group \"no-such-group-ccs-test\"");
    assert_false(exists(key));
}

/* The task's pfx-password-file, else the certificate's, else (config.h) the store password of
 * the certificate's first deploy-ccs task; with none of them, an error and nothing written. */
static void test_export_pfx_password_sources(void **state)
{
    struct fixture *f = *state;
    struct export_paths p;
    struct config_task *t = add_full_export(f, &p);
    struct task_result r;

    t->pfx_password_file = NULL;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "export pfx needs a password file");
    assert_false(exists(p.cert)); /* nothing is written when anything is wrong */
    assert_false(exists(p.pfx));

    add_task(f, "iis", TASK_DEPLOY_CCS)->store = "iis";
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_pfx_opens(f, p.pfx, STORE_PASSWORD);

    f->cert.pfx_password_file = f->pfx_pw;
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_pfx_opens(f, p.pfx, PFX_PASSWORD);

    t->pfx_password_file = f->store_pw; /* the task's own comes first */
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_pfx_opens(f, p.pfx, STORE_PASSWORD);
}

static void test_export_dry_run(void **state)
{
    struct fixture *f = *state;
    struct export_paths p;
    struct config_task *t = add_full_export(f, &p);
    struct task_result r;

    f->env.dry_run = 1;
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "dry run, nothing written: would write ");
    assert_contains(r.message, p.cert);
    assert_contains(r.message, p.pfx);
    assert_false(exists(p.cert));
    assert_false(exists(p.key));
    assert_false(exists(p.pfx));
}

static void test_export_dry_run_before_issuance(void **state)
{
    struct fixture *f = *state;
    struct export_paths p;
    struct config_task *t = add_full_export(f, &p);
    struct task_result r;
    char missing[600];

    f->env.dry_run = 1;
    f->env.cert_pem = f->env.fullchain_pem = f->env.key_pem = f->env.chain_pem = NULL;
    run_one(f, t, &r);
    if (!r.ok)
        fail_msg("%s", r.message);
    assert_contains(r.message, "would write ");
    assert_contains(r.message, " once the certificate is issued");
    assert_false(exists(p.cert));
    assert_false(exists(p.pfx));
    path_in(f, missing, sizeof(missing), "no-such.pw");
    t->pfx_password_file = missing;
    run_one(f, t, &r);
    assert_false(r.ok); /* the PFX password is checked all the same */
    assert_contains(r.message, missing);
}

/* Files in DIR whose name holds ".tmp-": what an interrupted atomic write leaves. */
static int count_temps(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static void test_export_errors(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "files", TASK_EXPORT);
    struct task_result r;
    char ok_path[600], bad_path[600];

    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "no file to export");

    /* the export is one unit: a file that cannot be written leaves every destination as it was
     * (the one that could be written too), and no temp file behind */
    path_in(f, ok_path, sizeof(ok_path), "fine.pem");
    path_in(f, bad_path, sizeof(bad_path), "missing-dir/chain.pem");
    write_text(ok_path, "old content\n", 0644);
    t->cert_path = ok_path;
    t->chain_path = bad_path;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, bad_path);
    assert_contains(r.message, "nothing changed");
    {
        char *text = read_text(ok_path);
        assert_string_equal(text, "old content\n");
        free(text);
    }
    assert_int_equal(count_temps(f->dir), 0);

    /* before issuance */
    f->env.cert_pem = NULL;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "no certificate file yet");
}

/* ---- script ---- */

static char *write_script(struct fixture *f, const char *name, const char *body)
{
    char path[600], *text;
    const char *mark, *p = body;
    size_t len = strlen(body) + 64;

    for (mark = body; (mark = strstr(mark, "@DIR@")); mark++)
        len += strlen(f->dir);
    text = calloc(1, len);
    strcpy(text, "#!/bin/sh\n");
    while ((mark = strstr(p, "@DIR@")) != NULL) {
        strncat(text, p, (size_t)(mark - p));
        strcat(text, f->dir);
        p = mark + 5;
    }
    strcat(text, p);
    path_in(f, path, sizeof(path), name);
    write_text(path, text, 0755);
    free(text);
    return strdup(path);
}

static void test_script_environment(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "notify", TASK_SCRIPT);
    struct task_result r;
    char env_path[600], expect[1024], when[32], *env;

    t->program = write_script(f, "notify.sh",
                              "if read -r line; then echo 'stdin is not empty' >&2; exit 9; fi\n"
                              "env > @DIR@/env.out\n"
                              "echo 'reloaded nginx'\n");
    t->timeout_s = 10;
    setenv("CCS_STALE_VARIABLE", "from-parent", 1);
    setenv("CCS_THUMBPRINT", "STALE", 1);
    setenv("TASKS_TEST_INHERITED", "yes", 1);
    f->env.renewal_ok = 0;
    run_one(f, t, &r);
    unsetenv("CCS_STALE_VARIABLE");
    unsetenv("CCS_THUMBPRINT");
    unsetenv("TASKS_TEST_INHERITED");
    if (!r.ok)
        fail_msg("%s", r.message);
    snprintf(expect, sizeof(expect), "script %s succeeded (exit 0): reloaded nginx", t->program);
    assert_string_equal(r.message, expect);

    path_in(f, env_path, sizeof(env_path), "env.out");
    env = read_text(env_path);
    assert_non_null(env);
    format_utc(f->not_after, when, sizeof(when));
    {
        const char *fixed[] = {"CCS_CERT_NAME=www\n",
                               "CCS_DOMAINS=a.example b.example\n",
                               "CCS_RESULT=failure\n",
                               "CCS_TASK=notify\n",
                               "CCS_DRY_RUN=0\n",
                               "CCS_PHASE=post\n",
                               "TASKS_TEST_INHERITED=yes\n",
                               "PATH="};
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            assert_contains(env, fixed[i]);
    }
    snprintf(expect, sizeof(expect), "CCS_CERT_PEM=%s\n", f->cert_pem);
    assert_contains(env, expect);
    snprintf(expect, sizeof(expect), "CCS_CHAIN_PEM=%s\n", f->chain_pem);
    assert_contains(env, expect);
    snprintf(expect, sizeof(expect), "CCS_FULLCHAIN_PEM=%s\n", f->fullchain_pem);
    assert_contains(env, expect);
    snprintf(expect, sizeof(expect), "CCS_KEY_PEM=%s\n", f->key_pem);
    assert_contains(env, expect);
    snprintf(expect, sizeof(expect), "CCS_THUMBPRINT=%s\n", f->thumbprint);
    assert_contains(env, expect);
    snprintf(expect, sizeof(expect), "CCS_NOT_AFTER=%s\n", when);
    assert_contains(env, expect);
    assert_int_equal(strlen(when), strlen("2026-11-27T05:23:04Z"));
    assert_null(strstr(env, "CCS_STALE_VARIABLE"));
    assert_null(strstr(env, "STALE"));
    free(env);
    free(t->program);
}

static void test_script_failure_quotes_output(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "reload", TASK_SCRIPT);
    struct task_result r;
    char expect[1200];

    t->program = write_script(f, "reload.sh",
                              "echo 'checking config'\n"
                              "echo 'nginx: [emerg] cannot load certificate' >&2\n"
                              "exit 3\n");
    t->timeout_s = 10;
    run_one(f, t, &r);
    assert_false(r.ok);
    snprintf(expect, sizeof(expect),
             "script %s failed (exit 3): checking config nginx: [emerg] cannot load certificate",
             t->program);
    assert_string_equal(r.message, expect);
    free(t->program);
}

/* Far more output than is kept: the message ends with the last line and fits. */
static void test_script_long_output(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "noisy", TASK_SCRIPT);
    struct task_result r;
    const char *end = "the real reason";
    size_t len;

    t->program = write_script(f, "noisy.sh",
                              "i=0\n"
                              "while [ $i -lt 2000 ]; do echo \"noise line $i\"; i=$((i+1)); done\n"
                              "echo 'the real reason' >&2\n"
                              "exit 1\n");
    t->timeout_s = 10;
    run_one(f, t, &r);
    assert_false(r.ok);
    len = strlen(r.message);
    assert_true(len < sizeof(r.message));
    assert_string_equal(r.message + len - strlen(end), end);
    assert_contains(r.message, "failed (exit 1): ...");
    free(t->program);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void test_script_timeout(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "slow", TASK_SCRIPT);
    struct phase_result pr;
    struct timespec start;
    const struct record *rec;

    t->program = write_script(f, "slow.sh", "echo 'waiting for the service'\nsleep 30\n");
    t->timeout_s = 1;
    t->fatal = 1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    run_phase(f, TASK_PHASE_POST, &pr);
    assert_true(seconds_since(&start) < 4.0);
    rec = record_of(f, "slow");
    assert_true(rec->ran);
    assert_false(rec->ok);
    assert_contains(rec->message, "timed out after 1 s and was killed: waiting for the service");
    assert_int_equal(pr.fatal_failure, 1);
    free(t->program);
}

static void test_script_dry_run_not_run(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "touch", TASK_SCRIPT);
    struct task_result r;
    char marker[600];

    t->program = write_script(f, "touch.sh", "touch @DIR@/ran\n");
    t->timeout_s = 10;
    f->env.dry_run = 1;
    run_one(f, t, &r);
    assert_true(r.ok);
    assert_contains(r.message, "dry run, not run: would run ");
    assert_contains(r.message, t->program);
    path_in(f, marker, sizeof(marker), "ran");
    assert_false(exists(marker));
    free(t->program);
}

/* ---- an export is one unit ---- */

/* Stopped after the first rename (the test point a kill test uses), an export has replaced the
 * key and nothing else: a reader finds the old certificate with the new key, never the new
 * certificate with the old key. Killed there, it leaves its other files' temps; the next export
 * replaces everything. */
static void test_export_renames_key_first(void **state)
{
    struct fixture *f = *state;
    struct export_paths p;
    struct config_task *t = add_full_export(f, &p);
    struct task_result r;
    int status, key_new, cert_old, fullchain_old, fullchain_new;
    pid_t child;

    t->pfx_path = NULL;
    t->chain_path = NULL;
    copy_text(f->prev_cert_pem, p.cert, 0644);
    copy_text(f->prev_fullchain_pem, p.fullchain, 0644);
    copy_text(f->prev_key_pem, p.key, 0600);
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setenv(TEST_POINT_ENV, "export-renamed:www.files:1", 1);
        task_run(t, &f->env, &r);
        _exit(r.ok ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, WUNTRACED), child);
    if (!WIFSTOPPED(status))
        fail_msg("the export did not stop after its first rename");
    key_new = same_file(p.key, f->key_pem);           /* renamed first */
    cert_old = same_file(p.cert, f->prev_cert_pem);   /* not yet */
    fullchain_old = same_file(p.fullchain, f->prev_fullchain_pem);
    kill(child, SIGKILL); /* before any assertion: a failed one must not leave it stopped */
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(key_new);
    assert_true(cert_old);
    assert_true(fullchain_old);
    assert_int_equal(count_temps(f->dir), 2); /* fullchain's and cert's, staged before the renames */

    /* Let it go on instead: every file is replaced, and only then does the task succeed. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setenv(TEST_POINT_ENV, "export-renamed:www.files:2", 1);
        task_run(t, &f->env, &r);
        _exit(r.ok ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, WUNTRACED), child);
    if (!WIFSTOPPED(status))
        fail_msg("the export did not stop after its second rename");
    fullchain_new = same_file(p.fullchain, f->fullchain_pem); /* the key's pair next */
    cert_old = same_file(p.cert, f->prev_cert_pem);
    kill(child, SIGCONT);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(fullchain_new);
    assert_true(cert_old);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_same_file(p.cert, f->cert_pem);
    run_one(f, t, &r);
    assert_true(r.ok);
}

/* ---- stopping ---- */

struct stopper {
    int after_ms;
};

static void *stop_later(void *arg)
{
    const struct stopper *s = arg;
    struct timespec ts = {s->after_ms / 1000, (s->after_ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    stop_request(SIGTERM);
    return NULL;
}

/* A stop kills the running script's process group at once (not at its timeout) and starts no
 * other task; neither counts as a failure. */
/* How long the script's killed child may take to end (see below), and how often to look. */
#define CHILD_GONE_WAIT_MS 2000
#define CHILD_GONE_POLL_MS 20

static void test_stop_kills_script_and_skips_rest(void **state)
{
    struct fixture *f = *state;
    struct config_task *slow = add_task(f, "slow", TASK_SCRIPT);
    struct config_task *after;
    struct stopper s = {300};
    char pidfile[600], body[1400];
    struct phase_result pr;
    struct timespec start;
    const struct record *rec;
    pthread_t thread;
    FILE *fp;
    int child = 0;

    path_in(f, pidfile, sizeof(pidfile), "child.pid");
    snprintf(body, sizeof(body), "sleep 60 &\necho $! >%s\necho 'deploying'\nwait\n", pidfile);
    slow->program = write_script(f, "slow.sh", body);
    slow->timeout_s = 120;
    after = add_export(f, "after", 0);
    after->run_if_previous_failed = 1; /* even so: nothing starts once stopping */
    stop_clear();
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(pthread_create(&thread, NULL, stop_later, &s), 0);
    run_phase(f, TASK_PHASE_POST, &pr);
    pthread_join(thread, NULL);
    assert_true(seconds_since(&start) < (SPAWN_KILL_GRACE_MS / 1000.0) + 2.0);
    assert_int_equal(stop_requested(), SIGTERM);
    stop_clear();
    rec = record_of(f, "slow");
    assert_true(rec->ran);
    assert_false(rec->ok);
    assert_contains(rec->message, "was stopped (ccs is stopping)");
    rec = record_of(f, "after");
    assert_false(rec->ran);
    assert_contains(rec->message, "skipped: ccs is stopping");
    assert_int_equal(pr.stopped, 2);
    assert_int_equal(pr.failed, 0);
    /* the script's own child went with its process group */
    fp = fopen(pidfile, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%d", &child), 1);
    fclose(fp);
    {
        /* gone, or a zombie not yet reaped by its new parent. SIGKILL is delivered at once but the
         * process ends when next scheduled: on a loaded machine it may still show as running for
         * a moment, so look for up to CHILD_GONE_WAIT_MS before deciding it survived. */
        char stat_path[64], text[256] = "";
        int gone = 0;
        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", child);
        for (int waited = 0; !gone && waited <= CHILD_GONE_WAIT_MS; waited += CHILD_GONE_POLL_MS) {
            FILE *st = fopen(stat_path, "r");
            text[0] = '\0';
            if (st) {
                if (!fgets(text, sizeof(text), st))
                    text[0] = '\0';
                fclose(st);
            }
            gone = !st || strstr(text, ") Z") != NULL;
            if (!gone)
                usleep(CHILD_GONE_POLL_MS * 1000);
        }
        if (!gone)
            fail_msg("the script's child %d survived the stop: %s", child, text);
    }
    free(slow->program);
    free_export_paths(f);
}

/* The pick of a retry: IGNORE leaves a task out unreported; HOLD reports it skipped and counts as
 * undone work, so the tasks after it are skipped unless run-if-previous-failed. */
static enum task_pick pick_for_test(void *ctx, const struct config_task *task,
                                    struct task_result *why)
{
    (void)ctx;
    if (strcmp(task->name, "a") == 0)
        return TASK_PICK_IGNORE;
    if (strcmp(task->name, "b") == 0) {
        snprintf(why->message, sizeof(why->message), "skipped: owed, backing off");
        return TASK_PICK_HOLD;
    }
    return TASK_PICK_RUN;
}

static void test_pick(void **state)
{
    struct fixture *f = *state;
    struct phase_hooks hooks = {pick_for_test, record, f};
    struct phase_result pr;

    add_export(f, "a", 0);
    add_export(f, "b", 0);
    add_export(f, "c", 0);
    add_export(f, "d", 0)->run_if_previous_failed = 1;
    f->record_count = 0;
    tasks_run_phase(TASK_PHASE_POST, &f->env, &hooks, &pr);
    free_export_paths(f);
    assert_int_equal(f->record_count, 3);
    assert_string_equal(f->records[0].task, "b");
    assert_false(record_of(f, "b")->ran);
    assert_false(record_of(f, "b")->ok);
    assert_string_equal(record_of(f, "b")->message, "skipped: owed, backing off");
    assert_false(record_of(f, "c")->ran);
    assert_contains(record_of(f, "c")->message, "previous task b failed");
    assert_true(record_of(f, "d")->ran && record_of(f, "d")->ok);
    assert_int_equal(pr.ran, 1);
    assert_int_equal(pr.failed, 0);
    assert_int_equal(pr.skipped, 2);
}

static void test_script_program_errors(void **state)
{
    struct fixture *f = *state;
    struct config_task *t = add_task(f, "broken", TASK_SCRIPT);
    struct task_result r;
    char missing[600];

    path_in(f, missing, sizeof(missing), "no-such-script");
    t->program = missing;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "script ");
    assert_contains(r.message, "No such file");
    f->env.dry_run = 1; /* a dry run checks the program too */
    run_one(f, t, &r);
    assert_false(r.ok);

    t->program = write_script(f, "noexec.sh", "exit 0\n");
    chmod(t->program, 0644);
    f->env.dry_run = 0;
    run_one(f, t, &r);
    assert_false(r.ok);
    assert_contains(r.message, "not executable");
    free(t->program);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trigger_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_sequencing_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_skips_rest_of_phase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phase_and_certificate_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_writes_and_prunes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_dry_run_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_dry_run_before_issuance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_skipped_newer_is_mentioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_smb_retries_only_transient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_smb_retry_succeeds_when_the_share_returns,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_writes_files_with_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_owner_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_pfx_password_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_dry_run_before_issuance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_renames_key_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_kills_script_and_skips_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_failure_quotes_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_long_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_dry_run_not_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_program_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
