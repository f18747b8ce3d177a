/* challenge_http01_responder.c — http-01 answered by a built-in HTTP server (RFC 8555 §8.3), GNU
 * libmicrohttpd (MHD) on a listening socket of our own.
 *
 * Why MHD: the responder must answer the CA promptly whatever idle or slow clients do. The
 * hand-written poll loop this replaced had 32 slots and let the oldest give way once a second, so a
 * few hundred slowloris connections queued the CA's requests for 10 s and more (bench/README.md,
 * bench/responder-flood). MHD gives an epoll loop in its own thread, where a thousand idle
 * connections cost nothing, a connection limit, an idle timeout, and a bound on each
 * connection's memory; we add one policy it lacks (below: eviction).
 *
 * Invariants:
 * - Threads: MHD runs one internal polling thread (no thread per connection, no pool). Every MHD
 *   callback (answer, notify_connection, target_is_challenge) runs on it, so the connection list
 *   is touched by that thread only and needs no lock. The token table is shared with the caller's
 *   thread (begin/finish) under r->lock; a response is built from a copy made under the lock.
 * - Capacity: at most r->capacity connections are open (MHD's limit). When one more is accepted
 *   and the table is then full, the oldest connection that has not delivered a complete request
 *   head is shut down: a validation request is complete within milliseconds of its connect, so
 *   the oldest incomplete one is an idle or trickling client. The CA is never locked out by a
 *   full table; it waits in the listen backlog for one loop turn at most. A connection with a
 *   complete request is answered at once, and its response (a few hundred bytes) fits the socket
 *   buffer, so a client that does not read cannot hold it either. Connections idle for
 *   RESPONDER_IDLE_TIMEOUT_S are closed by MHD even when the table is not full.
 * - Exactly the tokens begun are served, at exactly /.well-known/acme-challenge/TOKEN (origin- or
 *   absolute-form, no query, no escapes); everything else is 404, methods other than GET and
 *   HEAD 405. */
#include "acme/challenge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/log.h"

/* Most connections open at once. A CA validates each name from a handful of vantage points; the
 * rest of the room is for clients we did not ask for. 1024 idle connections cost MHD about
 * 1024 × RESPONDER_CONNECTION_MEMORY of address space, mostly untouched. */
#define RESPONDER_MAX_CONNECTIONS 1024
/* Never fewer, whatever the descriptor limit says. */
#define RESPONDER_MIN_CONNECTIONS 32
/* Descriptors left for the rest of the process (the ACME client's connections, the state
 * database, store and export files, hooks' pipes) when the soft RLIMIT_NOFILE bounds our
 * capacity: Debian's default soft limit of 1024 then gives 768 connections. */
#define RESPONDER_FD_RESERVE 256
/* The kernel queues connections we have not accepted yet; a flood's connects must not fill it
 * and make the CA's SYN wait for a retransmission (1 s, then 3 s). Linux caps it at somaxconn
 * (4096 since 5.4). */
#define RESPONDER_LISTEN_BACKLOG 1024
/* A connection with no traffic for this long is closed (MHD's timeout restarts at every byte).
 * Validation servers answer within a second; the value only bounds how long an idle client holds
 * a descriptor while the table is not full. */
#define RESPONDER_IDLE_TIMEOUT_S 10
/* Memory per connection for the request head, headers and the response head: a request head that
 * does not fit is answered 431 (or 414 for the request line). Pebble's and Let's Encrypt's are a
 * few hundred bytes. */
#define RESPONDER_CONNECTION_MEMORY 8192
#define CHALLENGE_PATH_PREFIX "/.well-known/acme-challenge/" /* RFC 8555 §8.3 */
#define CONTENT_TYPE "text/plain"
/* "[" address "]:" port */
#define WHERE_MAX (INET6_ADDRSTRLEN + sizeof("[]:65535"))
#define PORT_MAX 65535
#define MHD_MESSAGE_MAX 512

struct published_token {
    struct published_token *next;
    char *token;
    char *key_authorization;
};

/* An open connection, in accept order (oldest first). MHD thread only. */
struct connection {
    struct connection *prev, *next;
    struct MHD_Connection *mhd;
    int has_request; /* its request head was complete: never evicted */
    int evicted;     /* shut down by us; MHD closes it on its next turn */
};

