/* task_script.c — the script task: a program run with the certificate and the renewal's result in
 * its environment, a timeout, its exit code honoured (tasks.h).
 *
 * A script gets ccs's environment without any inherited CCS_ variable, plus the CCS_ variables
 * describing this run, so every CCS_ value it sees is about this certificate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage/task_types.h"
#include "store/certinfo.h"
#include "util/log.h"
#include "util/spawn.h"

/* Room for "timed out after N s and was killed". */
#define SCRIPT_HOW_MAX 64
#define RFC3339_MAX 32

/* Every inherited CCS_ variable is dropped: the ones the script sees describe this run. */
static int script_env(const struct config_task *task, const struct task_env *env,
                      struct spawn_env *out)
{
    static const char *const drop[] = {"CCS_", NULL};
    char not_after[RFC3339_MAX] = "", *domains = NULL;
    size_t len = 1;
    int rc = -1;

    for (size_t i = 0; i < env->cert->domain_count; i++)
        len += strlen(env->cert->domains[i]) + 1;
    if (!(domains = calloc(1, len)))
        return -1;
    for (size_t i = 0; i < env->cert->domain_count; i++)
        task_append(domains, len, "%s%s", i ? " " : "", env->cert->domains[i]);
    if (env->not_after)
        format_utc(env->not_after, not_after, sizeof(not_after));
    if (spawn_env_set(out, "CCS_CERT_NAME", env->cert->name) < 0 ||
        spawn_env_set(out, "CCS_DOMAINS", domains) < 0 ||
        spawn_env_set(out, "CCS_CERT_PEM", task_or_empty(env->cert_pem)) < 0 ||
        spawn_env_set(out, "CCS_CHAIN_PEM", task_or_empty(env->chain_pem)) < 0 ||
        spawn_env_set(out, "CCS_FULLCHAIN_PEM", task_or_empty(env->fullchain_pem)) < 0 ||
        spawn_env_set(out, "CCS_KEY_PEM", task_or_empty(env->key_pem)) < 0 ||
        spawn_env_set(out, "CCS_THUMBPRINT", task_or_empty(env->thumbprint)) < 0 ||
        spawn_env_set(out, "CCS_NOT_AFTER", not_after) < 0 ||
        spawn_env_set(out, "CCS_RESULT", env->renewal_ok ? "success" : "failure") < 0 ||
        spawn_env_set(out, "CCS_TASK", task_or_empty(task->name)) < 0 ||
        spawn_env_set(out, "CCS_PHASE", task_phase_name(task->phase)) < 0 ||
        spawn_env_set(out, "CCS_DRY_RUN", env->dry_run ? "1" : "0") < 0 ||
        spawn_env_inherit(out, drop) < 0)
        goto out;
    rc = 0;
out:
    free(domains);
    return rc;
}

static void run_script(const struct config_task *task, const struct task_env *env,
                       struct task_result *out)
{
    int timeout_s = task->timeout_s > 0 ? task->timeout_s : CONFIG_DEFAULT_SCRIPT_TIMEOUT_S;
    char *argv[] = {task->program, NULL};
    struct spawn_options opts = {
        .program = task->program, .argv = argv, .timeout_s = timeout_s, .capture_stdout = 1};
    char how[SCRIPT_HOW_MAX], what[ERRBUF_SIZE];
    struct spawn_env senv = {0};
    struct spawn_result res;
    struct errbuf err = {""};

    if (spawn_check_program("script", task->program, &err) < 0) {
        task_result_set(out, 0, "%s", err.msg);
        return;
    }
    if (env->dry_run) {
        task_result_set(out, 1, "dry run, not run: would run %s (timeout %d s, CCS_RESULT=%s)",
                        task->program, timeout_s, env->renewal_ok ? "success" : "failure");
        return;
    }
    if (script_env(task, env, &senv) < 0) {
        task_result_set(out, 0, "script %s: out of memory", task->program);
        goto out;
    }
    opts.envp = senv.vars;
    log_debug("running script %s for %s (task %s)", task->program, env->cert->name, task->name);
    switch (spawn_run(&opts, &res)) {
    case SPAWN_NO_PIPE:
        errbuf_set_errno(&err, "script %s: cannot create a pipe", task->program);
        task_result_set(out, 0, "%s", err.msg);
        goto out;
    case SPAWN_NOT_RUN:
        out->stopped = errno == ECANCELED;
        errbuf_set_errno(&err, "script %s: cannot run it", task->program);
        task_result_set(out, 0, "%s", err.msg);
        goto out;
    case SPAWN_RAN:
        break;
    }
    spawn_describe(&res, timeout_s, how, sizeof(how));
    snprintf(what, sizeof(what), "script %s %s", task->program, how);
    spawn_quote_tail(&err, what, &res);
    task_result_set(out, spawn_succeeded(&res), "%s", err.msg);
    out->stopped = res.stopped;
out:
    spawn_env_free(&senv);
}

const struct task_type_ops task_script_ops = {TASK_SCRIPT, run_script};
