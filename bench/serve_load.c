/* bench/serve_load.c — the client side of bench/serve-vs-peers, and its tiny backend.
 *
 *   bench_serve_load load --connect HOST:PORT --names FILE [--conns C] [--seconds S] [--once]
 *                         [--hot FILE --hot-conns C] [--timeout-ms T]
 *       Full TLS 1.3 handshakes, as many as C connections at a time (one thread, epoll), for S
 *       seconds: each connection offers TLS 1.3 only (TLS_AES_128_GCM_SHA256, X25519) with the next
 *       name of FILE as its SNI, never resumes (a new session each time, no ticket reused), checks
 *       that the served certificate names the host (X509_check_host: a server that serves the
 *       wrong certificate is counted, and the bench fails on it), then writes 16 bytes, reads them
 *       back through the server's backend (bench_serve_load echo), sends close_notify and closes.
 *       The latency of one handshake is from connect() to the client's handshake done. With
 *       --once, each name is used once (cold loads) and the run ends early when FILE runs out.
 *       With --hot, a second group of connections cycles through the names of that file and is
 *       reported on its own line (the cached names whose latency is watched while the first group
 *       makes the server load uncached ones).
 *       Prints one line a group:
 *         group=NAME handshakes=N errors=N timeouts=N wrong_cert=N seconds=S rate=R
 *         p50_us=X p90_us=X p99_us=X p999_us=X max_us=X
 *       and `group=client cpu_pct=P`: the client's own CPU time over the run (near 100: the client
 *       was the limit, not the server).
 *       and the first error message of each group on stderr. Exit 0, or 1 when a certificate
 *       did not name its host or nothing succeeded.
 *
 *   bench_serve_load probe --connect HOST:PORT --name NAME --since NS [--pid PID] [--timeout-ms T]
 *       One handshake (with the echo) every 2 ms until one succeeds and serves NAME's certificate;
 *       prints the milliseconds from NS (CLOCK_REALTIME, `date +%s%N`, taken just before the
 *       server was started) to that success: the server's start time. Exit 1 after T ms
 *       (default 600,000) without one, or as soon as process PID is gone (or a zombie).
 *
 *   bench_serve_load echo --port PORT
 *       The backend: accepts on 127.0.0.1:PORT and echoes each connection's bytes until EOF
 *       (epoll, one thread). Runs until killed.
 *
 * No certificate chain is verified (the client core is the scarce one; the bench only needs to know
 * that the right certificate came); OpenSSL still checks the server's CertificateVerify signature. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define ECHO_LEN 16
#define MAX_CONNS 4096
#define EPOLL_BATCH 256
#define PROBE_INTERVAL_NS 2000000L /* 2 ms between start-time probes */
#define DEFAULT_TIMEOUT_MS 5000
#define PROBE_TIMEOUT_MS 600000
#define ECHO_BACKLOG 4096
#define ECHO_BUF 16384

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench_serve_load: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static int64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct sockaddr_in parse_addr(const char *text)
{
    struct sockaddr_in sa;
    char host[64];
    const char *colon = strrchr(text, ':');

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (!colon || (size_t)(colon - text) >= sizeof(host))
        die("--connect wants IPV4:PORT, not %s", text);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || atoi(colon + 1) <= 0)
        die("--connect wants IPV4:PORT, not %s", text);
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    return sa;
}

/* --- names ------------------------------------------------------------------------------------ */

struct names {
    char **v;
    size_t n, next;
    int wrapped;
};

static void names_load(struct names *ns, const char *file)
{
    FILE *f = fopen(file, "r");
    char line[512];
    size_t cap = 0;

    if (!f)
        die("cannot open %s", file);
    memset(ns, 0, sizeof(*ns));
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        if (ns->n == cap) {
            cap = cap ? cap * 2 : 1024;
            ns->v = realloc(ns->v, cap * sizeof(*ns->v));
            if (!ns->v)
                die("%s", "out of memory");
        }
        ns->v[ns->n] = strdup(line);
        if (!ns->v[ns->n++])
            die("%s", "out of memory");
    }
    fclose(f);
    if (ns->n == 0)
        die("no names in %s", file);
}

