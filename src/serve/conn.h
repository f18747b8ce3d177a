/* conn.h — a worker (one thread, one libev loop, its own listening sockets) and the connections it
 * runs: accept, TLS handshake (suspended while a cold certificate loads), backend connect, relay.
 *
 *   worker.c     the thread: loop, listening sockets, accept, wake-ups from other threads, drain
 *   handshake.c  the ClientHello callback: which certificate, or wait for its load
 *   conn.c       one connection's life after accept: handshake, connect, relay, close
 *
 * A connection belongs to its worker's thread from accept to close: no lock guards it. The only
 * fields other threads touch are the worker's inbox (under inbox_mutex). */
#ifndef CCS_SERVE_CONN_H
#define CCS_SERVE_CONN_H

#include <ev.h>
#include <pthread.h>
#include <sys/socket.h>

#include "serve/context.h"
#include "serve/relay.h"
#include "serve/stats.h"

/* A handshake that came back from a load to find its file due again (a change event arrived
 * meanwhile) waits again, at most this often: then it gets the default certificate (or an alert). */
#define CONN_LOAD_ROUNDS_MAX 4
/* Connections accepted per readiness event of one listening socket before the loop looks at the
 * others: fairness between listeners and existing connections under a connection storm. */
#define WORKER_ACCEPT_BATCH 64
/* Relay rounds per event before other connections get their turn. */
#define CONN_RELAY_BUDGET 16
/* Out of file descriptors, a listening socket stays readable: without a pause the loop would spin
 * on it. HAProxy and nginx pause accepting too. */
#define WORKER_ACCEPT_PAUSE_S 0.1
/* listen(2) backlog: the kernel caps it at net.core.somaxconn. */
#define WORKER_BACKLOG 4096

enum conn_phase {
    CONN_HANDSHAKE, /* TLS handshake in progress */
    CONN_WAIT_LOAD, /* suspended in the ClientHello callback until wait_file is loaded */
    CONN_CONNECT,   /* handshake done; connecting to the backend */
    CONN_RELAY,     /* relaying */
};

struct worker;

struct conn {
    struct conn *prev, *next;   /* the worker's connections */
    struct conn *wprev, *wnext; /* the worker's waiting list (CONN_WAIT_LOAD) */
    struct worker *w;
    struct serve_settings *settings; /* a reference: as at accept */
    enum conn_phase phase;
    int cfd, bfd;
    SSL *ssl;
    ev_io cio, bio;
    ev_timer timer;
    ev_tstamp started, last_activity;
    struct sockaddr_storage peer, local;
    /* the certificate choice (handshake.c) */
    int cert_set;      /* the SSL has its certificate (or the choice failed) */
    int alerted;       /* the choice was an alert */
    unsigned load_rounds;
    enum cert_rule rule;
    char host[DNS_NAME_MAX + 1]; /* the SNI name, normalised (A-label); "" without a valid one */
    char wait_file[STORE_FILE_NAME_MAX + 1];
    time_t cert_not_after;
    /* after the handshake */
    const struct serve_backend *backend; /* in settings */
    struct relay relay;
    int relay_ready;
};

/* Files loaded since the worker last looked, handed over by loader threads. */
struct loaded_file {
    struct loaded_file *next;
    int loaded;
    char file[];
};

struct worker {
    struct serve_ctx *ctx;
    struct serve_counters *counters;
    unsigned index;
    pthread_t thread;
    int started;
    struct ev_loop *loop;
    int *listen_fds;
    ev_io *listeners;
    size_t nlisten;
    ev_async wake;
    /* the inbox: written by other threads */
    pthread_mutex_t inbox_mutex;
    struct loaded_file *inbox;
    int stop_requested;
    /* the loop's own */
    struct conn *conns, *waiting;
    size_t nconns;
    int stopping;
    ev_timer drain_timer;
    ev_timer accept_pause; /* out of descriptors: accept nothing for a moment */
    ev_tstamp last_backend_log; /* backend errors are logged at most once a second */
    unsigned long long backend_log_skipped;
};

/* worker.c */
/* Bind the worker's listening sockets (SO_REUSEPORT: one per listen address per worker). Before
 * the privileges are dropped. */
int worker_bind(struct worker *w, const struct serve_settings *s, struct errbuf *err);
int worker_start(struct worker *w, struct errbuf *err);
/* Any thread: stop accepting, finish the open connections (at most drain-timeout), then end. */
void worker_stop(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w);
/* A loader thread: FILE's load is over. ARG is the worker. */
void worker_load_done(void *arg, const char *file, int loaded);

/* conn.c */
/* Take over FD (accepted; counted in ctx->active by the caller). -1: no memory, FD untouched. */
int conn_accepted(struct worker *w, int fd, const struct sockaddr_storage *peer);
void conn_close(struct conn *c);
void conn_resume(struct conn *c); /* its wait_file was loaded */
void conn_waiting_add(struct conn *c);
void conn_waiting_remove(struct conn *c);

/* handshake.c: the ClientHello callback (SSL_CTX_set_client_hello_cb). */
int conn_client_hello(SSL *ssl, int *alert, void *arg);

#endif
