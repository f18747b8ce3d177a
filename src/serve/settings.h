/* settings.h — what `ccs serve` runs with, built from ccs.conf's [serve] and [site] sections:
 * addresses resolved, routes indexed, the TLS context made. Immutable once built and
 * reference-counted: a SIGHUP builds a new one for new connections while open ones keep theirs.
 *
 * Two kinds of settings: those a running server can take on at a SIGHUP (backends, sites,
 * default certificate, TLS parameters, ALPN, PROXY protocol, timeouts, the connection limit), and
 * those only a restart changes (listen addresses, workers, user, admin address, the store):
 * serve.c keeps the first build's for those (struct server's started), and says so whenever a
 * reload's differ from them. */
#ifndef CCS_SERVE_SETTINGS_H
#define CCS_SERVE_SETTINGS_H

#include <stdatomic.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "manage/config.h"
#include "serve/route.h"
#include "serve/tickets.h"
#include "serve/tls.h"
#include "store/names.h"

/* Longest "ADDR:PORT" or unix socket path we print: a bracketed IPv6 address with a port. */
#define SERVE_ADDR_TEXT_MAX 128
/* A backend's label: "[serve]", or a site's name (config.c allows 128 characters). */
#define SERVE_LABEL_MAX 136

struct serve_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[SERVE_ADDR_TEXT_MAX]; /* as configured */
};

/* Resolve TEXT: "ADDR:PORT" ([IPv6]:PORT), with NAMES_ALLOWED also "HOST:PORT" (resolved now,
 * first address), or an absolute path (a unix socket). */
int serve_addr_parse(const char *text, int names_allowed, struct serve_addr *out,
                     struct errbuf *err);

struct serve_backend {
    char label[SERVE_LABEL_MAX]; /* "[serve]" or the site's name: /metrics and the log */
    struct serve_addr addr;
    enum proxy_protocol_mode proxy;
};

struct serve_settings {
    atomic_uint refs;
    /* only a restart changes these */
    struct serve_addr *listen;
    size_t listen_count;
    unsigned workers; /* resolved: never 0 */
    char *user;
    struct serve_addr admin;
    int has_admin;
    struct config_store store; /* a copy of the [store] served (config_store_copy) */
    /* a SIGHUP changes these, for new connections */
    SSL_CTX *ssl_ctx;
    struct serve_backend *backends; /* [0]: [serve]'s; then one per [site], in file order */
    size_t backend_count;
    struct route_table routes; /* host -> index into backends */
    int reject;                /* default-certificate = reject */
    struct store_lookup_plan default_plan; /* otherwise: where the default certificate is */
    struct tls_alpn alpn;                  /* offered protocols; empty: no ALPN */
    double handshake_timeout, idle_timeout, drain_timeout; /* seconds */
    int max_connections;
};

/* Build settings from CFG (which config_load() validated; it must have a [serve] section). The
 * TLS context issues tickets with KEYS and calls HELLO_CB(ssl, alert, HELLO_ARG) on every
 * ClientHello. ERR names the setting that could not be used. */
int serve_settings_build(const struct config *cfg, struct ticket_keys *keys,
                         SSL_client_hello_cb_fn hello_cb, void *hello_arg,
                         struct serve_settings **out, struct errbuf *err);
struct serve_settings *serve_settings_ref(struct serve_settings *s);
void serve_settings_unref(struct serve_settings *s);

/* The backend for HOST (the normalised SNI name, or NULL without one). */
const struct serve_backend *serve_settings_backend(const struct serve_settings *s,
                                                   const char *host);

/* Workers when the configuration says "auto": the CPUs this process may run on. */
unsigned serve_cpu_count(void);

#endif