struct responder {
    int listen_fd; /* until responder_start hands a duplicate to MHD (MHD_stop_daemon closes it) */
    struct MHD_Daemon *daemon;
    unsigned int capacity;
    pthread_mutex_t lock; /* protects tokens */
    struct published_token *tokens;
    struct connection *oldest, *newest; /* MHD thread only */
    unsigned int open, evicting;        /* MHD thread only */
    char where[WHERE_MAX];              /* "127.0.0.1:5002", "[::]:5002": for messages */
    char mhd_message[MHD_MESSAGE_MAX];  /* MHD's last message: the reason when it cannot start */
};

/* The value target_is_challenge gives MHD for a request whose raw target is a challenge path: the
 * access handler then knows the target had no query and no escapes (MHD strips and decodes
 * both before it passes the path on). */
static char challenge_target_marker;

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

static int check_challenge(const struct acme_challenge_data *c, struct errbuf *err)
{
    const char *ident = identifier_of(c);

    if (!challenge_token_is_valid(c->token))
        return errbuf_set(err,
                          "http-01 for %s: the challenge token is not 1 to %d base64url characters",
                          ident, CHALLENGE_TOKEN_MAX_LEN);
    if (!c->key_authorization || !c->key_authorization[0])
        return errbuf_set(err, "http-01 for %s: no key authorization", ident);
    return 0;
}

/* ---- the token table (caller's thread and server thread, under lock) ---- */

/* The link that points at TOKEN's entry, or the list's terminating NULL link. */
static struct published_token **token_find(struct responder *r, const char *token)
{
    struct published_token **p;

    for (p = &r->tokens; *p; p = &(*p)->next)
        if (strcmp((*p)->token, token) == 0)
            return p;
    return p;
}

static int responder_begin(struct challenge_solver *s, const struct acme_challenge_data *c,
                           struct errbuf *err)
{
    struct responder *r = s->impl;
    struct published_token **slot, *fresh = NULL;
    char *auth;
    int rc = -1;

    if (check_challenge(c, err) < 0)
        return -1;
    auth = strdup(c->key_authorization);
    if (!auth)
        return errbuf_set(err, "http-01 for %s: out of memory", identifier_of(c));
    pthread_mutex_lock(&r->lock);
    slot = token_find(r, c->token);
    if (*slot) { /* begun again: the latest key authorization is the one to serve */
        free((*slot)->key_authorization);
        (*slot)->key_authorization = auth;
        auth = NULL;
        rc = 0;
        goto out;
    }
    fresh = calloc(1, sizeof(*fresh));
    if (!fresh || !(fresh->token = strdup(c->token))) {
        errbuf_set(err, "http-01 for %s: out of memory", identifier_of(c));
        goto out;
    }
    fresh->key_authorization = auth;
    auth = NULL;
    *slot = fresh;
    fresh = NULL;
    rc = 0;
    log_debug("http-01 responder on %s: serving token %s for %s", r->where, c->token,
              identifier_of(c));
out:
    pthread_mutex_unlock(&r->lock);
    if (fresh)
        free(fresh->token);
    free(fresh);
    free(auth);
    return rc;
}

static int responder_finish(struct challenge_solver *s, const struct acme_challenge_data *c,
                            int succeeded, struct errbuf *err)
{
    struct responder *r = s->impl;
    struct published_token **slot, *gone = NULL;

    (void)succeeded; /* withdrawn either way */
    (void)err;
    if (!c->token)
        return 0; /* nothing can have been begun with it */
    pthread_mutex_lock(&r->lock);
    slot = token_find(r, c->token);
    if (*slot) {
        gone = *slot;
        *slot = gone->next;
    }
    pthread_mutex_unlock(&r->lock);
    if (gone) {
        free(gone->token);
        free(gone->key_authorization);
        free(gone);
    }
    return 0;
}

/* A copy of TOKEN's key authorization, or NULL when it is not begun (or out of memory). */
static char *token_lookup(struct responder *r, const char *token)
{
    struct published_token *found;
    char *copy = NULL;

    pthread_mutex_lock(&r->lock);
    found = *token_find(r, token);
    if (found)
        copy = strdup(found->key_authorization);
    pthread_mutex_unlock(&r->lock);
    return copy;
}

