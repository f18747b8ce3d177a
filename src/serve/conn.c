/* conn.c — one connection from accept to close (conn.h): the TLS handshake (handshake.c chooses
 * the certificate), the backend connection with its PROXY header, the relay (relay.c), and the
 * timers: handshake-timeout until the relay starts (the backend connect included), then
 * idle-timeout, measured from the last byte moved. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "serve/conn.h"
#include "serve/proxy_protocol.h"
#include "serve/tls.h"
#include "util/log.h"

static void on_client(struct ev_loop *loop, ev_io *io, int revents);
static void on_backend(struct ev_loop *loop, ev_io *io, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* Watch IO's descriptor for EVENTS (0: not at all). */
static void watch(struct ev_loop *loop, ev_io *io, int events)
{
    if ((io->events & (EV_READ | EV_WRITE)) == events && (ev_is_active(io) || !events))
        return;
    ev_io_stop(loop, io);
    ev_io_set(io, io->fd, events);
    if (events)
        ev_io_start(loop, io);
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void conn_waiting_add(struct conn *c)
{
    struct worker *w = c->w;

    c->phase = CONN_WAIT_LOAD;
    c->wprev = NULL;
    c->wnext = w->waiting;
    if (w->waiting)
        w->waiting->wprev = c;
    w->waiting = c;
}

void conn_waiting_remove(struct conn *c)
{
    struct worker *w = c->w;

    if (c->phase != CONN_WAIT_LOAD)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        w->waiting = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
    c->phase = CONN_HANDSHAKE;
}

void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    conn_waiting_remove(c);
    ev_io_stop(w->loop, &c->cio);
    ev_io_stop(w->loop, &c->bio);
    ev_timer_stop(w->loop, &c->timer);
    if (c->relay_ready) {
        STAT_ADD(w->counters->bytes_to_backend, c->relay.bytes_up);
        STAT_ADD(w->counters->bytes_to_client, c->relay.bytes_down);
        relay_free(&c->relay);
    }
    SSL_free(c->ssl);
    ERR_clear_error();
    close(c->cfd);
    if (c->bfd >= 0)
        close(c->bfd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    STAT_ADD(w->counters->active, -1);
    atomic_fetch_sub_explicit(&w->ctx->active, 1, memory_order_relaxed);
    serve_settings_unref(c->settings);
    free(c);
    if (w->stopping && w->nconns == 0)
        ev_break(w->loop, EVBREAK_ONE);
}

static enum hs_protocol protocol_of(const SSL *ssl)
{
    switch (SSL_version(ssl)) {
    case TLS1_2_VERSION:
        return HS_TLS12;
    case TLS1_3_VERSION:
        return HS_TLS13;
    default:
        return HS_PROTO_OTHER;
    }
}

static void handshake_failed(struct conn *c, enum hs_result result)
{
    STAT_INC(c->w->counters->handshakes[result][HS_PROTO_OTHER]);
    conn_close(c);
}

/* ---- relay ----------------------------------------------------------------------------------- */

static void relay_step(struct conn *c)
{
    struct ev_loop *loop = c->w->loop;
    unsigned wants = 0;
    int moved = 0;
    enum relay_status status = relay_pump(&c->relay, CONN_RELAY_BUDGET, &wants, &moved);

    if (status == RELAY_DONE || status == RELAY_ERROR) {
        if (status == RELAY_ERROR)
            log_debug("a connection to %s closed: the %s failed", c->backend->label,
                      c->relay.error);
        conn_close(c);
        return;
    }
    if (moved)
        c->last_activity = ev_now(loop);
    watch(loop, &c->cio,
          ((wants & RELAY_CLIENT_READ) ? EV_READ : 0) | ((wants & RELAY_CLIENT_WRITE) ? EV_WRITE : 0));
    watch(loop, &c->bio,
          ((wants & RELAY_BACKEND_READ) ? EV_READ : 0) |
              ((wants & RELAY_BACKEND_WRITE) ? EV_WRITE : 0));
    /* The budget ran out with work left (possibly inside OpenSSL's buffers, where no descriptor
     * event will announce it): come back after the other connections' turn. Fed after the
     * watchers are set, since stopping a watcher drops its pending events. */
    if (status == RELAY_AGAIN)
        ev_feed_event(loop, &c->cio, EV_CUSTOM);
}

static void start_relay(struct conn *c)
{
    struct ev_loop *loop = c->w->loop;
    unsigned char header[PROXY_HEADER_MAX];
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    size_t len = 0;

    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (c->backend->proxy != PROXY_PROTOCOL_OFF) {
        struct proxy_info info = {
            .src = (const struct sockaddr *)&c->peer,
            .dst = (const struct sockaddr *)&c->local,
            .authority = c->host[0] ? c->host : NULL,
            .alpn = alpn,
            .alpn_len = alpn_len,
            .tls_version = tls_version_name(c->ssl),
            .cipher = SSL_get_cipher_name(c->ssl),
        };
        if (proxy_header_build(c->backend->proxy, &info, header, sizeof(header), &len) < 0)
            len = 0; /* cannot happen: PROXY_HEADER_MAX bounds every field */
    }
    if (relay_init(&c->relay, c->ssl, c->bfd, header, len) < 0) {
        log_error("out of memory for a connection's buffers");
        conn_close(c);
        return;
    }
    c->relay_ready = 1;
    c->phase = CONN_RELAY;
    c->last_activity = ev_now(loop);
    ev_timer_stop(loop, &c->timer);
    ev_timer_set(&c->timer, c->settings->idle_timeout, 0.);
    ev_timer_start(loop, &c->timer);
    relay_step(c);
}

/* ---- the backend ----------------------------------------------------------------------------- */

static void backend_failed(struct conn *c, int error)
{
    struct worker *w = c->w;
    ev_tstamp now = ev_now(w->loop);

    STAT_INC(w->counters->backend_errors);
    serve_stats_backend_error(&w->ctx->stats, c->backend->label);
    if (now - w->last_backend_log >= 1.0) {
        log_error("backend %s (%s) of host %s: %s%s", c->backend->addr.text, c->backend->label,
                  c->host[0] ? c->host : "(no SNI)", error ? strerror(error) : "timed out",
                  w->backend_log_skipped ? " (and more errors since the last message)" : "");
        w->last_backend_log = now;
        w->backend_log_skipped = 0;
    } else {
        w->backend_log_skipped++;
    }
    /* Tell the client we are done (best effort: a non-blocking close_notify), then close. */
    SSL_shutdown(c->ssl);
    conn_close(c);
}

static void backend_connected(struct conn *c)
{
    int error = 0;
    socklen_t len = sizeof(error);

    if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
        error = errno;
    if (error) {
        backend_failed(c, error);
        return;
    }
    start_relay(c);
}

static void connect_backend(struct conn *c)
{
    const struct serve_addr *a;

    c->backend = serve_settings_backend(c->settings, c->host[0] ? c->host : NULL);
    a = &c->backend->addr;
    c->phase = CONN_CONNECT;
    c->bfd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->bfd < 0) {
        backend_failed(c, errno);
        return;
    }
    if (a->ss.ss_family != AF_UNIX)
        set_nodelay(c->bfd);
    ev_io_init(&c->bio, on_backend, c->bfd, 0);
    c->bio.data = c;
    if (connect(c->bfd, (const struct sockaddr *)&a->ss, a->len) == 0) {
        start_relay(c);
    } else if (errno == EINPROGRESS || errno == EAGAIN) {
        watch(c->w->loop, &c->cio, 0);
        watch(c->w->loop, &c->bio, EV_WRITE);
    } else {
        backend_failed(c, errno);
    }
}

