/* cert_tasks.c — each certificate's tasks in configuration order (cert_tasks.h). */
#include "manage/cert_tasks.h"

#include <stdlib.h>

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
