/* challenge_http01_responder.c — http-01 answered by a small built-in HTTP server (RFC 8555 §8.3).
 *
 * One background thread runs a poll loop over the listening socket, a wake pipe and up to
 * RESPONDER_MAX_CONNECTIONS client connections, all non-blocking. A connection lives for one
 * request: read its head, write one response, close (no keep-alive). Each connection has a
 * deadline from the moment it is accepted, so a client that is slow to send its request (or to
 * read the answer) is dropped at its deadline and never delays the others.
 *
 * The token table is the only state the caller's thread shares with the server thread; a mutex
 * protects it. The server builds a response under the lock (copying the key authorization), and
 * finish() unlinks an entry under the lock before freeing it, so neither sees the other half-done.
 * destroy() wakes the thread through the pipe and joins it before freeing anything. */
#include "acme/challenge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* A request head larger than this is no ACME validation request: Pebble's and Let's Encrypt's are
 * a few hundred bytes. */
#define RESPONDER_MAX_REQUEST 8192
/* Concurrent connections served; more wait in the listen backlog until a slot frees (or the
 * oldest gives way, RESPONDER_EVICT_AFTER_MS). A CA validates each name from a handful of vantage
 * points, so this leaves ample room. */
#define RESPONDER_MAX_CONNECTIONS 32
#define RESPONDER_LISTEN_BACKLOG 64
/* From accept to the last byte of the response. Validation servers answer within a second; this
 * only bounds how long an idle or trickling client holds a slot. */
#define RESPONDER_CONNECTION_TIMEOUT_MS 10000
/* With every slot taken, the oldest connection gives way to a newcomer once it is this old. */
#define RESPONDER_EVICT_AFTER_MS 1000
/* After accept() fails for lack of descriptors, wait this long before trying again instead of
 * spinning on a listening socket that stays readable. */
#define RESPONDER_ACCEPT_BACKOFF_MS 100
/* Bytes read (once, without waiting) from a closing connection, so input we did not need (a body,
 * a pipelined request) does not turn our close into a reset that could destroy the response
 * before the client reads it. */
#define RESPONDER_DRAIN_MAX 4096
/* Room for the status line and headers of a response. */
#define RESPONSE_HEAD_MAX 256
/* Far above what CAs issue (Let's Encrypt and Pebble: 43 characters, 256 bits); a bound keeps a
 * hostile or broken value from becoming a huge table key or file name. */
#define TOKEN_MAX_LEN 128
/* RFC 4648 §5 */
#define BASE64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define CHALLENGE_PATH_PREFIX "/.well-known/acme-challenge/" /* RFC 8555 §8.3 */
#define HTTP_VERSION_PREFIX "HTTP/"                          /* RFC 9112 §2.3 */
/* "[" address "]:" port */
#define WHERE_MAX (INET6_ADDRSTRLEN + sizeof("[]:65535"))
#define PORT_MAX 65535

enum http_status {
    HTTP_OK = 200,
    HTTP_BAD_REQUEST = 400,
    HTTP_NOT_FOUND = 404,
    HTTP_METHOD_NOT_ALLOWED = 405,
    HTTP_HEADERS_TOO_LARGE = 431, /* RFC 6585 §5 */
    HTTP_VERSION_NOT_SUPPORTED = 505,
};

struct published_token {
    struct published_token *next;
    char *token;
    char *key_authorization;
};

/* A client connection, owned by the server thread. fd < 0: the slot is free. */
struct connection {
    int fd;
    long long accepted_ms; /* the deadline is RESPONDER_CONNECTION_TIMEOUT_MS later */
    size_t received;
    char request[RESPONDER_MAX_REQUEST];
    char *response; /* NULL while the request is still being read */
    size_t response_len, sent;
};

struct responder {
    int listen_fd;
    int wake[2]; /* destroy() writes to wake[1]; the thread returns when wake[0] is readable */
    pthread_t thread;
    pthread_mutex_t lock; /* protects tokens */
    struct published_token *tokens;
    char where[WHERE_MAX]; /* "127.0.0.1:5002", "[::]:5002": for messages */
    struct connection conns[RESPONDER_MAX_CONNECTIONS];
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A token becomes a URL path, a file name, a hook's argument: only the base64url alphabet (RFC 8555
 * §8.1) may pass, so "..", "/" and control characters never do. */
static int token_is_valid(const char *token)
{
    size_t len = strlen(token);

    return len > 0 && len <= TOKEN_MAX_LEN && strspn(token, BASE64URL_ALPHABET) == len;
}

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

