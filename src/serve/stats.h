/* stats.h — the counters behind /metrics. Each worker counts into its own block (relaxed atomics,
 * one cache line apart from the next worker's), so counting costs a handshake no shared write;
 * the admin thread adds the blocks up when it is asked. */
#ifndef CCS_SERVE_STATS_H
#define CCS_SERVE_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

enum hs_result {
    HS_OK,             /* a full handshake */
    HS_RESUMED,        /* resumed with a ticket */
    HS_NO_CERTIFICATE, /* nothing to serve for the name (and no default): an alert */
    HS_FAILED,         /* the client's or the protocol's error */
    HS_TIMEOUT,        /* handshake-timeout passed */
    HS_RESULTS,
};

enum hs_protocol { HS_TLS12, HS_TLS13, HS_PROTO_OTHER, HS_PROTOCOLS };

/* How the certificate of a handshake was chosen. */
enum cert_rule {
    RULE_EXACT,          /* host.pfx */
    RULE_WILDCARD,       /* _.parent.pfx */
    RULE_DEFAULT,        /* the default certificate */
    RULE_REJECT,         /* nothing: an alert */
    RULES,
};

/* Why a handshake fell back to the default certificate or an alert. */
enum sni_problem {
    SNI_MISSING, /* no server_name extension */
    SNI_INVALID, /* a name the store's rules refuse (never looked up) */
    SNI_UNKNOWN, /* a valid name with nothing in the store to serve it */
    SNI_PROBLEMS,
};

const char *hs_result_name(enum hs_result r);
const char *hs_protocol_name(enum hs_protocol p);
const char *cert_rule_name(enum cert_rule r);
const char *sni_problem_name(enum sni_problem p);

struct serve_counters {
    atomic_ullong handshakes[HS_RESULTS][HS_PROTOCOLS];
    atomic_ullong rules[RULES];
    atomic_ullong sni_problems[SNI_PROBLEMS];
    atomic_ullong accepted;       /* connections accepted */
    atomic_ullong refused;        /* closed at once: max-connections reached */
    atomic_ullong load_waits;     /* handshakes suspended until their file was loaded */
    atomic_ullong loads_refused;  /* the loader's queue was full */
    atomic_ullong backend_errors; /* backend connections that failed (also per backend) */
    atomic_ullong bytes_to_backend, bytes_to_client;
    atomic_llong active; /* connections open now */
} __attribute__((aligned(64)));

/* Backend connection errors by backend label, kept apart: rare, and labels change at SIGHUP. */
#define STATS_BACKENDS_MAX 1024

struct serve_stats {
    struct serve_counters *workers;
    size_t nworkers;
    pthread_mutex_t mutex; /* the backend list */
    struct backend_errors {
        char *label;
        unsigned long long count;
    } backends[STATS_BACKENDS_MAX];
    size_t nbackends;
};

int serve_stats_init(struct serve_stats *s, size_t nworkers);
void serve_stats_free(struct serve_stats *s);

/* Relaxed: counters need no ordering, only atomicity. */
#define STAT_ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define STAT_INC(counter) STAT_ADD(counter, 1)

void serve_stats_backend_error(struct serve_stats *s, const char *label);

/* The sums over workers (into OUT, plain numbers in atomics' clothing). */
void serve_stats_sum(struct serve_stats *s, struct serve_counters *out);

#endif
