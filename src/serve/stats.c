/* stats.c — counters behind /metrics (stats.h). */
#include "serve/stats.h"

#include <stdlib.h>
#include <string.h>

static const char *const result_names[HS_RESULTS] = {"ok", "resumed", "no_certificate", "failed",
                                                     "timeout"};
static const char *const protocol_names[HS_PROTOCOLS] = {"TLSv1.2", "TLSv1.3", "none"};
static const char *const rule_names[RULES] = {"exact", "wildcard", "default", "reject"};
static const char *const problem_names[SNI_PROBLEMS] = {"missing", "invalid", "unknown"};

const char *hs_result_name(enum hs_result r)
{
    return r < HS_RESULTS ? result_names[r] : "unknown";
}

const char *hs_protocol_name(enum hs_protocol p)
{
    return p < HS_PROTOCOLS ? protocol_names[p] : "unknown";
}

const char *cert_rule_name(enum cert_rule r)
{
    return r < RULES ? rule_names[r] : "unknown";
}

const char *sni_problem_name(enum sni_problem p)
{
    return p < SNI_PROBLEMS ? problem_names[p] : "unknown";
}

int serve_stats_init(struct serve_stats *s, size_t nworkers)
{
    memset(s, 0, sizeof(*s));
    s->workers = aligned_alloc(sizeof(struct serve_counters),
                               nworkers * sizeof(struct serve_counters));
    if (!s->workers)
        return -1;
    memset(s->workers, 0, nworkers * sizeof(struct serve_counters));
    s->nworkers = nworkers;
    pthread_mutex_init(&s->mutex, NULL);
    return 0;
}

void serve_stats_free(struct serve_stats *s)
{
    if (!s->workers)
        return;
    for (size_t i = 0; i < s->nbackends; i++)
        free(s->backends[i].label);
    free(s->workers);
    pthread_mutex_destroy(&s->mutex);
    memset(s, 0, sizeof(*s));
}

void serve_stats_backend_error(struct serve_stats *s, const char *label)
{
    size_t i;

    pthread_mutex_lock(&s->mutex);
    for (i = 0; i < s->nbackends && strcmp(s->backends[i].label, label) != 0; i++)
        ;
    if (i == s->nbackends && i < STATS_BACKENDS_MAX && (s->backends[i].label = strdup(label)))
        s->nbackends++;
    if (i < s->nbackends)
        s->backends[i].count++;
    pthread_mutex_unlock(&s->mutex);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define SUM(field) atomic_store_explicit(&out->field, LOAD(out->field) + LOAD(w->field), \
                                         memory_order_relaxed)

void serve_stats_sum(struct serve_stats *s, struct serve_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < s->nworkers; i++) {
        struct serve_counters *w = &s->workers[i];
        for (int r = 0; r < HS_RESULTS; r++)
            for (int p = 0; p < HS_PROTOCOLS; p++)
                SUM(handshakes[r][p]);
        for (int r = 0; r < RULES; r++)
            SUM(rules[r]);
        for (int p = 0; p < SNI_PROBLEMS; p++)
            SUM(sni_problems[p]);
        SUM(accepted);
        SUM(refused);
        SUM(load_waits);
        SUM(loads_refused);
        SUM(backend_errors);
        SUM(bytes_to_backend);
        SUM(bytes_to_client);
        SUM(active);
    }
}