static int check_challenge(const struct acme_challenge_data *c, struct errbuf *err)
{
    const char *ident = identifier_of(c);

    if (!c->token || !token_is_valid(c->token))
        return errbuf_set(err,
                          "http-01 for %s: the challenge token is not 1 to %d base64url characters",
                          ident, TOKEN_MAX_LEN);
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

/* ---- HTTP ---- */

static const char *reason_phrase(enum http_status status)
{
    switch (status) {
    case HTTP_OK:
        return "OK";
    case HTTP_BAD_REQUEST:
        return "Bad Request";
    case HTTP_NOT_FOUND:
        return "Not Found";
    case HTTP_METHOD_NOT_ALLOWED:
        return "Method Not Allowed";
    case HTTP_HEADERS_TOO_LARGE:
        return "Request Header Fields Too Large";
    case HTTP_VERSION_NOT_SUPPORTED:
        return "HTTP Version Not Supported";
    }
    return "Error";
}

/* Set the connection's response: STATUS with BODY (the reason phrase when NULL). HEAD gets the
 * same headers without the body. Returns -1 when out of memory. */
static int set_response(struct connection *c, enum http_status status, const char *body,
                        int head_only)
{
    char fallback[RESPONSE_HEAD_MAX];
    size_t body_len, cap;
    int n;

    if (!body) {
        snprintf(fallback, sizeof(fallback), "%s\n", reason_phrase(status));
        body = fallback;
    }
    body_len = strlen(body);
    cap = RESPONSE_HEAD_MAX + body_len;
    c->response = malloc(cap);
    if (!c->response)
        return -1;
    n = snprintf(c->response, cap,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "%sConnection: close\r\n\r\n",
                 (int)status, reason_phrase(status), body_len,
                 status == HTTP_METHOD_NOT_ALLOWED ? "Allow: GET, HEAD\r\n" : "");
    c->response_len = (size_t)n;
    if (!head_only) {
        memcpy(c->response + n, body, body_len);
        c->response_len += body_len;
    }
    c->sent = 0;
    return 0;
}

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

/* Answer a GET or HEAD for PATH: the key authorization of a begun token, else 404. */
static int respond_to_path(struct responder *r, struct connection *c, const char *path,
                           int head_only)
{
    size_t prefix_len = sizeof(CHALLENGE_PATH_PREFIX) - 1;
    const char *token = path + prefix_len;
    struct published_token *found;
    int rc;

    if (strncmp(path, CHALLENGE_PATH_PREFIX, prefix_len) != 0 || !token_is_valid(token))
        return set_response(c, HTTP_NOT_FOUND, NULL, head_only);
    pthread_mutex_lock(&r->lock);
    found = *token_find(r, token);
    rc = set_response(c, found ? HTTP_OK : HTTP_NOT_FOUND, found ? found->key_authorization : NULL,
                      head_only);
    pthread_mutex_unlock(&r->lock);
    if (found && rc == 0) /* the token passed token_is_valid: safe to log */
        log_debug("http-01 responder on %s: answered token %s", r->where, token);
    return rc;
}

/* The request head is complete in c->request (LEN bytes up to the blank line): parse the request
 * line ("METHOD SP TARGET SP HTTP/1.x", RFC 9112 §3) and set the response. Header fields are not
 * needed: the CA's Host header names the identifier, and we answer whatever it is. */
static int respond_to_request(struct responder *r, struct connection *c, size_t len)
{
    char *line = c->request, *method = line, *target, *version;
    size_t line_len = (size_t)((char *)memchr(line, '\n', len) - line);
    const char *path;
    int head_only;

    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    line[line_len] = '\0';
    target = strchr(method, ' ');
    version = target ? strchr(target + 1, ' ') : NULL;
    if (strlen(line) != line_len || !version || strchr(version + 1, ' '))
        return set_response(c, HTTP_BAD_REQUEST, NULL, 0); /* a NUL inside, or not 3 parts */
    *target++ = '\0';
    *version++ = '\0';
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
        int is_http = strncmp(version, HTTP_VERSION_PREFIX, strlen(HTTP_VERSION_PREFIX)) == 0;
        return set_response(c, is_http ? HTTP_VERSION_NOT_SUPPORTED : HTTP_BAD_REQUEST, NULL, 0);
    }
    head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0)
        return set_response(c, HTTP_METHOD_NOT_ALLOWED, NULL, 0);
    path = target_path(target);
    if (!path)
        return set_response(c, HTTP_BAD_REQUEST, NULL, head_only);
    return respond_to_path(r, c, path, head_only);
}

/* Length of the request head through its blank line (CRLF CRLF, or bare LF LF, which RFC 9112
 * §2.2 lets a server accept), or 0 while it is incomplete. */
static size_t request_head_length(const struct connection *c)
{
    const char *crlf = memmem(c->request, c->received, "\r\n\r\n", 4);
    const char *lf = memmem(c->request, c->received, "\n\n", 2);

    if (crlf && (!lf || crlf < lf))
        return (size_t)(crlf - c->request) + 4;
    return lf ? (size_t)(lf - c->request) + 2 : 0;
}

