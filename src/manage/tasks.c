/* tasks.c — deployment tasks: triggers, sequencing and the dispatch to the task types (tasks.h);
 * each type is a file of its own (task_types.h): task_deploy_ccs.c, task_export.c, task_script.c.
 *
 * Decisions this file keeps (the header leaves them open):
 *  - A manual run (`ccs task run CERT TASK`, ENV->manual) runs the task whatever its trigger: the
 *    operator asked for it by name. Otherwise on-success fires on a successful renewal, on-error on
 *    a failed one, any on both, and manual never.
 *  - A skipped task is reported with ran = 0 and the reason. ok = 1 when its trigger did not fire
 *    (nothing was due), ok = 0 when it was skipped because an earlier task of the phase failed,
 *    was held back (a retry still backing off), or ccs is stopping (then stopped = 1): its work is
 *    then not done. Skips never set fatal_failure; only a fatal task that ran and failed does, and
 *    a task cut short by a stop has not failed.
 *  - A failure in a phase sticks: every later task of that phase without run-if-previous-failed is
 *    skipped, even when a run-if-previous-failed task in between succeeded.
 *  - A dry run checks everything it can without writing (stores open, passwords load, owners
 *    exist, programs are executable) and says what it would do; a script is not run. Each type
 *    keeps this for its own work. */
#include "manage/tasks.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "manage/stop.h"
#include "manage/task_types.h"
#include "util/log.h"
#include "util/testpoint.h"

/* Every task type, by enum task_type. */
static const struct task_type_ops *const task_types[] = {&task_deploy_ccs_ops, &task_export_ops,
                                                         &task_script_ops};

/* ---- what the types share (task_types.h) ---- */

void task_result_set(struct task_result *out, int ok, const char *fmt, ...)
{
    va_list ap;

    out->ok = ok;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

void task_append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

const char *task_or_empty(const char *s)
{
    return s ? s : "";
}

int task_read_pem(const char *path, const char *what, struct bytes *out, struct errbuf *err)
{
    if (!path)
        return errbuf_set(err, "the certificate has no %s file yet (not issued)", what);
    return bytes_read_file(path, CERT_INPUT_MAX, out, err);
}

int task_deploy_source(const struct task_env *env, struct deploy_source *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    out->cert = env->fullchain_pem ? env->fullchain_pem : env->cert_pem;
    out->chain = env->fullchain_pem ? NULL : env->chain_pem;
    out->key = env->key_pem;
    out->previous = env->previous_cert_pem;
    if (!out->cert)
        return errbuf_set(err, "the certificate has no certificate file yet (not issued)");
    if (!out->key)
        return errbuf_set(err, "the certificate has no key file yet (not issued)");
    return 0;
}

int task_load_password(const char *what, const char *option, const char *path, struct secret *out,
                       struct errbuf *err)
{
    struct secret_source src = {.what = what, .option = option, .path = path};

    return secret_load(&src, out, err);
}

int task_is_issued(const struct task_env *env)
{
    return env->key_pem && (env->fullchain_pem || env->cert_pem);
}

/* ---- triggers and sequencing ---- */

int task_trigger_matches(const struct config_task *task, const struct task_env *env)
{
    if (env->manual)
        return 1; /* `ccs task run`: the operator named it */
    switch (task->trigger) {
    case TRIGGER_ON_SUCCESS:
        return env->renewal_ok;
    case TRIGGER_ON_ERROR:
        return !env->renewal_ok;
    case TRIGGER_ANY:
        return 1;
    case TRIGGER_MANUAL:
        return 0;
    }
    return 0;
}

void task_run(const struct config_task *task, const struct task_env *env, struct task_result *out)
{
    memset(out, 0, sizeof(*out));
    out->ran = 1;
    if (!env->cert || !env->cfg) {
        task_result_set(out, 0, "task %s: no certificate or configuration given",
                        task_or_empty(task->name));
        return;
    }
    for (size_t i = 0; i < sizeof(task_types) / sizeof(task_types[0]); i++)
        if (task_types[i]->type == task->type) {
            task_types[i]->run(task, env, out);
            return;
        }
    task_result_set(out, 0, "task %s: unknown type %d", task_or_empty(task->name), (int)task->type);
}

/* Why TASK's trigger does not fire for ENV (only called when it does not). */
static void trigger_skip_reason(const struct config_task *task, const struct task_env *env,
                                struct task_result *out)
{
    if (task->trigger == TRIGGER_MANUAL)
        task_result_set(out, 1, "skipped: trigger manual, run only by `ccs task run`");
    else
        task_result_set(out, 1, "skipped: trigger %s, and the renewal %s",
                        task_trigger_name(task->trigger), env->renewal_ok ? "succeeded" : "failed");
}

/* Run TASK, between the test points a kill test stops at. */
static void run_between_points(const struct config_task *task, const struct task_env *env,
                               struct task_result *result)
{
    test_point("task-start:%s.%s", task->certificate, task->name);
    task_run(task, env, result);
    test_point("task-done:%s.%s", task->certificate, task->name);
}

void tasks_run_phase(enum task_phase phase, const struct task_env *env,
                     const struct phase_hooks *hooks, struct phase_result *out)
{
    const char *failed_task = NULL; /* the first task of this phase that failed (or is held) */
    struct task_result result;

    memset(out, 0, sizeof(*out));
    for (size_t i = cert_tasks_first(env->cfg, env->tasks, env->cert); i != CERT_TASKS_END;
         i = cert_tasks_next(env->cfg, env->tasks, env->cert, i)) {
        const struct config_task *task = &env->cfg->tasks[i];
        enum task_pick pick = TASK_PICK_RUN;

        if (task->phase != phase)
            continue;
        memset(&result, 0, sizeof(result));
        if (hooks && hooks->pick)
            pick = hooks->pick(hooks->ctx, task, &result);
        if (pick == TASK_PICK_IGNORE)
            continue;
        if (!task_trigger_matches(task, env)) {
            trigger_skip_reason(task, env, &result);
            out->skipped++;
        } else if (stop_requested()) {
            task_result_set(&result, 0, "skipped: ccs is stopping");
            result.stopped = 1;
            out->skipped++;
            out->stopped++;
        } else if (pick == TASK_PICK_HOLD) {
            result.ok = 0; /* WHY was set by the pick */
            out->skipped++;
            if (!failed_task)
                failed_task = task->name;
        } else if (failed_task && !task->run_if_previous_failed) {
            task_result_set(&result, 0, "skipped: previous task %s failed", failed_task);
            out->skipped++;
        } else {
            run_between_points(task, env, &result);
            out->ran++;
            out->stopped += result.stopped;
            if (!result.ok && !result.stopped) {
                out->failed++;
                if (task->fatal)
                    out->fatal_failure = 1;
            }
            if (!result.ok && !failed_task)
                failed_task = task->name;
        }
        log_debug("%s task %s.%s: %s", task_phase_name(phase), task->certificate, task->name,
                  result.message);
        if (hooks && hooks->report)
            hooks->report(hooks->ctx, task, &result);
    }
}
