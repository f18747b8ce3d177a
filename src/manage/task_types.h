/* task_types.h — the task types behind tasks.h, private to src/manage.
 *
 * One file per type, as the challenge solvers are (src/acme/challenge_*.c): task_deploy_ccs.c,
 * task_export.c, task_script.c, each defining its ops. tasks.c keeps what is the same for every
 * type — triggers, sequencing, stops, the test points, the dispatch through these ops — and the
 * few helpers below that the types share. A new type is one new file and one line in tasks.c's
 * table. */
#ifndef CCS_MANAGE_TASK_TYPES_H
#define CCS_MANAGE_TASK_TYPES_H

#include <stddef.h>

#include "manage/tasks.h"
#include "store/deploy.h"
#include "store/pfx.h"
#include "util/bytes.h"
#include "util/secret.h"

struct task_type_ops {
    enum task_type type;
    /* Run TASK for ENV now (its trigger was checked, OUT is zeroed and marked ran, ENV has its
     * certificate and configuration). Never returns without filling OUT. */
    void (*run)(const struct config_task *task, const struct task_env *env,
                struct task_result *out);
};

extern const struct task_type_ops task_deploy_ccs_ops;
extern const struct task_type_ops task_export_ops;
extern const struct task_type_ops task_script_ops;

/* OUT->ok = OK and the message, printf-style. */
void task_result_set(struct task_result *out, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append to the message in BUF (SIZE bytes); what does not fit is cut. */
void task_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *task_or_empty(const char *s);

/* Whether ENV has the certificate's files: not before its first issuance. */
int task_is_issued(const struct task_env *env);

/* The PEM file at PATH (WHAT it is, for the error when the certificate has none yet). */
int task_read_pem(const char *path, const char *what, struct bytes *out, struct errbuf *err);

/* ENV's certificate as what a deploy reads (store/deploy.h): the full chain when there is one,
 * else the certificate and (when there is one) the chain; the key; the previous certificate. -1
 * (ERR says so) before the first issuance. */
int task_deploy_source(const struct task_env *env, struct deploy_source *out, struct errbuf *err);

/* A password from the file at PATH (WHAT it is and the OPTION that names it, for errors). */
int task_load_password(const char *what, const char *option, const char *path, struct secret *out,
                       struct errbuf *err);

#endif