/* ---- connections (server thread only) ---- */

static void connection_close(struct connection *c)
{
    char scratch[RESPONDER_DRAIN_MAX];

    if (c->response) /* a complete response went out: let the client see it before any reset */
        shutdown(c->fd, SHUT_WR);
    (void)!recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
    close(c->fd);
    free(c->response);
    c->fd = -1;
    c->response = NULL;
    c->received = 0;
}

/* Drop a connection without a response (or the rest of one). */
static void connection_abort(struct connection *c)
{
    free(c->response);
    c->response = NULL;
    connection_close(c);
}

static void connection_write(struct connection *c)
{
    while (c->sent < c->response_len) {
        ssize_t n = send(c->fd, c->response + c->sent, c->response_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the poll loop waits for POLLOUT */
        if (n < 0) {
            connection_abort(c); /* the peer is gone: no orderly shutdown to do */
            return;
        }
        c->sent += (size_t)n;
    }
    connection_close(c);
}

static void connection_read(struct responder *r, struct connection *c)
{
    size_t head_len;
    ssize_t n;
    int rc;

    n = recv(c->fd, c->request + c->received, sizeof(c->request) - c->received, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) { /* closed or reset before a whole request arrived */
        connection_close(c);
        return;
    }
    c->received += (size_t)n;
    head_len = request_head_length(c);
    if (head_len > 0)
        rc = respond_to_request(r, c, head_len);
    else if (c->received == sizeof(c->request))
        rc = set_response(c, HTTP_HEADERS_TOO_LARGE, NULL, 0);
    else
        return; /* wait for more */
    if (rc < 0) {
        connection_close(c);
        return;
    }
    connection_write(c);
}

static struct connection *free_slot(struct responder *r)
{
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++)
        if (r->conns[i].fd < 0)
            return &r->conns[i];
    return NULL;
}

static struct connection *oldest_connection(struct responder *r)
{
    struct connection *oldest = NULL;

    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++)
        if (r->conns[i].fd >= 0 && (!oldest || r->conns[i].accepted_ms < oldest->accepted_ms))
            oldest = &r->conns[i];
    return oldest;
}

/* When a new connection can be taken: now if a slot is free; else once the oldest connection is
 * RESPONDER_EVICT_AFTER_MS old. A validation request takes milliseconds, so a client that old is
 * idle or trickling: it gives way rather than lock the CA out until its deadline. */
static long long accept_possible_at(struct responder *r)
{
    struct connection *oldest;

    if (free_slot(r))
        return 0;
    oldest = oldest_connection(r);
    return oldest->accepted_ms + RESPONDER_EVICT_AFTER_MS;
}

/* Accept what is waiting, while a slot is free or can be freed. Returns when to accept again
 * after a failure (0: whenever the socket is readable). */
static long long accept_connections(struct responder *r)
{
    while (now_ms() >= accept_possible_at(r)) {
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct connection *c;

        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return 0;
            log_warning("http-01 responder on %s: accept: %s", r->where, strerror(errno));
            return now_ms() + RESPONDER_ACCEPT_BACKOFF_MS;
        }
        c = free_slot(r);
        if (!c) {
            c = oldest_connection(r);
            log_debug("http-01 responder on %s: all %d connections busy, dropping the oldest",
                      r->where, RESPONDER_MAX_CONNECTIONS);
            connection_abort(c);
        }
        c->fd = fd;
        c->accepted_ms = now_ms();
        c->received = 0;
        c->response = NULL;
    }
    return 0;
}

static void expire_connections(struct responder *r, long long now)
{
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++)
        if (r->conns[i].fd >= 0 && now >= r->conns[i].accepted_ms + RESPONDER_CONNECTION_TIMEOUT_MS)
            connection_abort(&r->conns[i]);
}

/* Milliseconds poll may sleep: until the nearest connection deadline, the end of an accept
 * back-off, or the moment a full table can take a newcomer; -1 (forever) when none is pending. */
static int poll_timeout(struct responder *r, long long now, long long accept_resume_ms)
{
    long long next = -1, accept_at = accept_possible_at(r);

    if (accept_resume_ms > now)
        next = accept_resume_ms;
    if (accept_at > now && (next < 0 || accept_at < next))
        next = accept_at;
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++) {
        long long deadline = r->conns[i].accepted_ms + RESPONDER_CONNECTION_TIMEOUT_MS;
        if (r->conns[i].fd >= 0 && (next < 0 || deadline < next))
            next = deadline;
    }
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

/* The poll set: wake pipe first, then the listener (when a newcomer can be taken and no back-off
 * is running), then every open connection. SLOT_OF maps an entry back to its connection. */
