/* cert_tasks.h — each certificate's tasks, in configuration order, found without scanning every
 * task: the views and the renewal plan over 100,000 certificates ask "the tasks of this
 * certificate" once per certificate, and a scan of all tasks each time made them quadratic
 * (issue 11).
 *
 * Two arrays, built in one pass over the tasks: FIRST[C] is the index (in cfg->tasks) of
 * certificate C's first task, NEXT[T] the certificate's task after task T; CERT_TASKS_END ends a
 * list. 16 bytes a certificate and a task. The certificate of a task is found with
 * config_find_certificate (a hash lookup); a task naming no certificate of the configuration
 * (config_load refuses that) is in no list. */
#ifndef CCS_MANAGE_CERT_TASKS_H
#define CCS_MANAGE_CERT_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "manage/config.h"

#define CERT_TASKS_END SIZE_MAX

struct cert_tasks {
    size_t *first; /* per certificate */
    size_t *next;  /* per task */
};

/* 0, or -1 when out of memory. */
int cert_tasks_build(const struct config *cfg, struct cert_tasks *out);
void cert_tasks_free(struct cert_tasks *ct);

/* The tasks of CERT, in configuration order: T = cert_tasks_first(...), then
 * T = cert_tasks_next(..., T) until CERT_TASKS_END. With CT NULL (no index built: one
 * certificate's business, e.g. `ccs task run`) they scan the tasks instead. */
size_t cert_tasks_first(const struct config *cfg, const struct cert_tasks *ct,
                        const struct config_certificate *cert);
size_t cert_tasks_next(const struct config *cfg, const struct cert_tasks *ct,
                       const struct config_certificate *cert, size_t t);

/* The index of CERT in cfg->certificates, or SIZE_MAX when NAME is none of them. */
size_t cert_index(const struct config *cfg, const char *name);

#endif
