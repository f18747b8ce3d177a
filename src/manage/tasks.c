/* tasks.c — deployment tasks: deploy-ccs, export, script; triggers and sequencing (tasks.h).
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
 *  - An exported PFX takes its password from the task's pfx-password-file, else the
 *    certificate's, else (as config.h defines a certificate without one) the password file of the
 *    store of the certificate's first deploy-ccs task; with none, the task fails.
 *  - Modes of exported files: mode 0 means "not set". The key and the PFX get the task's mode
 *    with everything above 0640 cleared (a key is never group-writable or world-readable), 0640
 *    when unset; cert, chain and fullchain get the task's mode, 0644 when unset.
 *  - A dry run checks everything it can without writing (stores open, passwords load, owners
 *    exist, programs are executable) and says what it would do; a script is not run.
 *  - A script gets ccs's environment without any inherited CCS_ variable, plus the CCS_ variables
 *    describing this run, so every CCS_ value it sees is about this certificate. */
#include "manage/tasks.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manage/store_config.h"
#include "manage/stop.h"
#include "store/deploy.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/spawn.h"
#include "util/testpoint.h"

/* Exported files when the task sets no mode: certificates are public, keys are not. */
#define EXPORT_CERT_MODE_DEFAULT 0644
#define EXPORT_KEY_MODE_DEFAULT 0640
/* The most a key or PFX is ever opened up to, whatever mode is configured. */
#define EXPORT_KEY_MODE_MAX 0640
#define EXPORT_MODE_BITS 0777
/* A store's mode when the configuration leaves it 0 (config.h: default 0640). */
#define STORE_MODE_DEFAULT 0640
/* getpwnam_r/getgrnam_r buffers: start small, double on ERANGE up to this (a group with many
 * members needs more than sysconf's hint). */
#define ID_LOOKUP_BUF_START 1024
#define ID_LOOKUP_BUF_MAX (1024 * 1024)
/* Room for "timed out after N s and was killed". */
#define SCRIPT_HOW_MAX 64
#define RFC3339_MAX 32

/* ---- small helpers ---- */