/* The next name, or NULL when ONCE and every name was used. */
static const char *names_next(struct names *ns, int once)
{
    if (ns->next == ns->n) {
        if (once)
            return NULL;
        ns->next = 0;
        ns->wrapped = 1;
    }
    return ns->v[ns->next++];
}

/* --- one group's results ---------------------------------------------------------------------- */

struct stats {
    const char *name;
    uint32_t *lat_us;
    size_t n, cap;
    long errors, timeouts, wrong_cert;
    char first_error[256];
};

static void stats_add(struct stats *s, int64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->lat_us = realloc(s->lat_us, s->cap * sizeof(*s->lat_us));
        if (!s->lat_us)
            die("%s", "out of memory");
    }
    s->lat_us[s->n++] = (uint32_t)(ns / 1000);
}

static void stats_error(struct stats *s, const char *what, const char *host)
{
    s->errors++;
    if (!s->first_error[0]) {
        unsigned long e = ERR_peek_error();
        snprintf(s->first_error, sizeof(s->first_error), "%s (%s)%s%s", what, host,
                 e ? ": " : "", e ? ERR_reason_error_string(e) : "");
    }
    ERR_clear_error();
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t percentile(const struct stats *s, double p)
{
    size_t i;
    if (s->n == 0)
        return 0;
    i = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->lat_us[i];
}

static void stats_print(struct stats *s, double seconds)
{
    qsort(s->lat_us, s->n, sizeof(*s->lat_us), cmp_u32);
    printf("group=%s handshakes=%zu errors=%ld timeouts=%ld wrong_cert=%ld seconds=%.3f rate=%.1f "
           "p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u\n",
           s->name, s->n, s->errors, s->timeouts, s->wrong_cert, seconds,
           seconds > 0 ? (double)s->n / seconds : 0.0, percentile(s, 0.50), percentile(s, 0.90),
           percentile(s, 0.99), percentile(s, 0.999), s->n ? s->lat_us[s->n - 1] : 0);
    if (s->first_error[0])
        fprintf(stderr, "bench_serve_load: %s: first error: %s\n", s->name, s->first_error);
}

/* --- connections ------------------------------------------------------------------------------ */

enum conn_state { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_ECHO_WRITE, C_ECHO_READ };

struct group {
    struct names names;
    struct stats stats;
    int conns, once, done;
};

struct conn {
    enum conn_state state;
    int fd;
    SSL *ssl;
    struct group *g;
    const char *host;
    int64_t start_ns;
    size_t echo_done;
    unsigned char buf[ECHO_LEN];
};

struct loop {
    int ep;
    SSL_CTX *ctx;
    struct sockaddr_in addr;
    int64_t timeout_ns;
};

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") ||
        !SSL_CTX_set1_groups_list(ctx, "X25519"))
        die("%s", "cannot set up the client's SSL_CTX");
    /* Resumption off: no client session cache, and each SSL starts without a session. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

static void conn_close(struct loop *lp, struct conn *c)
{
    if (c->ssl) {
        if (c->state == C_ECHO_READ && c->echo_done == ECHO_LEN)
            SSL_shutdown(c->ssl); /* our close_notify; we do not wait for the server's */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = C_IDLE;
}

static void conn_fail(struct loop *lp, struct conn *c, const char *what)
{
    stats_error(&c->g->stats, what, c->host);
    conn_close(lp, c);
}

