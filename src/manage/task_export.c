/* task_export.c — the export task: PEM files and/or a PFX written to paths, as one unit (tasks.h).
 *
 * Decisions this file keeps:
 *  - An exported PFX takes its password from the task's pfx-password-file, else the
 *    certificate's, else (as config.h defines a certificate without one) the password file of the
 *    store of the certificate's first deploy-ccs task; with none, the task fails.
 *  - Modes of exported files: mode 0 means "not set". The key and the PFX get the task's mode
 *    with everything above 0640 cleared (a key is never group-writable or world-readable), 0640
 *    when unset; cert, chain and fullchain get the task's mode, 0644 when unset. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "manage/ids.h"
#include "manage/task_types.h"
#include "util/fileio.h"
#include "util/testpoint.h"

/* Exported files when the task sets no mode: certificates are public, keys are not. */
#define EXPORT_CERT_MODE_DEFAULT 0644
#define EXPORT_KEY_MODE_DEFAULT 0640
/* The most a key or PFX is ever opened up to, whatever mode is configured. */
#define EXPORT_KEY_MODE_MAX 0640
#define EXPORT_MODE_BITS 0777

enum export_kind {
    EXPORT_CERT,
    EXPORT_CHAIN,
    EXPORT_FULLCHAIN,
    EXPORT_KEY,
    EXPORT_PFX,
    EXPORT_KINDS
};

struct export_file {
    const char *path; /* where it goes; NULL: not configured */
    unsigned mode;
    struct bytes data;
};

static unsigned export_mode(const struct config_task *task, enum export_kind kind)
{
    int secret = kind == EXPORT_KEY || kind == EXPORT_PFX;

    if (!task->mode)
        return secret ? EXPORT_KEY_MODE_DEFAULT : EXPORT_CERT_MODE_DEFAULT;
    return task->mode & (secret ? EXPORT_KEY_MODE_MAX : EXPORT_MODE_BITS);
}

/* The password file for an exported PFX: the task's pfx-password-file, else the certificate's,
 * else (config.h) the password file of the store of the certificate's first deploy-ccs task. */
static const char *export_pfx_password_file(const struct config_task *task,
                                            const struct task_env *env)
{
    if (task->pfx_password_file)
        return task->pfx_password_file;
    if (env->cert->pfx_password_file)
        return env->cert->pfx_password_file;
    for (size_t i = cert_tasks_first(env->cfg, env->tasks, env->cert); i != CERT_TASKS_END;
         i = cert_tasks_next(env->cfg, env->tasks, env->cert, i)) {
        const struct config_task *t = &env->cfg->tasks[i];
        const struct config_store *store;

        if (t->type != TASK_DEPLOY_CCS || !t->store)
            continue;
        store = config_find_store(env->cfg, t->store);
        return store ? store->password_file : NULL;
    }
    return NULL;
}

/* The PFX of ENV's certificate, in the compat format, named after the certificate. With
 * PASSWORD_ONLY, only check that the password loads. */
static int export_pfx(const struct config_task *task, const struct task_env *env, int password_only,
                      struct bytes *out, struct errbuf *err)
{
    const char *password_file = export_pfx_password_file(task, env);
    struct secret password = {0};
    struct pfx_bundle bundle = {0};
    struct deploy_source source;
    int rc = -1;

    if (!password_file)
        return errbuf_set(err, "export pfx needs a password file (pfx-password-file in the task "
                               "or its certificate, or a deploy-ccs task whose store has one)");
    if (task_load_password("PFX password", "pfx-password-file", password_file, &password, err) <
            0 ||
        (!password_only && (task_deploy_source(env, &source, err) < 0 ||
                            deploy_source_read(&source, &bundle, err) < 0)))
        goto out;
    rc = password_only
             ? 0
             : pfx_encode(&bundle, password.value, PFX_FORMAT_COMPAT, env->cert->name, out, err);
out:
    pfx_bundle_free(&bundle);
    secret_free(&password);
    return rc;
}

/* Everything the export will write, read and built before anything is written: a missing
 * source or a wrong password leaves every destination as it was. A dry run before the first
 * issuance checks what it can (the PFX password) and reads nothing. */
static int export_prepare(const struct config_task *task, const struct task_env *env,
                          struct export_file files[EXPORT_KINDS], struct errbuf *err)
{
    const char *paths[EXPORT_KINDS] = {task->cert_path, task->chain_path, task->fullchain_path,
                                       task->key_path, task->pfx_path};
    const char *sources[EXPORT_KINDS] = {env->cert_pem, env->chain_pem, env->fullchain_pem,
                                         env->key_pem, NULL};
    const char *names[EXPORT_KINDS] = {"certificate", "chain", "fullchain", "key", "pfx"};
    int any = 0, plan_only = env->dry_run && !task_is_issued(env);

    for (int k = 0; k < EXPORT_KINDS; k++) {
        files[k].path = paths[k];
        files[k].mode = export_mode(task, (enum export_kind)k);
        if (!paths[k])
            continue;
        any = 1;
        if (k == EXPORT_PFX
                ? export_pfx(task, env, plan_only, &files[k].data, err) < 0
                : !plan_only && task_read_pem(sources[k], names[k], &files[k].data, err) < 0)
            return errbuf_prefix(err, "%s %s", names[k], paths[k]);
    }
    if (!any)
        return errbuf_set(err, "no file to export (cert, chain, fullchain, key or pfx)");
    return 0;
}

