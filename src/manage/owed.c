/* owed.c — which tasks are owed the live certificate (owed.h): the configuration's post tasks
 * that fire on success, against the state's record of what each last delivered. */
#include "manage/owed.h"

#include <stdlib.h>
#include <string.h>

#include "manage/cert_tasks.h"
#include "manage/policy.h"

int owed_applies(const struct config_task *task)
{
    return task->phase == TASK_PHASE_POST &&
           (task->trigger == TRIGGER_ON_SUCCESS || task->trigger == TRIGGER_ANY);
}

static const struct task_record *record_of(const struct task_record *records, size_t count,
                                           const char *task)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(records[i].task, task) == 0)
            return &records[i];
    return NULL;
}

/* Add TASK to OUT when it is owed LIVE, given the task states RECORDS of its certificate. */
static void consider(const struct config_task *task, const struct task_record *records,
                     size_t record_count, const char *live, time_t lifetime_s,
                     struct owed_list *out)
{
    const struct task_record *rec;
    struct owed_task *o;

    if (!owed_applies(task))
        return;
    rec = record_of(records, record_count, task->name);
    if (rec && strcmp(rec->delivered, live) == 0)
        return; /* delivered */
    o = &out->items[out->count++];
    o->task = task;
    if (rec) {
        o->failure_count = rec->failure_count;
        o->last_attempt = rec->last_attempt;
        memcpy(o->last_message, rec->last_message, sizeof(o->last_message));
        o->retry_at = policy_backoff_until(rec->failure_count, rec->last_attempt, lifetime_s);
    }
}

int owed_find(const struct config *cfg, const struct cert_tasks *ct, struct state_db *db,
              const struct config_certificate *cert, const char *live, time_t lifetime_s,
              struct owed_list *out, struct errbuf *err)
{
    struct task_record *records = NULL;
    size_t record_count = 0, mine = 0;

    memset(out, 0, sizeof(*out));
    if (!live || !live[0])
        return 0;
    if (db && state_task_records(db, cert->name, &records, &record_count, err) < 0)
        return -1;
    /* Room for the certificate's own tasks, not every task of the configuration. */
    for (size_t t = cert_tasks_first(cfg, ct, cert); t != CERT_TASKS_END;
         t = cert_tasks_next(cfg, ct, cert, t))
        mine++;
    out->items = calloc(mine + 1, sizeof(*out->items));
    if (!out->items) {
        free(records);
        return errbuf_set(err, "certificate %s: owed tasks: out of memory", cert->name);
    }
    for (size_t t = cert_tasks_first(cfg, ct, cert); t != CERT_TASKS_END;
         t = cert_tasks_next(cfg, ct, cert, t))
        consider(&cfg->tasks[t], records, record_count, live, lifetime_s, out);
    free(records);
    return 0;
}

const struct owed_task *owed_lookup(const struct owed_list *list, const struct config_task *task)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].task == task)
            return &list->items[i];
    return NULL;
}

void owed_names(const struct owed_list *list, char *out, size_t size)
{
    size_t used = 0;

    if (size)
        out[0] = '\0';
    for (size_t i = 0; i < list->count && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", list->items[i].task->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

void owed_free(struct owed_list *list)
{
    free(list->items);
    memset(list, 0, sizeof(*list));
}