static void conn_watch(struct loop *lp, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Start C's next connection; returns 0, or -1 when its group has no name left. */
static int conn_start(struct loop *lp, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    int one = 1;

    c->host = names_next(&c->g->names, c->g->once);
    if (!c->host)
        return -1;
    c->start_ns = now_ns(CLOCK_MONOTONIC);
    c->echo_done = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("%s", "socket() failed");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&lp->addr, sizeof(lp->addr)) != 0 &&
        errno != EINPROGRESS) {
        c->state = C_CONNECTING;
        conn_fail(lp, c, "connect");
        return 0;
    }
    c->ssl = SSL_new(lp->ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || !SSL_set_tlsext_host_name(c->ssl, c->host))
        die("%s", "cannot set up an SSL");
    SSL_set_connect_state(c->ssl);
    c->state = C_CONNECTING;
    epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* Drive an SSL call's outcome: 1 done, 0 wait (epoll interest updated), -1 failed. */
static int ssl_progress(struct loop *lp, struct conn *c, int rc)
{
    if (rc > 0)
        return 1;
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ: conn_watch(lp, c, EPOLLIN); return 0;
    case SSL_ERROR_WANT_WRITE: conn_watch(lp, c, EPOLLOUT); return 0;
    default: return -1;
    }
}

static void conn_step(struct loop *lp, struct conn *c)
{
    int rc;

    if (c->state == C_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
            errno = soerr;
            conn_fail(lp, c, "connect");
            return;
        }
        c->state = C_HANDSHAKE;
    }
    if (c->state == C_HANDSHAKE) {
        X509 *peer;
        rc = ssl_progress(lp, c, SSL_do_handshake(c->ssl));
        if (rc < 0) {
            conn_fail(lp, c, "handshake");
            return;
        }
        if (rc == 0)
            return;
        stats_add(&c->g->stats, now_ns(CLOCK_MONOTONIC) - c->start_ns);
        peer = SSL_get0_peer_certificate(c->ssl);
        if (!peer || X509_check_host(peer, c->host, 0, 0, NULL) != 1) {
            c->g->stats.wrong_cert++;
            stats_error(&c->g->stats, "served a certificate that does not name the host", c->host);
            c->g->stats.errors--; /* counted as wrong_cert, not as an error */
            conn_close(lp, c);
            return;
        }
        memset(c->buf, 'e', sizeof(c->buf));
        c->state = C_ECHO_WRITE;
    }
    if (c->state == C_ECHO_WRITE) {
        rc = ssl_progress(lp, c, SSL_write(c->ssl, c->buf, ECHO_LEN));
        if (rc < 0) {
            conn_fail(lp, c, "write through the server");
            return;
        }
        if (rc == 0)
            return;
        c->state = C_ECHO_READ;
        conn_watch(lp, c, EPOLLIN);
    }
}

/* Read the echo back; the connection is done when all of it came. */
static void conn_read_echo(struct loop *lp, struct conn *c)
{
    while (c->echo_done < ECHO_LEN) {
        int n = SSL_read(c->ssl, c->buf + c->echo_done, (int)(ECHO_LEN - c->echo_done));
        if (n > 0) {
            c->echo_done += (size_t)n;
            continue;
        }
        if (ssl_progress(lp, c, n) < 0)
            conn_fail(lp, c, "read the echo back through the server");
        return;
    }
    conn_close(lp, c); /* a finished connection */
}

static void conn_event(struct loop *lp, struct conn *c)
{
    if (c->state != C_ECHO_READ)
        conn_step(lp, c);
    if (c->state == C_ECHO_READ)
        conn_read_echo(lp, c);
}

