/* task_deploy_ccs.c — the deploy-ccs task: the certificate into a configured store with `ccs
 * deploy`'s semantics (tasks.h), tried again while the store is unreachable. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "manage/ids.h"
#include "manage/stop.h"
#include "manage/store_config.h"
#include "manage/task_types.h"
#include "store/deploy.h"
#include "util/log.h"

/* A store's mode when the configuration leaves it 0 (config.h: default 0640). */
#define STORE_MODE_DEFAULT 0640

/* ", N WHAT (a, b, c)": the files (or names) of the entries with ACTION, with their details when
 * WITH_DETAIL. Nothing when there are none. */
static void append_entries(char *buf, size_t size, const struct deploy_report *r,
                           enum deploy_action action, const char *what, int with_detail)
{
    size_t n = 0, listed = 0;

    for (size_t i = 0; i < r->count; i++)
        n += r->entries[i].action == action;
    if (n == 0)
        return;
    task_append(buf, size, ", %zu %s (", n, what);
    for (size_t i = 0; i < r->count; i++) {
        const struct deploy_entry *e = &r->entries[i];
        if (e->action != action)
            continue;
        task_append(buf, size, "%s%s", listed++ ? "; " : "", e->file[0] ? e->file : e->name);
        if (with_detail && e->detail[0])
            task_append(buf, size, ": %s", e->detail);
    }
    task_append(buf, size, ")");
}

/* "store NAME (/path): 3 written, 1 unchanged, 1 removed", then whatever else happened, by name:
 * skipped (a newer certificate in the store), kept, rejected names, IP addresses, failures. */
static void deploy_summary(const struct config_store *store, const struct deploy_report *r,
                           char *buf, size_t size)
{
    size_t counts[DEPLOY_FAILED + 1] = {0};

    for (size_t i = 0; i < r->count; i++)
        counts[r->entries[i].action]++;
    snprintf(buf, size, "%sstore %s (%s): %s%zu written, %zu unchanged, %zu removed",
             r->dry_run ? "dry run, nothing written: " : "", store->name, store->location,
             r->dry_run ? "would be " : "", counts[DEPLOY_WRITTEN], counts[DEPLOY_UNCHANGED],
             counts[DEPLOY_REMOVED]);
    append_entries(buf, size, r, DEPLOY_SKIPPED, "skipped, newer in the store", 0);
    append_entries(buf, size, r, DEPLOY_KEPT, "kept", 1);
    append_entries(buf, size, r, DEPLOY_REJECTED, "names rejected", 1);
    append_entries(buf, size, r, DEPLOY_NO_FILE, "IP addresses without a file", 0);
    append_entries(buf, size, r, DEPLOY_FAILED, "failed", 1);
}

/* One attempt at a deploy-ccs task: open the store, deploy, close. *TRANSIENT = 1 when it failed
 * because the store could not be reached or did not answer in time (worth another attempt). */
static void deploy_ccs_once(const struct config_store *store, const struct task_env *env,
                            const struct secret *password, long gid, struct task_result *out,
                            int *transient)
{
    struct deploy_source source;
    struct deploy_report report = {0};
    struct deploy_options opts;
    struct errbuf err = {""};
    struct store *st = NULL;
    int smb;

    *transient = 0;
    if (config_store_open(store, &st, &err) < 0)
        goto fail;
    if (env->dry_run && !task_is_issued(env)) {
        /* a plan before the first issuance: the store is ready, there is nothing to compare */
        task_result_set(out, 1,
                        "dry run, nothing written: store %s (%s): would receive the certificate "
                        "once it is issued",
                        store->name, store->location);
        goto out;
    }
    if (task_deploy_source(env, &source, &err) < 0)
        goto fail;
    smb = !store_has(st, STORE_CAP_POSIX_MODE);
    opts = (struct deploy_options){
        .password = password->value,
        .format = store->format,
        .write = {.mode = smb           ? 0
                          : store->mode ? store->mode
                                        : STORE_MODE_DEFAULT,
                  .gid = smb ? -1 : gid},
        .dry_run = env->dry_run,
        .now = env->now ? env->now : time(NULL),
    };
    /* the same reading and deploying as `ccs deploy` (store/deploy.h) */
    if (store_deploy_source(st, &source, &opts, &report, &err) < 0)
        goto fail;
    deploy_summary(store, &report, out->message, sizeof(out->message));
    out->ok = report.failed == 0;
    for (size_t i = 0; i < report.count && !out->ok; i++) {
        struct errbuf detail;
        snprintf(detail.msg, sizeof(detail.msg), "%s", report.entries[i].detail);
        if (report.entries[i].action == DEPLOY_FAILED && store_error_is_transient(&detail))
            *transient = 1;
    }
    goto out;
fail:
    *transient = store_error_is_transient(&err);
    task_result_set(out, 0, "store %s (%s): %s", store->name, store->location, err.msg);
out:
    deploy_report_free(&report);
    store_close(st);
}

/* A deploy-ccs task whose store is unreachable or slow (a file server rebooting, a network blip)
 * is tried again: DEPLOY_CCS_ATTEMPTS in all, waiting 2 s, 4 s, 8 s between them (14 s at most,
 * well inside a renewal run). A refusal (wrong password, access denied) is not retried. */
#define DEPLOY_CCS_ATTEMPTS 4
#define DEPLOY_CCS_FIRST_WAIT_S 2

static void run_deploy_ccs(const struct config_task *task, const struct task_env *env,
                           struct task_result *out)
{
    const struct config_store *store = config_find_store(env->cfg, task_or_empty(task->store));
    struct secret password = {0};
    struct errbuf err = {""};
    unsigned wait_s = DEPLOY_CCS_FIRST_WAIT_S;
    long gid = -1;
    int attempt, transient = 0;

    if (!store || !store->location) {
        task_result_set(out, 0, "deploy-ccs: no store \"%s\" is configured%s",
                        task_or_empty(task->store), store ? " with a location" : "");
        return;
    }
    if (ids_group(store->group, &gid, &err) < 0 ||
        task_load_password("store password", "password-file", store->password_file, &password,
                           &err) < 0) {
        task_result_set(out, 0, "store %s (%s): %s", store->name, store->location, err.msg);
        goto out;
    }
    for (attempt = 1;; attempt++) {
        deploy_ccs_once(store, env, &password, gid, out, &transient);
        if (out->ok || !transient || attempt == DEPLOY_CCS_ATTEMPTS || stop_requested())
            break;
        log_warning("task %s: %s; attempt %d of %d, the next in %u s", task->name, out->message,
                    attempt, DEPLOY_CCS_ATTEMPTS, wait_s);
        sleep(wait_s);
        wait_s *= 2;
        if (stop_requested())
            break;
    }
    if (attempt > 1) {
        char first[sizeof(out->message)];
        snprintf(first, sizeof(first), "%s", out->message);
        snprintf(out->message, sizeof(out->message), "attempt %d of %d%s: %s", attempt,
                 DEPLOY_CCS_ATTEMPTS, out->ok ? "" : " (store unreachable or timing out)", first);
    }
out:
    secret_free(&password);
}

const struct task_type_ops task_deploy_ccs_ops = {TASK_DEPLOY_CCS, run_deploy_ccs};