/* ---- HTTP (MHD thread) ---- */

/* The path of an origin-form target ("/x") or of an absolute-form one ("http://host/x"), which
 * RFC 9112 §3.2.2 obliges a server to accept. NULL when it is neither. */
static const char *target_path(const char *target)
{
    static const char scheme[] = "http://";

    if (target[0] == '/')
        return target;
    if (strncasecmp(target, scheme, sizeof(scheme) - 1) != 0)
        return NULL;
    target = strchr(target + sizeof(scheme) - 1, '/');
    return target ? target : "/";
}

/* The token a request target names, or NULL when the target is no challenge path. */
static const char *challenge_token(const char *target)
{
    const char *path = target_path(target);
    size_t prefix_len = sizeof(CHALLENGE_PATH_PREFIX) - 1;

    if (!path || strncmp(path, CHALLENGE_PATH_PREFIX, prefix_len) != 0 ||
        !challenge_token_is_valid(path + prefix_len))
        return NULL;
    return path + prefix_len;
}

/* MHD_OPTION_URI_LOG_CALLBACK: sees the request target as sent, before MHD cuts off a query and
 * decodes escapes. The result is the request's *req_cls in answer(). */
static void *target_is_challenge(void *cls, const char *target, struct MHD_Connection *mhd)
{
    (void)cls;
    (void)mhd;
    return challenge_token(target) ? &challenge_target_marker : NULL;
}

/* Queue STATUS with BODY (copied). MHD adds Content-Length, leaves the body out for HEAD, and
 * closes the connection after it (Connection: close: one request per connection). */
static enum MHD_Result respond(struct MHD_Connection *mhd, unsigned int status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO; /* out of memory: MHD closes the connection */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE) == MHD_NO ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_NO ||
        (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_NO)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    rc = MHD_queue_response(mhd, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* MHD's access handler: called once the request head is complete. Answers at once: GET or HEAD
 * of a begun token gets its key authorization; anything else an error. Header fields are not
 * needed: the CA's Host header names the identifier, and we answer whatever it is. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *mhd, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct responder *r = cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const char *token;
    char *auth;
    enum MHD_Result rc;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (info && info->socket_context)
        ((struct connection *)info->socket_context)->has_request = 1;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(mhd, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    if (*req_cls != &challenge_target_marker || !(token = challenge_token(url)))
        return respond(mhd, MHD_HTTP_NOT_FOUND, "Not Found\n");
    auth = token_lookup(r, token);
    if (!auth)
        return respond(mhd, MHD_HTTP_NOT_FOUND, "Not Found\n");
    rc = respond(mhd, MHD_HTTP_OK, auth);
    free(auth);
    if (rc == MHD_YES) /* the token passed token_is_valid: safe to log */
        log_debug("http-01 responder on %s: answered token %s", r->where, token);
    return rc;
}

/* ---- connections and eviction (MHD thread) ---- */

/* Shut down the oldest connection without a complete request head, if any. MHD sees the
 * shutdown as the client's close on its next turn and closes the connection (calling
 * notify_connection with MHD_CONNECTION_NOTIFY_CLOSED). */
static void evict_oldest_incomplete(struct responder *r)
{
    for (struct connection *c = r->oldest; c; c = c->next) {
        const union MHD_ConnectionInfo *info;

        if (c->has_request || c->evicted)
            continue;
        info = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            continue;
        shutdown(info->connect_fd, SHUT_RDWR);
        c->evicted = 1;
        r->evicting++;
        log_debug("http-01 responder on %s: all %u connections busy, dropping the oldest idle "
                  "one",
                  r->where, r->capacity);
        return;
    }
}

/* MHD_OPTION_NOTIFY_CONNECTION: keep the list of open connections; make room when it is full. */
static void notify_connection(void *cls, struct MHD_Connection *mhd, void **socket_context,
                              enum MHD_ConnectionNotificationCode what)
{
    struct responder *r = cls;
    struct connection *c = *socket_context;

    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return; /* not tracked: never evicted, which is safe */
        c->mhd = mhd;
        c->prev = r->newest;
        if (r->newest)
            r->newest->next = c;
        else
            r->oldest = c;
        r->newest = c;
        r->open++;
        *socket_context = c;
        if (r->open - r->evicting >= r->capacity)
            evict_oldest_incomplete(r);
        return;
    }
    if (what != MHD_CONNECTION_NOTIFY_CLOSED || !c)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->oldest = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        r->newest = c->prev;
    r->open--;
    if (c->evicted)
        r->evicting--;
    *socket_context = NULL;
    free(c);
}