static int cmd_load(struct loop *lp, struct group *groups, int ngroups, double seconds)
{
    struct conn *conns;
    struct epoll_event evs[EPOLL_BATCH];
    int total = 0, active;
    int64_t t0, end, t_last;

    for (int g = 0; g < ngroups; g++)
        total += groups[g].conns;
    conns = calloc((size_t)total, sizeof(*conns));
    if (!conns)
        die("%s", "out of memory");
    for (int i = 0, g = 0, k = 0; i < total; i++, k++) {
        if (k == groups[g].conns) {
            g++;
            k = 0;
        }
        conns[i].fd = -1;
        conns[i].g = &groups[g];
    }
    t0 = now_ns(CLOCK_MONOTONIC);
    end = t0 + (int64_t)(seconds * 1e9);
    for (int i = 0; i < total; i++)
        if (conn_start(lp, &conns[i]) != 0)
            conns[i].g->done = 1;
    t_last = t0;
    for (;;) {
        int64_t now = now_ns(CLOCK_MONOTONIC);
        int n = epoll_wait(lp->ep, evs, EPOLL_BATCH, 10);
        for (int i = 0; i < n; i++)
            conn_event(lp, evs[i].data.ptr);
        now = now_ns(CLOCK_MONOTONIC);
        active = 0;
        for (int i = 0; i < total; i++) {
            struct conn *c = &conns[i];
            if (c->state != C_IDLE && now - c->start_ns > lp->timeout_ns) {
                c->g->stats.timeouts++;
                stats_error(&c->g->stats, "timed out", c->host);
                c->g->stats.errors--;
                conn_close(lp, c);
            }
            if (c->state == C_IDLE && now < end && !c->g->done && conn_start(lp, c) != 0)
                c->g->done = 1;
            if (c->state != C_IDLE)
                active++;
        }
        if (now < end)
            t_last = now;
        if (active == 0 && (now >= end || groups[0].done))
            break;
    }
    /* The rate is over the time connections were being started: in-flight ones finish after it. */
    {
        struct rusage ru;
        double cpu;
        getrusage(RUSAGE_SELF, &ru);
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        /* whether the client itself was the limit: near 100 % means it was */
        printf("group=client cpu_pct=%.0f\n", 100.0 * cpu / ((double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9));
    }
    for (int g = 0; g < ngroups; g++) {
        stats_print(&groups[g].stats, (double)(t_last - t0) / 1e9);
        if (groups[g].names.wrapped && groups[g].once == 0 && g == 0 && ngroups > 1)
            fprintf(stderr, "bench_serve_load: %s: names used more than once\n", groups[g].stats.name);
    }
    free(conns);
    for (int g = 0; g < ngroups; g++)
        if (groups[g].stats.wrong_cert > 0 || groups[g].stats.n == 0)
            return 1;
    return 0;
}

/* --- probe: the start time -------------------------------------------------------------------- */

/* PID exists and is not a zombie (a server that died at start is our parent shell's zombie). */
static int process_alive(long pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int cmd_probe(struct loop *lp, const char *host, int64_t since_ns, int64_t timeout_ns,
                     long pid)
{
    struct group g;
    struct conn c;
    char *one = (char *)host;
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + timeout_ns;

    memset(&g, 0, sizeof(g));
    g.names.v = &one;
    g.names.n = 1;
    g.stats.name = "probe";
    g.conns = 1;
    while (now_ns(CLOCK_MONOTONIC) < deadline) {
        struct epoll_event ev;

        if (pid > 0 && !process_alive(pid)) {
            fprintf(stderr, "bench_serve_load: probe: the server (pid %ld) exited\n", pid);
            return 1;
        }

        int64_t conn_deadline;
        memset(&c, 0, sizeof(c));
        c.fd = -1;
        c.g = &g;
        g.names.next = 0;
        conn_start(lp, &c);
        conn_deadline = c.start_ns + lp->timeout_ns;
        while (c.state != C_IDLE && now_ns(CLOCK_MONOTONIC) < conn_deadline)
            if (epoll_wait(lp->ep, &ev, 1, 10) == 1)
                conn_event(lp, &c);
        if (c.state == C_IDLE && g.stats.n > 0 && g.stats.wrong_cert == 0 && c.echo_done == ECHO_LEN) {
            printf("%.1f\n", (double)(now_ns(CLOCK_REALTIME) - since_ns) / 1e6);
            return 0;
        }
        conn_close(lp, &c);
        g.stats.n = 0;
        g.stats.wrong_cert = 0;
        {
            struct timespec pause = {0, PROBE_INTERVAL_NS};
            nanosleep(&pause, NULL);
        }
    }
    fprintf(stderr, "bench_serve_load: probe: no handshake for %s within %lld ms%s%s\n", host,
            (long long)(timeout_ns / 1000000), g.stats.first_error[0] ? "; first error: " : "",
            g.stats.first_error);
    return 1;
}

/* --- echo: the backend ------------------------------------------------------------------------ */

static _Noreturn void cmd_echo(int port)
{
    struct sockaddr_in sa;
    struct epoll_event ev, evs[EPOLL_BATCH];
    int lfd, ep, one = 1;
    char buf[ECHO_BUF];

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, ECHO_BACKLOG) != 0)
        die("echo: cannot listen on 127.0.0.1:%s", strerror(errno));
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, EPOLL_BATCH, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    ev.events = EPOLLIN;
                    ev.data.fd = cfd;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r > 0) {
                    /* loopback with small messages: a short write here would mean a stuck peer */
                    if (write(fd, buf, (size_t)r) != r)
                        r = 0;
                    else
                        continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                close(fd); /* EOF or error; closing removes it from the epoll set */
                break;
            }
        }
    }
}

