/* settings.c — ccs.conf's [serve] and [site] sections made ready to run (settings.h). */
#include "serve/settings.h"

#include <netdb.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "manage/store_config.h"
#include "util/text.h"
#include "store/resolve.h"

/* Room for the host part of "HOST:PORT": a DNS name (253) or an IPv6 literal. */
#define HOST_ROOM 256

int serve_addr_parse(const char *text, int names_allowed, struct serve_addr *out,
                     struct errbuf *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    char host[HOST_ROOM], why[128], port_text[8];
    int port, rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->text, sizeof(out->text), "%s", text);
    if (text[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
        if (strlen(text) >= sizeof(un->sun_path))
            return errbuf_set(err, "\"%s\": a unix socket path has at most %zu characters", text,
                              sizeof(un->sun_path) - 1);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, text, strlen(text) + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(text) + 1);
        return 0;
    }
    if (config_split_host_port(text, names_allowed, host, sizeof(host), &port, why,
                               sizeof(why)) < 0)
        return errbuf_set(err, "\"%s\": %s", text, why);
    if (!names_allowed)
        hints.ai_flags |= AI_NUMERICHOST;
    snprintf(port_text, sizeof(port_text), "%d", port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0 || !res) {
        if (res)
            freeaddrinfo(res);
        return errbuf_set(err, "\"%s\": cannot resolve %s: %s", text, host,
                          rc ? gai_strerror(rc) : "no address");
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

unsigned serve_cpu_count(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static int dup_into(char **field, const char *value, struct errbuf *err)
{
    return text_dup(field, value) < 0 ? errbuf_set(err, "settings: out of memory") : 0;
}

/* The restart-only part: listen, workers, user, admin, store. */
static int build_process(const struct config *cfg, struct serve_settings *s, struct errbuf *err)
{
    const struct config_serve *sv = cfg->serve;
    const struct config_store *store = config_find_store(cfg, sv->store);

    s->listen = calloc(sv->listen.count ? sv->listen.count : 1, sizeof(*s->listen));
    if (!s->listen)
        return errbuf_set(err, "settings: out of memory");
    for (; s->listen_count < sv->listen.count; s->listen_count++)
        if (serve_addr_parse(sv->listen.items[s->listen_count], 0, &s->listen[s->listen_count],
                             err) < 0)
            return errbuf_prefix(err, "listen");
    s->workers = sv->workers > 0 ? (unsigned)sv->workers : serve_cpu_count();
    if (sv->admin) {
        if (serve_addr_parse(sv->admin, 0, &s->admin, err) < 0)
            return errbuf_prefix(err, "admin");
        s->has_admin = 1;
    }
    if (!store)
        return errbuf_set(err, "store \"%s\": no such [store]", sv->store);
    if (dup_into(&s->user, sv->user, err) < 0)
        return -1;
    return config_store_copy(store, &s->store, err);
}

static int build_backends(const struct config *cfg, struct serve_settings *s, struct errbuf *err)
{
    const struct config_serve *sv = cfg->serve;

    s->backends = calloc(1 + cfg->site_count, sizeof(*s->backends));
    if (!s->backends)
        return errbuf_set(err, "settings: out of memory");
    snprintf(s->backends[0].label, sizeof(s->backends[0].label), "[serve]");
    s->backends[0].proxy = sv->proxy_protocol;
    if (serve_addr_parse(sv->backend, 1, &s->backends[0].addr, err) < 0)
        return errbuf_prefix(err, "[serve] backend");
    s->backend_count = 1;
    for (size_t i = 0; i < cfg->site_count; i++) {
        const struct config_site *site = &cfg->sites[i];
        struct serve_backend *b = &s->backends[s->backend_count];

        snprintf(b->label, sizeof(b->label), "%s", site->name);
        b->proxy = site->proxy_protocol;
        if (serve_addr_parse(site->backend, 1, &b->addr, err) < 0)
            return errbuf_prefix(err, "[site \"%s\"] backend", site->name);
        for (size_t h = 0; h < site->hosts.count; h++)
            if (route_add(&s->routes, site->hosts.items[h], s->backend_count, err) < 0)
                return -1;
        s->backend_count++;
    }
    route_finish(&s->routes);
    return 0;
}

int serve_settings_build(const struct config *cfg, struct ticket_keys *keys,
                         SSL_client_hello_cb_fn hello_cb, void *hello_arg,
                         struct serve_settings **out, struct errbuf *err)
{
    const struct config_serve *sv = cfg->serve;
    struct serve_settings *s;
    struct tls_params tp;

    *out = NULL;
    if (!sv)
        return errbuf_set(err, "%s: no [serve] section", cfg->path);
    s = calloc(1, sizeof(*s));
    if (!s)
        return errbuf_set(err, "settings: out of memory");
    atomic_init(&s->refs, 1);
    if (build_process(cfg, s, err) < 0 || build_backends(cfg, s, err) < 0)
        goto fail;
    s->reject = !sv->default_certificate ||
                strcmp(sv->default_certificate, SERVE_DEFAULT_CERTIFICATE_REJECT) == 0;
    if (!s->reject && store_resolve_plan(sv->default_certificate, strlen(sv->default_certificate),
                                         &s->default_plan, err) < 0) {
        errbuf_prefix(err, "default-certificate");
        goto fail;
    }
    if (tls_alpn_build(sv->alpn.items, sv->alpn.count, &s->alpn, err) < 0)
        goto fail;
    s->handshake_timeout = sv->handshake_timeout_s;
    s->idle_timeout = sv->idle_timeout_s;
    s->drain_timeout = sv->drain_timeout_s;
    s->max_connections = sv->max_connections;
    tp = (struct tls_params){
        .min_version = sv->min_tls_version,
        .ciphers = sv->ciphers,
        .ciphersuites = sv->ciphersuites,
        .alpn = &s->alpn,
        .hello_cb = hello_cb,
        .hello_arg = hello_arg,
    };
    s->ssl_ctx = tls_ctx_new(&tp, err);
    if (!s->ssl_ctx || (keys && ticket_keys_install(s->ssl_ctx, keys, err) < 0))
        goto fail;
    *out = s;
    return 0;
fail:
    serve_settings_unref(s);
    return -1;
}

struct serve_settings *serve_settings_ref(struct serve_settings *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void serve_settings_unref(struct serve_settings *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    SSL_CTX_free(s->ssl_ctx);
    free(s->listen);
    free(s->user);
    config_store_clear(&s->store);
    free(s->backends);
    route_free(&s->routes);
    free(s->alpn.wire);
    free(s);
}

const struct serve_backend *serve_settings_backend(const struct serve_settings *s,
                                                   const char *host)
{
    size_t target;

    if (host && route_lookup(&s->routes, host, &target))
        return &s->backends[target];
    return &s->backends[0];
}