/* MHD's messages (a refused connection, a malformed request) are ours to log: debug only, since
 * clients we did not ask for cause them. The last one is kept for responder_start's error. (Called
 * by MHD_start_daemon in the caller's thread, then by MHD's thread only.) */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct responder *r = cls;
    char *msg = r->mhd_message;
    size_t len;

    vsnprintf(msg, sizeof(r->mhd_message), fmt, ap);
    len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == '.'))
        msg[--len] = '\0';
    log_debug("http-01 responder on %s: %s", r->where, msg);
}

/* ---- the listening socket ---- */

static void describe_address(const struct sockaddr_storage *ss, int port, char *out, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, text, sizeof(text));
        snprintf(out, size, "[%s]:%d", text, port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, text, sizeof(text));
        snprintf(out, size, "%s:%d", text, port);
    }
}

/* Fill SS from an IPv4 or IPv6 literal ("::1" or "[::1]"). Returns -1 when it is neither. */
static int parse_address(const char *text, int port, struct sockaddr_storage *ss)
{
    char bare[INET6_ADDRSTRLEN];
    size_t len = strlen(text);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']' && len - 2 < sizeof(bare)) {
        memcpy(bare, text + 1, len - 2);
        bare[len - 2] = '\0';
        text = bare;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) != 1)
        return -1;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    return 0;
}

/* Socket, bind and listen on SS. DUAL_STACK: an IPv6 socket that also takes IPv4 (for "all
 * addresses"); an explicit IPv6 address is IPv6 only, as in nginx. On failure errno is kept for
 * the caller to decide on a fallback. */
static int open_listener(const struct sockaddr_storage *ss, int dual_stack)
{
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1, v6only = !dual_stack, saved;

    if (fd < 0)
        return -1;
    /* SO_REUSEADDR: a restart may bind while the last run's connections sit in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) ||
        bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, RESPONDER_LISTEN_BACKLOG) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static const char *listen_hint(int error)
{
    if (error == EADDRINUSE)
        return " (another server is using this port)";
    if (error == EACCES)
        return " (ports below 1024 need privileges)";
    return "";
}

/* Open the listener for LISTEN_ADDR (NULL: "::" dual-stack, else 0.0.0.0 where the host has no
 * IPv6) and describe it in r->where. *FAMILY is the socket's address family. */
static int responder_listen(struct responder *r, const char *listen_addr, int port, int *family,
                            struct errbuf *err)
{
    struct sockaddr_storage ss;
    int any = listen_addr == NULL;

    if (parse_address(any ? "::" : listen_addr, port, &ss) < 0)
        return errbuf_set(err,
                          "http-01 responder: listen address \"%s\" is not an IPv4 or IPv6 "
                          "address",
                          listen_addr);
    describe_address(&ss, port, r->where, sizeof(r->where));
    r->listen_fd = open_listener(&ss, any);
    if (r->listen_fd < 0 && any && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
        parse_address("0.0.0.0", port, &ss); /* a host without IPv6 */
        describe_address(&ss, port, r->where, sizeof(r->where));
        r->listen_fd = open_listener(&ss, 0);
    }
    if (r->listen_fd < 0)
        return errbuf_set(err, "http-01 responder: cannot listen on %s: %s%s", r->where,
                          strerror(errno), listen_hint(errno));
    *family = ss.ss_family;
    return 0;
}

/* ---- life cycle ---- */

/* RESPONDER_MAX_CONNECTIONS, or fewer when the soft descriptor limit would leave the rest of the
 * process less than RESPONDER_FD_RESERVE: a flood must not make the renewer's own files and
 * connections fail with EMFILE. */
static unsigned int responder_capacity(void)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return RESPONDER_MAX_CONNECTIONS;
    room = rl.rlim_cur > RESPONDER_FD_RESERVE ? rl.rlim_cur - RESPONDER_FD_RESERVE : 0;
    if (room < RESPONDER_MIN_CONNECTIONS)
        return RESPONDER_MIN_CONNECTIONS;
    return room < RESPONDER_MAX_CONNECTIONS ? (unsigned int)room : RESPONDER_MAX_CONNECTIONS;
}