static nfds_t build_poll_set(struct responder *r, struct pollfd *fds, int *slot_of,
                             int *listen_index, long long now, long long accept_resume_ms)
{
    nfds_t n = 0;

    fds[n++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
    *listen_index = -1;
    if (now >= accept_possible_at(r) && now >= accept_resume_ms) {
        *listen_index = (int)n;
        fds[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
    }
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++) {
        if (r->conns[i].fd < 0)
            continue;
        slot_of[n] = i;
        fds[n++] = (struct pollfd){.fd = r->conns[i].fd,
                                   .events = r->conns[i].response ? POLLOUT : POLLIN};
    }
    return n;
}

/* Serve the connections that are ready (those in FDS after the wake pipe and listener). */
static void serve_ready(struct responder *r, const struct pollfd *fds, const int *slot_of, nfds_t n,
                        int listen_index)
{
    for (nfds_t i = 1; i < n; i++) {
        struct connection *c;

        if ((int)i == listen_index || !fds[i].revents)
            continue;
        c = &r->conns[slot_of[i]];
        if (c->response)
            connection_write(c);
        else
            connection_read(r, c);
    }
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;
    struct pollfd fds[2 + RESPONDER_MAX_CONNECTIONS];
    int slot_of[2 + RESPONDER_MAX_CONNECTIONS];
    long long accept_resume_ms = 0;

    for (;;) {
        long long now = now_ms();
        int listen_index;
        nfds_t n = build_poll_set(r, fds, slot_of, &listen_index, now, accept_resume_ms);

        if (poll(fds, n, poll_timeout(r, now, accept_resume_ms)) < 0) {
            if (errno == EINTR)
                continue;
            log_error("http-01 responder on %s stopped: poll: %s", r->where, strerror(errno));
            break;
        }
        if (fds[0].revents)
            break; /* destroy() */
        serve_ready(r, fds, slot_of, n, listen_index);
        if (listen_index >= 0 && fds[listen_index].revents)
            accept_resume_ms = accept_connections(r);
        expire_connections(r, now_ms());
    }
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++)
        if (r->conns[i].fd >= 0)
            connection_close(&r->conns[i]);
    return NULL;
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
 * IPv6) and describe it in r->where. */
static int responder_listen(struct responder *r, const char *listen_addr, int port,
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
    return 0;
}

/* ---- life cycle ---- */

static void responder_free(struct responder *r)
{
    struct published_token *t, *next;

    if (r->listen_fd >= 0)
        close(r->listen_fd);
    for (int i = 0; i < 2; i++)
        if (r->wake[i] >= 0)
            close(r->wake[i]);
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
    ssize_t n;

    if (!r)
        return;
    do
        n = write(r->wake[1], "x", 1);
    while (n < 0 && errno == EINTR);
    pthread_join(r->thread, NULL);
    responder_free(r);
    s->impl = NULL;
}

static const struct challenge_solver_ops responder_ops = {
    .type = "http-01",
    .begin = responder_begin,
    .finish = responder_finish,
    .destroy = responder_destroy,
};

/* Start the server thread with every signal blocked, so signals meant for the program are
 * delivered to its own threads and never interrupt (or get lost in) the poll loop. */
static int responder_start(struct responder *r, struct errbuf *err)
{
    sigset_t all, previous;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    rc = pthread_create(&r->thread, NULL, responder_main, r);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rc != 0) {
        errno = rc;
        return errbuf_set_errno(err, "http-01 responder on %s: cannot start its thread", r->where);
    }
    return 0;
}

int challenge_http01_responder_new(const char *listen_addr, int port, struct challenge_solver *out,
                                   struct errbuf *err)
{
    struct responder *r;

    out->ops = NULL;
    out->impl = NULL;
    if (port < 1 || port > PORT_MAX)
        return errbuf_set(err, "http-01 responder: port %d is not between 1 and %d", port,
                          PORT_MAX);
    r = calloc(1, sizeof(*r));
    if (!r)
        return errbuf_set(err, "http-01 responder: out of memory");
    r->listen_fd = r->wake[0] = r->wake[1] = -1;
    for (int i = 0; i < RESPONDER_MAX_CONNECTIONS; i++)
        r->conns[i].fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    if (responder_listen(r, listen_addr, port, err) < 0)
        goto fail;
    if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        errbuf_set_errno(err, "http-01 responder on %s: cannot create its wake pipe", r->where);
        goto fail;
    }
    if (responder_start(r, err) < 0)
        goto fail;
    log_debug("http-01 responder listening on %s", r->where);
    out->ops = &responder_ops;
    out->impl = r;
    return 0;
fail:
    responder_free(r);
    return -1;
}