/* The order of the renames: the key first, so that a reader never finds a new certificate beside
 * the old key (only, for as long as the renames take, the old certificate beside the new key,
 * when the key changed at all); then the files that pair with it; then the self-contained ones. */
static const enum export_kind rename_order[EXPORT_KINDS] = {EXPORT_KEY, EXPORT_FULLCHAIN,
                                                            EXPORT_CERT, EXPORT_CHAIN, EXPORT_PFX};

/* Stage every configured file (written, owned, flushed under a temp name). On failure the ones
 * staged are discarded: no destination has changed. */
static int export_stage(const struct export_file files[EXPORT_KINDS], long uid, long gid,
                        struct file_stage stages[EXPORT_KINDS], struct errbuf *err)
{
    for (int k = 0; k < EXPORT_KINDS; k++) {
        stages[k].temp[0] = '\0';
        if (files[k].path && file_stage(files[k].path, files[k].data.data, files[k].data.len,
                                        files[k].mode, uid, gid, &stages[k], err) < 0) {
            for (int j = 0; j < k; j++)
                file_stage_discard(&stages[j]);
            return -1;
        }
    }
    return 0;
}

/* Rename the staged files over their destinations, back to back in rename_order, then flush the
 * directories. On a failed rename the rest are discarded; *RENAMED says how far it got. */
static int export_commit(const struct config_task *task, struct file_stage stages[EXPORT_KINDS],
                         const struct export_file files[EXPORT_KINDS], size_t *renamed,
                         struct errbuf *err)
{
    int rc = 0;

    *renamed = 0;
    for (int i = 0; i < EXPORT_KINDS; i++) {
        enum export_kind k = rename_order[i];
        if (!files[k].path)
            continue;
        if (rc == 0 && file_stage_commit(&stages[k], err) == 0) {
            ++*renamed;
            test_point("export-renamed:%s.%s:%zu", task->certificate, task->name, *renamed);
        } else {
            file_stage_discard(&stages[k]);
            rc = -1;
        }
    }
    for (int k = 0; k < EXPORT_KINDS; k++)
        if (files[k].path)
            file_sync_parent(files[k].path);
    return rc;
}

/* The directories of an export the configuration implies (config.h: dir_mode), made when
 * missing. A task of the file writes into directories that exist: a typo in a path must not make
 * a tree of directories somewhere. */
static int export_make_dirs(const struct config_task *task,
                            const struct export_file files[EXPORT_KINDS], struct errbuf *err)
{
    char dir[PATH_MAX];

    if (!task->dir_mode)
        return 0;
    for (int k = 0; k < EXPORT_KINDS; k++) {
        char *slash;
        if (!files[k].path)
            continue;
        snprintf(dir, sizeof(dir), "%s", files[k].path);
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            continue;
        *slash = '\0';
        if (dir_create(dir, task->dir_mode, err) < 0)
            return -1;
    }
    return 0;
}

/* "PATH (MODE), PATH (MODE)[, owner O, group G]": what the export writes. */
static void export_describe(const struct config_task *task,
                            const struct export_file files[EXPORT_KINDS], char *out, size_t size)
{
    size_t listed = 0;

    out[0] = '\0';
    for (int k = 0; k < EXPORT_KINDS; k++)
        if (files[k].path)
            task_append(out, size, "%s%s (%04o)", listed++ ? ", " : "", files[k].path,
                        files[k].mode);
    if (task->owner || task->group)
        task_append(out, size, ", owner %s, group %s", task->owner ? task->owner : "unchanged",
                    task->group ? task->group : "unchanged");
}

static void run_export(const struct config_task *task, const struct task_env *env,
                       struct task_result *out)
{
    struct export_file files[EXPORT_KINDS] = {0};
    struct file_stage stages[EXPORT_KINDS];
    struct errbuf err = {""};
    char what[ERRBUF_SIZE];
    size_t planned = 0, renamed = 0;
    long uid = -1, gid = -1;

    if (ids_user(task->owner, &uid, &err) < 0 || ids_group(task->group, &gid, &err) < 0 ||
        export_prepare(task, env, files, &err) < 0) {
        task_result_set(out, 0, "export: %s", err.msg);
        goto out;
    }
    for (int k = 0; k < EXPORT_KINDS; k++)
        planned += files[k].path != NULL;
    export_describe(task, files, what, sizeof(what));
    if (env->dry_run) {
        task_result_set(out, 1, "dry run, nothing written: would write %s%s", what,
                        task_is_issued(env) ? "" : " once the certificate is issued");
        goto out;
    }
    if (export_make_dirs(task, files, &err) < 0 ||
        export_stage(files, uid, gid, stages, &err) < 0) {
        task_result_set(out, 0, "export: %s; nothing changed", err.msg);
        goto out;
    }
    if (export_commit(task, stages, files, &renamed, &err) < 0) {
        task_result_set(out, 0,
                        "export: %s after %zu of %zu files were replaced; the export is redone "
                        "in full",
                        err.msg, renamed, planned);
        goto out;
    }
    task_result_set(out, 1, "wrote %s", what);
out:
    for (int k = 0; k < EXPORT_KINDS; k++)
        bytes_free(&files[k].data);
}

const struct task_type_ops task_export_ops = {TASK_EXPORT, run_export};