static void responder_free(struct responder *r)
{
    struct published_token *t, *next;

    if (r->daemon)
        MHD_stop_daemon(r->daemon); /* joins its thread, closes every connection and the listener */
    else if (r->listen_fd >= 0)
        close(r->listen_fd);
    while (r->oldest) { /* only if MHD did not report every close */
        struct connection *c = r->oldest;
        r->oldest = c->next;
        free(c);
    }
    for (t = r->tokens; t; t = next) {
        next = t->next;
        free(t->token);
        free(t->key_authorization);
        free(t);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void responder_destroy(struct challenge_solver *s)
{
    struct responder *r = s->impl;

    if (!r)
        return;
    responder_free(r);
    s->impl = NULL;
}

static const struct challenge_solver_ops responder_ops = {
    .type = "http-01",
    .begin = responder_begin,
    .finish = responder_finish,
    .destroy = responder_destroy,
};

/* MHD_start_daemon for the listening socket FD. Its thread starts with every signal blocked, so
 * signals meant for the program are delivered to the program's own threads. */
static struct MHD_Daemon *start_daemon(struct responder *r, int family, int fd)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;
    sigset_t all, previous;

    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    d = MHD_start_daemon(flags, 0, NULL, NULL, answer, r, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_CONNECTION_LIMIT, r->capacity, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned int)RESPONDER_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)RESPONDER_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_CONNECTION,
                         notify_connection, r, MHD_OPTION_URI_LOG_CALLBACK, target_is_challenge, r,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, r, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return d;
}

/* Start MHD on a duplicate of our listening socket. MHD owns what it is given (MHD_stop_daemon
 * closes it), but when it fails to start, 0.9.75 has closed it on some paths and not on others:
 * the duplicate is closed here only if that number still holds our socket (same inode), and ours
 * is closed either way. Nothing leaks and nothing is closed twice. */
static int responder_start(struct responder *r, int family, struct errbuf *err)
{
    struct stat ours, now;
    int given;

    if (fstat(r->listen_fd, &ours) < 0 || (given = fcntl(r->listen_fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return errbuf_set_errno(err,
                                "http-01 responder on %s: cannot hand the listener to "
                                "libmicrohttpd",
                                r->where);
    r->daemon = start_daemon(r, family, given);
    close(r->listen_fd); /* MHD's duplicate keeps the socket open, or it is closed below */
    r->listen_fd = -1;
    if (r->daemon)
        return 0;
    if (fstat(given, &now) == 0 && now.st_dev == ours.st_dev && now.st_ino == ours.st_ino)
        close(given);
    return errbuf_set(err, "http-01 responder on %s: libmicrohttpd could not start%s%s", r->where,
                      r->mhd_message[0] ? ": " : "", r->mhd_message);
}

int challenge_http01_responder_new(const char *listen_addr, int port, struct challenge_solver *out,
                                   struct errbuf *err)
{
    struct responder *r;
    int family = AF_UNSPEC;

    out->ops = NULL;
    out->impl = NULL;
    if (port < 1 || port > PORT_MAX)
        return errbuf_set(err, "http-01 responder: port %d is not between 1 and %d", port,
                          PORT_MAX);
    r = calloc(1, sizeof(*r));
    if (!r)
        return errbuf_set(err, "http-01 responder: out of memory");
    r->listen_fd = -1;
    r->capacity = responder_capacity();
    pthread_mutex_init(&r->lock, NULL);
    if (responder_listen(r, listen_addr, port, &family, err) < 0 ||
        responder_start(r, family, err) < 0) {
        responder_free(r);
        return -1;
    }
    log_debug("http-01 responder listening on %s (up to %u connections)", r->where, r->capacity);
    out->ops = &responder_ops;
    out->impl = r;
    return 0;
}