/* --- main ------------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_serve_load load --connect IP:PORT --names FILE [--conns C] [--seconds S]\n"
            "                             [--once] [--hot FILE --hot-conns C] [--timeout-ms T]\n"
            "       bench_serve_load probe --connect IP:PORT --name NAME --since NS [--pid PID]\n"
            "                              [--timeout-ms T]\n"
            "       bench_serve_load echo --port PORT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cmd, *connect_to = NULL, *names = NULL, *hot = NULL, *name = NULL;
    int conns = 1, hot_conns = 1, once = 0, port = 0;
    long pid = 0;
    long timeout_ms = -1;
    double seconds = 10, since_ns = 0;
    struct loop lp;
    struct group groups[2];

    if (argc < 2)
        usage();
    cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--once") == 0) {
            once = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--connect") == 0)
            connect_to = v;
        else if (strcmp(a, "--names") == 0)
            names = v;
        else if (strcmp(a, "--hot") == 0)
            hot = v;
        else if (strcmp(a, "--name") == 0)
            name = v;
        else if (strcmp(a, "--conns") == 0)
            conns = atoi(v);
        else if (strcmp(a, "--hot-conns") == 0)
            hot_conns = atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            seconds = atof(v);
        else if (strcmp(a, "--timeout-ms") == 0)
            timeout_ms = atol(v);
        else if (strcmp(a, "--since") == 0)
            since_ns = atof(v);
        else if (strcmp(a, "--pid") == 0)
            pid = atol(v);
        else if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else
            usage();
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(cmd, "echo") == 0) {
        if (port <= 0)
            usage();
        cmd_echo(port);
    }
    if (!connect_to)
        usage();
    memset(&lp, 0, sizeof(lp));
    lp.addr = parse_addr(connect_to);
    lp.ctx = client_ctx();
    lp.ep = epoll_create1(EPOLL_CLOEXEC);
    lp.timeout_ns = (timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS) * 1000000LL;
    if (strcmp(cmd, "probe") == 0) {
        if (!name || since_ns <= 0)
            usage();
        lp.timeout_ns = DEFAULT_TIMEOUT_MS * 1000000LL;
        return cmd_probe(&lp, name, (int64_t)since_ns,
                         (timeout_ms > 0 ? timeout_ms : PROBE_TIMEOUT_MS) * 1000000LL, pid);
    }
    if (strcmp(cmd, "load") != 0 || !names || conns < 1 || conns + hot_conns > MAX_CONNS ||
        hot_conns < 1 || seconds <= 0)
        usage();
    memset(groups, 0, sizeof(groups));
    names_load(&groups[0].names, names);
    groups[0].stats.name = hot ? "load" : "main";
    groups[0].conns = conns;
    groups[0].once = once;
    if (hot) {
        names_load(&groups[1].names, hot);
        groups[1].stats.name = "hot";
        groups[1].conns = hot_conns;
    }
    return cmd_load(&lp, groups, hot ? 2 : 1, seconds);
}
