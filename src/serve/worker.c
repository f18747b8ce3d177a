/* worker.c — one worker thread: its libev loop, its listening sockets (SO_REUSEPORT: the kernel
 * spreads connections over the workers' sockets), accept, the wake-ups from loader threads and
 * from the main thread, and the drain at SIGTERM. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/conn.h"
#include "util/log.h"

static void on_accept(struct ev_loop *loop, ev_io *io, int revents);

static int bind_one(const struct serve_addr *a, struct errbuf *err)
{
    int one = 1, fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return errbuf_set_errno(err, "listen %s: cannot make a socket", a->text);
    /* IPv6 sockets take IPv6 only, so "0.0.0.0:443" and "[::]:443" can both be listed. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        (a->ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
        errbuf_set_errno(err, "listen %s: cannot set socket options", a->text);
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        errbuf_set_errno(err, "listen %s: cannot bind", a->text);
        close(fd);
        return -1;
    }
    if (listen(fd, WORKER_BACKLOG) < 0) {
        errbuf_set_errno(err, "listen %s: cannot listen", a->text);
        close(fd);
        return -1;
    }
    return fd;
}

int worker_bind(struct worker *w, const struct serve_settings *s, struct errbuf *err)
{
    pthread_mutex_init(&w->inbox_mutex, NULL);
    w->listen_fds = calloc(s->listen_count, sizeof(*w->listen_fds));
    w->listeners = calloc(s->listen_count, sizeof(*w->listeners));
    if (!w->listen_fds || !w->listeners)
        return errbuf_set(err, "worker: out of memory");
    for (; w->nlisten < s->listen_count; w->nlisten++) {
        int fd = bind_one(&s->listen[w->nlisten], err);
        if (fd < 0)
            return -1;
        w->listen_fds[w->nlisten] = fd;
    }
    return 0;
}

static void close_listeners(struct worker *w)
{
    for (size_t i = 0; i < w->nlisten; i++) {
        if (w->loop)
            ev_io_stop(w->loop, &w->listeners[i]);
        if (w->listen_fds[i] >= 0)
            close(w->listen_fds[i]);
        w->listen_fds[i] = -1;
    }
}

static void accept_pause(struct worker *w)
{
    if (ev_is_active(&w->accept_pause))
        return;
    log_error("out of file descriptors: not accepting connections for %g s (raise LimitNOFILE, "
              "or lower max-connections)",
              WORKER_ACCEPT_PAUSE_S);
    for (size_t i = 0; i < w->nlisten; i++)
        ev_io_stop(w->loop, &w->listeners[i]);
    ev_timer_set(&w->accept_pause, WORKER_ACCEPT_PAUSE_S, 0.);
    ev_timer_start(w->loop, &w->accept_pause);
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)revents;
    for (size_t i = 0; !w->stopping && i < w->nlisten; i++)
        ev_io_start(loop, &w->listeners[i]);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    struct serve_ctx *ctx = w->ctx;

    (void)loop;
    (void)revents;
    for (int i = 0; i < WORKER_ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(io->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(w);
            return; /* EAGAIN: all taken */
        }
        STAT_INC(w->counters->accepted);
        if (atomic_fetch_add_explicit(&ctx->active, 1, memory_order_relaxed) >=
            atomic_load_explicit(&ctx->max_connections, memory_order_relaxed)) {
            atomic_fetch_sub_explicit(&ctx->active, 1, memory_order_relaxed);
            STAT_INC(w->counters->refused);
            close(fd);
            continue;
        }
        if (conn_accepted(w, fd, &peer) < 0) {
            atomic_fetch_sub_explicit(&ctx->active, 1, memory_order_relaxed);
            close(fd);
        }
    }
}

/* ---- wake-ups -------------------------------------------------------------------------------- */

void worker_load_done(void *arg, const char *file, int loaded)
{
    struct worker *w = arg;
    size_t len = strlen(file);
    struct loaded_file *f = malloc(sizeof(*f) + len + 1);

    if (!f)
        return; /* the waiting handshakes run into their timeout */
    f->loaded = loaded;
    memcpy(f->file, file, len + 1);
    pthread_mutex_lock(&w->inbox_mutex);
    f->next = w->inbox;
    w->inbox = f;
    pthread_mutex_unlock(&w->inbox_mutex);
    ev_async_send(w->loop, &w->wake);
}