/* ---- the handshake --------------------------------------------------------------------------- */

static void handshake_done(struct conn *c)
{
    enum hs_result result = SSL_session_reused(c->ssl) ? HS_RESUMED : HS_OK;

    STAT_INC(c->w->counters->handshakes[result][protocol_of(c->ssl)]);
    connect_backend(c);
}

static void handshake_step(struct conn *c)
{
    struct ev_loop *loop = c->w->loop;
    int r = SSL_do_handshake(c->ssl);

    if (r == 1) {
        handshake_done(c);
        return;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        watch(loop, &c->cio, EV_READ);
        return;
    case SSL_ERROR_WANT_WRITE:
        watch(loop, &c->cio, EV_WRITE);
        return;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB: /* suspended until the load: conn_resume() */
        watch(loop, &c->cio, 0);
        return;
    default:
        ERR_clear_error();
        handshake_failed(c, c->alerted ? HS_NO_CERTIFICATE : HS_FAILED);
    }
}

void conn_resume(struct conn *c)
{
    conn_waiting_remove(c);
    handshake_step(c);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void on_client(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = io->data;

    (void)loop;
    (void)revents;
    if (c->phase == CONN_HANDSHAKE)
        handshake_step(c);
    else if (c->phase == CONN_RELAY)
        relay_step(c);
}

static void on_backend(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = io->data;

    (void)loop;
    (void)revents;
    if (c->phase == CONN_CONNECT)
        backend_connected(c);
    else if (c->phase == CONN_RELAY)
        relay_step(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = t->data;
    ev_tstamp idle;

    (void)revents;
    switch (c->phase) {
    case CONN_HANDSHAKE:
    case CONN_WAIT_LOAD:
        handshake_failed(c, HS_TIMEOUT);
        return;
    case CONN_CONNECT:
        backend_failed(c, 0);
        return;
    case CONN_RELAY:
        idle = ev_now(loop) - c->last_activity;
        if (idle >= c->settings->idle_timeout) {
            conn_close(c);
            return;
        }
        ev_timer_set(t, c->settings->idle_timeout - idle, 0.);
        ev_timer_start(loop, t);
        return;
    }
}

int conn_accepted(struct worker *w, int fd, const struct sockaddr_storage *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    socklen_t len = sizeof(struct sockaddr_storage);

    if (!c)
        return -1;
    c->w = w;
    c->cfd = fd;
    c->bfd = -1;
    c->peer = *peer;
    getsockname(fd, (struct sockaddr *)&c->local, &len);
    c->settings = serve_ctx_settings(w->ctx);
    c->ssl = SSL_new(c->settings->ssl_ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
        log_error("cannot make a TLS connection: out of memory");
        SSL_free(c->ssl);
        serve_settings_unref(c->settings);
        free(c);
        ERR_clear_error();
        return -1;
    }
    SSL_set_accept_state(c->ssl);
    SSL_set_app_data(c->ssl, c);
    set_nodelay(fd);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    STAT_ADD(w->counters->active, 1);
    c->phase = CONN_HANDSHAKE;
    c->started = ev_now(w->loop);
    ev_io_init(&c->cio, on_client, fd, EV_READ);
    c->cio.data = c;
    ev_io_init(&c->bio, on_backend, -1, 0);
    c->bio.data = c;
    ev_timer_init(&c->timer, on_timer, c->settings->handshake_timeout, 0.);
    c->timer.data = c;
    ev_io_start(w->loop, &c->cio);
    ev_timer_start(w->loop, &c->timer);
    return 0;
}
