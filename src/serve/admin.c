/* admin.c — /metrics and /healthz with libmicrohttpd (admin.h). */
#include "serve/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/log.h"

/* Scrapers and health checks are few: a handful of connections, each done within seconds. */
#define ADMIN_CONNECTIONS_MAX 16
#define ADMIN_CONNECTION_TIMEOUT_S 10
#define ADMIN_BACKLOG 16

struct admin {
    struct MHD_Daemon *daemon;
    int fd;
};

struct text {
    char *buf;
    size_t len, cap;
    int failed;
};

static void out(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = 2 * t->cap + (size_t)n;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    out(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped (exposition format 0.0.4). */
static void label_value(struct text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            out(t, "\\%c", *v);
        else if (*v == '\n')
            out(t, "\\n");
        else
            out(t, "%c", *v);
    }
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void handshakes(struct text *t, struct serve_counters *c)
{
    family(t, "ccs_serve_handshakes_total", "counter",
           "TLS handshakes by result and protocol version.");
    for (int r = 0; r < HS_RESULTS; r++)
        for (int p = 0; p < HS_PROTOCOLS; p++) {
            unsigned long long n = LOAD(c->handshakes[r][p]);
            int ok = r == HS_OK || r == HS_RESUMED;
            /* a finished handshake has a version; a failed one has none: no empty series */
            if ((ok && p == HS_PROTO_OTHER && !n) || (!ok && p != HS_PROTO_OTHER))
                continue;
            out(t, "ccs_serve_handshakes_total{result=\"%s\",protocol=\"%s\"} %llu\n",
                hs_result_name(r), hs_protocol_name(p), n);
        }
    family(t, "ccs_serve_certificate_choices_total", "counter",
           "Certificates chosen for handshakes, by rule: exact, wildcard, default, reject.");
    for (int r = 0; r < RULES; r++)
        out(t, "ccs_serve_certificate_choices_total{rule=\"%s\"} %llu\n", cert_rule_name(r),
            LOAD(c->rules[r]));
    family(t, "ccs_serve_sni_fallbacks_total", "counter",
           "Handshakes that got the default certificate or an alert, by why: no SNI, an invalid "
           "name (never looked up), a name with no certificate in the store.");
    for (int p = 0; p < SNI_PROBLEMS; p++)
        out(t, "ccs_serve_sni_fallbacks_total{sni=\"%s\"} %llu\n", sni_problem_name(p),
            LOAD(c->sni_problems[p]));
}

static void cache(struct text *t, struct serve_ctx *ctx, struct serve_counters *c)
{
    struct store_cache_stats cs;

    store_cache_stats(ctx->cache, &cs);
    family(t, "ccs_serve_cache_hits_total", "counter",
           "Lookups answered from the parsed cache (fresh entries; stale ones served while "
           "they reload are ccs_serve_cache_stale_hits_total).");
    out(t, "ccs_serve_cache_hits_total %llu\n", cs.hits + cs.negative_hits);
    family(t, "ccs_serve_cache_stale_hits_total", "counter",
           "Lookups served a file's last certificate while it reloaded.");
    out(t, "ccs_serve_cache_stale_hits_total %llu\n", cs.stale_hits);
    family(t, "ccs_serve_cache_misses_total", "counter", "Lookups that needed a load.");
    out(t, "ccs_serve_cache_misses_total %llu\n", cs.misses);
    family(t, "ccs_serve_cache_loads_total", "counter", "Store files read and parsed.");
    out(t, "ccs_serve_cache_loads_total %llu\n", cs.loads);
    family(t, "ccs_serve_cache_load_errors_total", "counter",
           "Loads of a present file that was not usable (the log names file and reason).");
    out(t, "ccs_serve_cache_load_errors_total %llu\n", cs.load_failures);
    family(t, "ccs_serve_certificates_cached", "gauge", "Store files loaded in the cache.");
    out(t, "ccs_serve_certificates_cached %zu\n", cs.entries);
    family(t, "ccs_serve_cache_absent_names", "gauge", "Names cached as absent from the store.");
    out(t, "ccs_serve_cache_absent_names %zu\n", cs.negative_entries);
    family(t, "ccs_serve_handshakes_waited_for_load_total", "counter",
           "Handshakes suspended until their certificate was loaded.");
    out(t, "ccs_serve_handshakes_waited_for_load_total %llu\n", LOAD(c->load_waits));
    family(t, "ccs_serve_loads_refused_total", "counter",
           "Loads not queued because the loader's queue was full.");
    out(t, "ccs_serve_loads_refused_total %llu\n", LOAD(c->loads_refused));
    family(t, "ccs_serve_loads_queued", "gauge", "Loads waiting for a loader thread.");
    out(t, "ccs_serve_loads_queued %zu\n", loader_queued(ctx->loader));
}

struct cert_lines {
    struct text *t;
    time_t soonest;
};

static void cert_line(void *arg, const struct served_item *item)
{
    struct cert_lines *cl = arg;

    out(cl->t, "ccs_serve_certificate_not_after_seconds{file=\"");
    label_value(cl->t, item->file);
    out(cl->t, "\"} %lld\n", (long long)item->not_after);
    if (!cl->soonest || item->not_after < cl->soonest)
        cl->soonest = item->not_after;
}

static void certificates(struct text *t, struct serve_ctx *ctx)
{
    struct cert_lines cl = {t, 0};
    size_t left;

    family(t, "ccs_serve_certificate_not_after_seconds", "gauge",
           "Expiry (Unix time) of each certificate held ready to serve, by store file; soonest "
           "first, at most 10000.");
    left = served_each(ctx->served, ADMIN_CERTS_LISTED_MAX, cert_line, &cl);
    family(t, "ccs_serve_certificates_not_listed", "gauge",
           "Certificates held ready but left out of the per-file list (its limit).");
    out(t, "ccs_serve_certificates_not_listed %zu\n", left);
    if (cl.soonest) {
        family(t, "ccs_serve_certificate_not_after_min_seconds", "gauge",
               "The soonest expiry (Unix time) of the listed certificates.");
        out(t, "ccs_serve_certificate_not_after_min_seconds %lld\n", (long long)cl.soonest);
    }
}

static void connections(struct text *t, struct serve_ctx *ctx, struct serve_counters *c)
{
    family(t, "ccs_serve_backend_connect_errors_total", "counter",
           "Backend connections that failed (refused, unreachable, timed out), by backend: "
           "[serve] or the site's name.");
    pthread_mutex_lock(&ctx->stats.mutex);
    for (size_t i = 0; i < ctx->stats.nbackends; i++) {
        out(t, "ccs_serve_backend_connect_errors_total{backend=\"");
        label_value(t, ctx->stats.backends[i].label);
        out(t, "\"} %llu\n", ctx->stats.backends[i].count);
    }
    pthread_mutex_unlock(&ctx->stats.mutex);
    family(t, "ccs_serve_connections_accepted_total", "counter", "Connections accepted.");
    out(t, "ccs_serve_connections_accepted_total %llu\n", LOAD(c->accepted));
    family(t, "ccs_serve_connections_refused_total", "counter",
           "Connections closed at once because max-connections were open.");
    out(t, "ccs_serve_connections_refused_total %llu\n", LOAD(c->refused));
    family(t, "ccs_serve_connections_active", "gauge", "Connections open now.");
    out(t, "ccs_serve_connections_active %lld\n", LOAD(c->active));
    family(t, "ccs_serve_bytes_total", "counter",
           "Plaintext bytes relayed, by direction (counted when a connection closes).");
    out(t, "ccs_serve_bytes_total{direction=\"to_backend\"} %llu\n", LOAD(c->bytes_to_backend));
    out(t, "ccs_serve_bytes_total{direction=\"to_client\"} %llu\n", LOAD(c->bytes_to_client));
}

char *admin_metrics_text(struct serve_ctx *ctx, size_t *len)
{
    struct text t = {NULL, 0, 0, 0};
    struct serve_counters sum;

    serve_stats_sum(&ctx->stats, &sum);
    handshakes(&t, &sum);
    cache(&t, ctx, &sum);
    certificates(&t, ctx);
    connections(&t, ctx, &sum);
    if (t.failed || !t.buf) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *arg, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state)
{
    static const char text_type[] = "text/plain; charset=utf-8";
    struct serve_ctx *ctx = arg;
    char *body;
    size_t len;

    (void)version;
    (void)upload_data;
    (void)state;
    if (*upload_size)
        return MHD_NO; /* no request here has a body */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text_type, (char *)"GET only\n", 9,
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/healthz") == 0) {
        if (atomic_load(&ctx->draining))
            return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_type, (char *)"draining\n", 9,
                         MHD_RESPMEM_PERSISTENT);
        return reply(conn, MHD_HTTP_OK, text_type, (char *)"ok\n", 3, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") == 0) {
        body = admin_metrics_text(ctx, &len);
        if (!body)
            return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text_type,
                         (char *)"out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    return reply(conn, MHD_HTTP_NOT_FOUND, text_type, (char *)"not found: /metrics, /healthz\n",
                 30, MHD_RESPMEM_PERSISTENT);
}

int admin_bind(const struct serve_addr *addr, int *fd, struct errbuf *err)
{
    int one = 1, s = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    *fd = -1;
    if (s < 0)
        return errbuf_set_errno(err, "admin %s: cannot make a socket", addr->text);
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(s, ADMIN_BACKLOG) < 0) {
        errbuf_set_errno(err, "admin %s: cannot listen", addr->text);
        close(s);
        return -1;
    }
    *fd = s;
    return 0;
}

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
    char line[512];

    (void)arg;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warning("admin endpoint: %s", line);
}

int admin_start(struct serve_ctx *ctx, int fd, struct admin **out, struct errbuf *err)
{
    struct admin *a = calloc(1, sizeof(*a));

    *out = NULL;
    if (!a)
        return errbuf_set(err, "admin endpoint: out of memory");
    a->fd = fd;
    a->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, ctx, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!a->daemon) {
        free(a);
        return errbuf_set(err, "admin endpoint: libmicrohttpd did not start");
    }
    *out = a;
    return 0;
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->daemon); /* closes the listening socket too */
    free(a);
}
