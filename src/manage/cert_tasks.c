/* cert_tasks.c — each certificate's tasks in configuration order (cert_tasks.h). */
#include "manage/cert_tasks.h"

#include <stdlib.h>
#include <string.h>

size_t cert_index(const struct config *cfg, const char *name)
{
    const struct config_certificate *c = config_find_certificate(cfg, name);

    return c ? (size_t)(c - cfg->certificates) : SIZE_MAX;
}

int cert_tasks_build(const struct config *cfg, struct cert_tasks *out)
{
    out->first = malloc((cfg->certificate_count + 1) * sizeof(*out->first));
    out->next = malloc((cfg->task_count + 1) * sizeof(*out->next));
    if (!out->first || !out->next) {
        cert_tasks_free(out);
        return -1;
    }
    for (size_t c = 0; c < cfg->certificate_count; c++)
        out->first[c] = CERT_TASKS_END;
    /* Walking backwards and putting each task first leaves every list in configuration order. */
    for (size_t t = cfg->task_count; t-- > 0;) {
        size_t c = cert_index(cfg, cfg->tasks[t].certificate);
        out->next[t] = CERT_TASKS_END;
        if (c == SIZE_MAX)
            continue;
        out->next[t] = out->first[c];
        out->first[c] = t;
    }
    return 0;
}

void cert_tasks_free(struct cert_tasks *ct)
{
    free(ct->first);
    free(ct->next);
    ct->first = ct->next = NULL;
}

/* The first task at or after T whose certificate is CERT's, by a scan. */
static size_t scan_from(const struct config *cfg, const struct config_certificate *cert, size_t t)
{
    for (; t < cfg->task_count; t++)
        if (cfg->tasks[t].certificate && strcmp(cfg->tasks[t].certificate, cert->name) == 0)
            return t;
    return CERT_TASKS_END;
}

size_t cert_tasks_first(const struct config *cfg, const struct cert_tasks *ct,
                        const struct config_certificate *cert)
{
    if (ct && ct->first)
        return ct->first[cert - cfg->certificates];
    return scan_from(cfg, cert, 0);
}

size_t cert_tasks_next(const struct config *cfg, const struct cert_tasks *ct,
                       const struct config_certificate *cert, size_t t)
{
    if (ct && ct->first)
        return ct->next[t];
    return scan_from(cfg, cert, t + 1);
}