/* Resume (or, when the loader stopped before the load, close) every connection waiting for F. */
static void wake_waiters(struct worker *w, const struct loaded_file *f)
{
    struct conn *c, *next, *ready = NULL;

    for (c = w->waiting; c; c = next) {
        next = c->wnext;
        if (strcmp(c->wait_file, f->file) != 0)
            continue;
        conn_waiting_remove(c);
        c->wnext = ready; /* off the waiting list: wnext is free for this one */
        ready = c;
    }
    for (c = ready; c; c = next) {
        next = c->wnext;
        c->wnext = NULL;
        if (f->loaded)
            conn_resume(c);
        else
            conn_close(c);
    }
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    if (w->nconns)
        log_warning("worker %u: drain-timeout passed: closing %zu connection%s", w->index,
                    w->nconns, w->nconns == 1 ? "" : "s");
    while (w->conns)
        conn_close(w->conns);
}

static void begin_drain(struct worker *w)
{
    struct serve_settings *s;

    w->stopping = 1;
    ev_timer_stop(w->loop, &w->accept_pause);
    close_listeners(w);
    if (w->nconns == 0) {
        ev_break(w->loop, EVBREAK_ONE);
        return;
    }
    s = serve_ctx_settings(w->ctx);
    ev_timer_set(&w->drain_timer, s->drain_timeout, 0.);
    serve_settings_unref(s);
    ev_timer_start(w->loop, &w->drain_timer);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    struct worker *w = a->data;
    struct loaded_file *files, *next;
    int stop;

    (void)loop;
    (void)revents;
    pthread_mutex_lock(&w->inbox_mutex);
    files = w->inbox;
    w->inbox = NULL;
    stop = w->stop_requested;
    pthread_mutex_unlock(&w->inbox_mutex);
    for (; files; files = next) {
        next = files->next;
        wake_waiters(w, files);
        free(files);
    }
    if (stop && !w->stopping)
        begin_drain(w);
}

/* ---- the thread ------------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    atomic_fetch_add(&w->ctx->workers_running, 1);
    ev_run(w->loop, 0);
    while (w->conns) /* only after a failure of the loop itself */
        conn_close(w->conns);
    atomic_fetch_sub(&w->ctx->workers_running, 1);
    return NULL;
}

int worker_start(struct worker *w, struct errbuf *err)
{
    /* EVFLAG_NOSIGMASK: the signal mask is serve.c's (every signal blocked in workers). */
    w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!w->loop)
        return errbuf_set(err, "worker %u: cannot make an event loop", w->index);
    ev_async_init(&w->wake, on_wake);
    w->wake.data = w;
    ev_async_start(w->loop, &w->wake);
    ev_timer_init(&w->drain_timer, on_drain_timeout, 0., 0.);
    w->drain_timer.data = w;
    ev_timer_init(&w->accept_pause, on_accept_pause, 0., 0.);
    w->accept_pause.data = w;
    for (size_t i = 0; i < w->nlisten; i++) {
        ev_io_init(&w->listeners[i], on_accept, w->listen_fds[i], EV_READ);
        w->listeners[i].data = w;
        ev_io_start(w->loop, &w->listeners[i]);
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return errbuf_set_errno(err, "worker %u: cannot start its thread", w->index);
    w->started = 1;
    return 0;
}

void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->inbox_mutex);
    w->stop_requested = 1;
    pthread_mutex_unlock(&w->inbox_mutex);
    ev_async_send(w->loop, &w->wake);
}

void worker_join(struct worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = 0;
}

void worker_free(struct worker *w)
{
    struct loaded_file *f, *next;

    if (w->listen_fds)
        close_listeners(w);
    if (w->loop)
        ev_loop_destroy(w->loop);
    for (f = w->inbox; f; f = next) {
        next = f->next;
        free(f);
    }
    if (w->listen_fds)
        pthread_mutex_destroy(&w->inbox_mutex);
    free(w->listen_fds);
    free(w->listeners);
    memset(w, 0, sizeof(*w));
}