static void result_set(struct task_result *out, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result_set(struct task_result *out, int ok, const char *fmt, ...)
{
    va_list ap;

    out->ok = ok;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* Append to the message in BUF (SIZE bytes); what does not fit is cut. */
static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* A plain decimal id ("33"), as chown(1) accepts. */
static int parse_numeric_id(const char *text, long *out)
{
    char *end;
    long v;

    if (!text[0] || strspn(text, "0123456789") != strlen(text))
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end)
        return -1;
    *out = v;
    return 0;
}

/* One reentrant database lookup: fills *ID and returns 0 when NAME was found, -1 when it does
 * not exist, or an errno value (ERANGE: BUF too small). */
typedef int (*id_lookup_fn)(const char *name, char *buf, size_t size, long *id);

static int user_lookup(const char *name, char *buf, size_t size, long *id)
{
    struct passwd pw, *found = NULL;
    int rc = getpwnam_r(name, &pw, buf, size, &found);

    if (rc == 0 && found)
        *id = (long)pw.pw_uid;
    return rc != 0 ? rc : found ? 0 : -1;
}

static int group_lookup(const char *name, char *buf, size_t size, long *id)
{
    struct group gr, *found = NULL;
    int rc = getgrnam_r(name, &gr, buf, size, &found);

    if (rc == 0 && found)
        *id = (long)gr.gr_gid;
    return rc != 0 ? rc : found ? 0 : -1;
}

/* NAME (a user or group, as KIND says) as an id; NULL NAME gives -1, "leave unchanged". */
static int id_of(const char *kind, const char *name, id_lookup_fn lookup, long *out,
                 struct errbuf *err)
{
    size_t size = ID_LOOKUP_BUF_START;
    char *buf = NULL;
    int rc;

    *out = -1;
    if (!name)
        return 0;
    if (parse_numeric_id(name, out) == 0)
        return 0;
    for (;;) {
        char *bigger = realloc(buf, size);
        if (!bigger) {
            free(buf);
            return errbuf_set(err, "%s \"%s\": out of memory", kind, name);
        }
        buf = bigger;
        rc = lookup(name, buf, size, out);
        if (rc != ERANGE || size >= ID_LOOKUP_BUF_MAX)
            break;
        size *= 2;
    }
    free(buf);
    if (rc < 0)
        return errbuf_set(err, "no %s \"%s\" on this system", kind, name);
    if (rc != 0) {
        errno = rc;
        return errbuf_set_errno(err, "cannot look up %s \"%s\"", kind, name);
    }
    return 0;
}

static int read_pem(const char *path, const char *what, struct bytes *out, struct errbuf *err)
{
    if (!path)
        return errbuf_set(err, "the certificate has no %s file yet (not issued)", what);
    return bytes_read_file(path, CERT_INPUT_MAX, out, err);
}

/* The certificate with its key and chain, from ENV's PEM files: the full chain when there is one,
 * else the certificate and (when there is one) the chain. */
static int load_bundle(const struct task_env *env, struct pfx_bundle *out, struct errbuf *err)
{
    const char *cert_path = env->fullchain_pem ? env->fullchain_pem : env->cert_pem;
    const char *chain_path = env->fullchain_pem ? NULL : env->chain_pem;
    struct bytes cert = {0}, key = {0}, chain = {0};
    struct pem_input chain_in = {&chain, chain_path};
    int rc = -1;

    if (read_pem(cert_path, "certificate", &cert, err) < 0 ||
        read_pem(env->key_pem, "key", &key, err) < 0 ||
        (chain_path && read_pem(chain_path, "chain", &chain, err) < 0))
        goto out;
    rc = pfx_bundle_from_pem((struct pem_input){&cert, cert_path},
                             (struct pem_input){&key, env->key_pem}, chain_path ? &chain_in : NULL,
                             out, err);
out:
    bytes_free(&cert);
    bytes_free(&key);
    bytes_free(&chain);
    return rc;
}

static int load_password(const char *what, const char *option, const char *path, struct secret *out,
                         struct errbuf *err)
{
    struct secret_source src = {.what = what, .option = option, .path = path};

    return secret_load(&src, out, err);
}

/* ---- deploy-ccs ---- */

static int load_previous(const char *path, X509 **out, struct errbuf *err)
{
    if (cert_read_pem_file(path, out, NULL, err) < 0)
        return errbuf_prefix(err, "previous certificate");
    return 0;
}

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
    append(buf, size, ", %zu %s (", n, what);
    for (size_t i = 0; i < r->count; i++) {
        const struct deploy_entry *e = &r->entries[i];
        if (e->action != action)
            continue;
        append(buf, size, "%s%s", listed++ ? "; " : "", e->file[0] ? e->file : e->name);
        if (with_detail && e->detail[0])
            append(buf, size, ": %s", e->detail);
    }
    append(buf, size, ")");
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

/* Whether ENV has the certificate's files: not before its first issuance. */
static int is_issued(const struct task_env *env)
{
    return env->key_pem && (env->fullchain_pem || env->cert_pem);
}

/* One attempt at a deploy-ccs task: open the store, deploy, close. *TRANSIENT = 1 when it failed
 * because the store could not be reached or did not answer in time (worth another attempt). */
static void deploy_ccs_once(const struct config_store *store, const struct task_env *env,
                            const struct secret *password, long gid, struct task_result *out,
                            int *transient)
{
    struct pfx_bundle bundle = {0};
    struct deploy_report report = {0};
    struct deploy_options opts;
    struct errbuf err = {""};
    struct store *st = NULL;
    X509 *previous = NULL;
    int smb;

    *transient = 0;
    if (config_store_open(store, &st, &err) < 0)
        goto fail;
    if (env->dry_run && !is_issued(env)) {
        /* a plan before the first issuance: the store is ready, there is nothing to compare */
        result_set(out, 1,
                   "dry run, nothing written: store %s (%s): would receive the certificate "
                   "once it is issued",
                   store->name, store->location);
        goto out;
    }
    if (load_bundle(env, &bundle, &err) < 0 ||
        (env->previous_cert_pem && load_previous(env->previous_cert_pem, &previous, &err) < 0))
        goto fail;
    smb = !store_has(st, STORE_CAP_POSIX_MODE);
    opts = (struct deploy_options){
        .password = password->value,
        .format = store->format,
        .write = {.mode = smb ? 0 : store->mode ? store->mode : STORE_MODE_DEFAULT,
                  .gid = smb ? -1 : gid},
        .dry_run = env->dry_run,
        .previous = previous,
        .now = env->now ? env->now : time(NULL),
    };
    if (store_deploy(st, &bundle, &opts, &report, &err) < 0)
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
    result_set(out, 0, "store %s (%s): %s", store->name, store->location, err.msg);
out:
    deploy_report_free(&report);
    X509_free(previous);
    pfx_bundle_free(&bundle);
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
    const struct config_store *store = config_find_store(env->cfg, or_empty(task->store));
    struct secret password = {0};
    struct errbuf err = {""};
    unsigned wait_s = DEPLOY_CCS_FIRST_WAIT_S;
    long gid = -1;
    int attempt, transient = 0;

    if (!store || !store->location) {
        result_set(out, 0, "deploy-ccs: no store \"%s\" is configured%s", or_empty(task->store),
                   store ? " with a location" : "");
        return;
    }
    if (id_of("group", store->group, group_lookup, &gid, &err) < 0 ||
        load_password("store password", "password-file", store->password_file, &password, &err) <
            0) {
        result_set(out, 0, "store %s (%s): %s", store->name, store->location, err.msg);
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

/* ---- export ---- */

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
    for (size_t i = 0; i < env->cfg->task_count; i++) {
        const struct config_task *t = &env->cfg->tasks[i];
        const struct config_store *store;

        if (t->type != TASK_DEPLOY_CCS || !t->certificate || !t->store ||
            strcmp(t->certificate, env->cert->name) != 0)
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
    int rc = -1;

    if (!password_file)
        return errbuf_set(err, "export pfx needs a password file (pfx-password-file in the task "
                               "or its certificate, or a deploy-ccs task whose store has one)");
    if (load_password("PFX password", "pfx-password-file", password_file, &password, err) < 0 ||
        (!password_only && load_bundle(env, &bundle, err) < 0))
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
    int any = 0, plan_only = env->dry_run && !is_issued(env);

    for (int k = 0; k < EXPORT_KINDS; k++) {
        files[k].path = paths[k];
        files[k].mode = export_mode(task, (enum export_kind)k);
        if (!paths[k])
            continue;
        any = 1;
        if (k == EXPORT_PFX ? export_pfx(task, env, plan_only, &files[k].data, err) < 0
                            : !plan_only && read_pem(sources[k], names[k], &files[k].data, err) < 0)
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
            append(out, size, "%s%s (%04o)", listed++ ? ", " : "", files[k].path, files[k].mode);
    if (task->owner || task->group)
        append(out, size, ", owner %s, group %s", task->owner ? task->owner : "unchanged",
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

    if (id_of("user", task->owner, user_lookup, &uid, &err) < 0 ||
        id_of("group", task->group, group_lookup, &gid, &err) < 0 ||
        export_prepare(task, env, files, &err) < 0) {
        result_set(out, 0, "export: %s", err.msg);
        goto out;
    }
    for (int k = 0; k < EXPORT_KINDS; k++)
        planned += files[k].path != NULL;
    export_describe(task, files, what, sizeof(what));
    if (env->dry_run) {
        result_set(out, 1, "dry run, nothing written: would write %s%s", what,
                   is_issued(env) ? "" : " once the certificate is issued");
        goto out;
    }
    if (export_make_dirs(task, files, &err) < 0 ||
        export_stage(files, uid, gid, stages, &err) < 0) {
        result_set(out, 0, "export: %s; nothing changed", err.msg);
        goto out;
    }
    if (export_commit(task, stages, files, &renamed, &err) < 0) {
        result_set(out, 0, "export: %s after %zu of %zu files were replaced; the export is redone "
                           "in full",
                   err.msg, renamed, planned);
        goto out;
    }
    result_set(out, 1, "wrote %s", what);
out:
    for (int k = 0; k < EXPORT_KINDS; k++)
        bytes_free(&files[k].data);
}

/* ---- script ---- */

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
        append(domains, len, "%s%s", i ? " " : "", env->cert->domains[i]);
    if (env->not_after)
        format_utc(env->not_after, not_after, sizeof(not_after));
    if (spawn_env_set(out, "CCS_CERT_NAME", env->cert->name) < 0 ||
        spawn_env_set(out, "CCS_DOMAINS", domains) < 0 ||
        spawn_env_set(out, "CCS_CERT_PEM", or_empty(env->cert_pem)) < 0 ||
        spawn_env_set(out, "CCS_CHAIN_PEM", or_empty(env->chain_pem)) < 0 ||
        spawn_env_set(out, "CCS_FULLCHAIN_PEM", or_empty(env->fullchain_pem)) < 0 ||
        spawn_env_set(out, "CCS_KEY_PEM", or_empty(env->key_pem)) < 0 ||
        spawn_env_set(out, "CCS_THUMBPRINT", or_empty(env->thumbprint)) < 0 ||
        spawn_env_set(out, "CCS_NOT_AFTER", not_after) < 0 ||
        spawn_env_set(out, "CCS_RESULT", env->renewal_ok ? "success" : "failure") < 0 ||
        spawn_env_set(out, "CCS_TASK", or_empty(task->name)) < 0 ||
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
        result_set(out, 0, "%s", err.msg);
        return;
    }
    if (env->dry_run) {
        result_set(out, 1, "dry run, not run: would run %s (timeout %d s, CCS_RESULT=%s)",
                   task->program, timeout_s, env->renewal_ok ? "success" : "failure");
        return;
    }
    if (script_env(task, env, &senv) < 0) {
        result_set(out, 0, "script %s: out of memory", task->program);
        goto out;
    }
    opts.envp = senv.vars;
    log_debug("running script %s for %s (task %s)", task->program, env->cert->name, task->name);
    switch (spawn_run(&opts, &res)) {
    case SPAWN_NO_PIPE:
        errbuf_set_errno(&err, "script %s: cannot create a pipe", task->program);
        result_set(out, 0, "%s", err.msg);
        goto out;
    case SPAWN_NOT_RUN:
        out->stopped = errno == ECANCELED;
        errbuf_set_errno(&err, "script %s: cannot run it", task->program);
        result_set(out, 0, "%s", err.msg);
        goto out;
    case SPAWN_RAN:
        break;
    }
    spawn_describe(&res, timeout_s, how, sizeof(how));
    snprintf(what, sizeof(what), "script %s %s", task->program, how);
    spawn_quote_tail(&err, what, &res);
    result_set(out, spawn_succeeded(&res), "%s", err.msg);
    out->stopped = res.stopped;
out:
    spawn_env_free(&senv);
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
        result_set(out, 0, "task %s: no certificate or configuration given", or_empty(task->name));
        return;
    }
    switch (task->type) {
    case TASK_DEPLOY_CCS:
        run_deploy_ccs(task, env, out);
        return;
    case TASK_EXPORT:
        run_export(task, env, out);
        return;
    case TASK_SCRIPT:
        run_script(task, env, out);
        return;
    }
    result_set(out, 0, "task %s: unknown type %d", or_empty(task->name), (int)task->type);
}

/* Why TASK's trigger does not fire for ENV (only called when it does not). */
static void trigger_skip_reason(const struct config_task *task, const struct task_env *env,
                                struct task_result *out)
{
    if (task->trigger == TRIGGER_MANUAL)
        result_set(out, 1, "skipped: trigger manual, run only by `ccs task run`");
    else
        result_set(out, 1, "skipped: trigger %s, and the renewal %s",
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
    for (size_t i = 0; i < env->cfg->task_count; i++) {
        const struct config_task *task = &env->cfg->tasks[i];
        enum task_pick pick = TASK_PICK_RUN;

        if (task->phase != phase || !task->certificate ||
            strcmp(task->certificate, env->cert->name) != 0)
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
            result_set(&result, 0, "skipped: ccs is stopping");
            result.stopped = 1;
            out->skipped++;
            out->stopped++;
        } else if (pick == TASK_PICK_HOLD) {
            result.ok = 0; /* WHY was set by the pick */
            out->skipped++;
            if (!failed_task)
                failed_task = task->name;
        } else if (failed_task && !task->run_if_previous_failed) {
            result_set(&result, 0, "skipped: previous task %s failed", failed_task);
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
