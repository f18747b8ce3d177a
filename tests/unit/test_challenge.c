/* Unit tests for the challenge solvers: src/acme/challenge_http01_responder.c,
 * challenge_http01_webroot.c and challenge_dns01_hook.c. The responder is driven over real
 * loopback sockets, the webroot in a temp directory, the hook with shell scripts the tests write.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "acme/challenge.h"
#include "util/spawn.h"
#include "testcert.h"

#define TOKEN_A "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define TOKEN_B "NBXYtu6abc_-0123456789ABCDEFGHIJKLMNOPQRSTU"
#define TOKEN_C "c3BhcmUtdG9rZW4"
#define THUMBPRINT ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define TXT_VALUE "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define IO_TIMEOUT_S 5
#define RESPONSE_MAX 16384
#define PARALLEL_CLIENTS 8
#define REQUESTS_PER_CLIENT 25
#define IDLE_CLIENTS 300 /* a slowloris flood, below the responder's capacity */
#define FLOOD_PROBES 20
/* A validation request is answered in milliseconds; this bound only tells "served now" from
 * "served once an idle client timed out" (10 s). */
#define PROMPT_S 2.0
/* A descriptor limit that leaves the responder its minimum capacity (RESPONDER_MIN_CONNECTIONS,
 * 32), with room for OVERFLOW_CLIENTS on the test's side. */
#define LOW_FD_LIMIT 200
#define LOW_CAPACITY 32
#define OVERFLOW_CLIENTS 100

static struct acme_challenge_data challenge(const char *type, const char *ident, const char *token,
                                            const char *key_authorization)
{
    return (struct acme_challenge_data){.type = type,
                                        .identifier_type = "dns",
                                        .identifier = ident,
                                        .token = token,
                                        .key_authorization = key_authorization,
                                        .dns_txt_value = TXT_VALUE};
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ---- sockets ---- */

/* A port nobody listens on right now (the kernel's pick for an ephemeral bind). */
static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* A connected socket to ADDR:PORT (IPv4 or IPv6 literal), or -1 with errno. */
static int connect_to(const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    socklen_t len;
    int fd, saved;

    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof(*v4);
    } else {
        assert_int_equal(inet_pton(AF_INET6, addr, &v6->sin6_addr), 1);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof(*v6);
    }
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Send REQUEST as it is, read the response until the server closes. Returns the status code and
 * leaves the whole response in OUT (NUL-terminated). */
static int http_raw(const char *addr, int port, const char *request, char *out, size_t size)
{
    int fd = connect_to(addr, port), status = 0;
    size_t got = 0;
    ssize_t n;

    assert_true(fd >= 0);
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    while (got < size - 1 && (n = recv(fd, out + got, size - 1 - got, 0)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    if (sscanf(out, "HTTP/1.1 %d ", &status) != 1)
        return -1;
    return status;
}

static int http_get(int port, const char *path, char *out, size_t size)
{
    char request[1024];
    snprintf(request, sizeof(request),
             "GET %s HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: test\r\n"
             "Accept: */*\r\n\r\n",
             path);
    return http_raw("127.0.0.1", port, request, out, size);
}

static const char *http_body(const char *response)
{
    const char *end = strstr(response, "\r\n\r\n");
    assert_non_null(end);
    return end + 4;
}

static char *challenge_path(const char *token, char *buf, size_t size)
{
    snprintf(buf, size, "/.well-known/acme-challenge/%s", token);
    return buf;
}

/* ---- http-01 responder ---- */

struct responder_fixture {
    struct challenge_solver solver;
    int port;
    int idle[IDLE_CLIENTS]; /* idle clients' sockets, closed by the teardown */
    int idle_count;
    struct rlimit saved_fd_limit; /* restored by the teardown when fd_limit_lowered */
    int fd_limit_lowered;
};

static int responder_setup(void **state)
{
    struct responder_fixture *f = calloc(1, sizeof(*f));
    struct errbuf err;

    f->port = free_port();
    if (challenge_http01_responder_new("127.0.0.1", f->port, &f->solver, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

/* The responder with its capacity at its minimum (RESPONDER_MIN_CONNECTIONS): it follows the
 * descriptor limit, lowered here to LOW_FD_LIMIT until the teardown. */
static int responder_low_capacity_setup(void **state)
{
    struct responder_fixture *f = calloc(1, sizeof(*f));
    struct rlimit low;
    struct errbuf err;

    if (getrlimit(RLIMIT_NOFILE, &f->saved_fd_limit) < 0)
        return -1;
    low = f->saved_fd_limit;
    low.rlim_cur = LOW_FD_LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &low) < 0)
        return -1;
    f->fd_limit_lowered = 1;
    f->port = free_port();
    if (challenge_http01_responder_new("127.0.0.1", f->port, &f->solver, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        setrlimit(RLIMIT_NOFILE, &f->saved_fd_limit);
        return -1;
    }
    *state = f;
    return 0;
}

static int responder_teardown(void **state)
{
    struct responder_fixture *f = *state;
    for (int i = 0; i < f->idle_count; i++)
        close(f->idle[i]);
    f->solver.ops->destroy(&f->solver);
    if (f->fd_limit_lowered)
        setrlimit(RLIMIT_NOFILE, &f->saved_fd_limit);
    free(f);
    return 0;
}

static void begin_ok(struct challenge_solver *s, const struct acme_challenge_data *c)
{
    struct errbuf err = {""};
    int rc = s->ops->begin(s, c, &err);
    if (rc != 0)
        fail_msg("begin: %s", err.msg);
}

static void finish_ok(struct challenge_solver *s, const struct acme_challenge_data *c, int ok)
{
    struct errbuf err = {""};
    int rc = s->ops->finish(s, c, ok, &err);
    if (rc != 0)
        fail_msg("finish: %s", err.msg);
}

static void test_responder_serves_begun_token(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c =
        challenge("http-01", "www.example.com", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], path[256];

    assert_string_equal(f->solver.ops->type, "http-01");
    begin_ok(&f->solver, &c);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)), 200);
    assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
    assert_non_null(strstr(resp, "\r\nContent-Type: text/plain\r\n"));
    assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
}

/* Pebble connects to the identifier's address with Host: IDENT; curl and others may send an
 * absolute-form target, HTTP/1.0, no Host at all, or bare LF line ends. All are served. */
static void test_responder_any_host_and_form(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX];

    begin_ok(&f->solver, &c);
    assert_int_equal(http_raw("127.0.0.1", f->port,
                              "GET /.well-known/acme-challenge/" TOKEN_A " HTTP/1.0\r\n\r\n", resp,
                              sizeof(resp)),
                     200);
    assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
    assert_int_equal(http_raw("127.0.0.1", f->port,
                              "GET http://a.test:5002/.well-known/acme-challenge/" TOKEN_A
                              " HTTP/1.1\r\nHost: a.test:5002\r\n\r\n",
                              resp, sizeof(resp)),
                     200);
    assert_int_equal(http_raw("127.0.0.1", f->port,
                              "GET /.well-known/acme-challenge/" TOKEN_A
                              " HTTP/1.1\nHost: unrelated.example\n\n",
                              resp, sizeof(resp)),
                     200);
    assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
}

static void test_responder_head(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], expect[64];

    begin_ok(&f->solver, &c);
    assert_int_equal(http_raw("127.0.0.1", f->port,
                              "HEAD /.well-known/acme-challenge/" TOKEN_A " HTTP/1.1\r\n\r\n", resp,
                              sizeof(resp)),
                     200);
    snprintf(expect, sizeof(expect), "\r\nContent-Length: %zu\r\n", strlen(TOKEN_A THUMBPRINT));
    assert_non_null(strstr(resp, expect));
    assert_string_equal(http_body(resp), "");
}

static void test_responder_404_and_errors(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], path[256], *big;
    size_t big_len = 9000;

    begin_ok(&f->solver, &c);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_B, path, sizeof(path)), resp, sizeof(resp)), 404);
    assert_int_equal(http_get(f->port, "/", resp, sizeof(resp)), 404);
    assert_int_equal(http_get(f->port, "/.well-known/acme-challenge/", resp, sizeof(resp)), 404);
    assert_int_equal(
        http_get(f->port, "/.well-known/acme-challenge/" TOKEN_A "/", resp, sizeof(resp)), 404);
    assert_int_equal(
        http_get(f->port, "/.well-known/acme-challenge/" TOKEN_A "?x=1", resp, sizeof(resp)), 404);
    assert_int_equal(http_get(f->port, "/.well-known/acme-challenge/../acme-challenge/" TOKEN_A,
                              resp, sizeof(resp)),
                     404);
    assert_int_equal(http_get(f->port, "/.WELL-KNOWN/acme-challenge/" TOKEN_A, resp, sizeof(resp)),
                     404);
    assert_int_equal(http_raw("127.0.0.1", f->port,
                              "POST /.well-known/acme-challenge/" TOKEN_A " HTTP/1.1\r\n\r\n", resp,
                              sizeof(resp)),
                     405);
    assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
    assert_int_equal(http_raw("127.0.0.1", f->port, "GET /\r\n\r\n", resp, sizeof(resp)), 400);
    assert_int_equal(http_raw("127.0.0.1", f->port, "GET / HTTP/2.0\r\n\r\n", resp, sizeof(resp)),
                     505);
    assert_int_equal(http_raw("127.0.0.1", f->port, "hello there\r\n\r\n", resp, sizeof(resp)),
                     400);
    /* A request head beyond the limit: refused, not buffered. */
    big = malloc(big_len + 1);
    memset(big, 'a', big_len);
    memcpy(big, "GET / HTTP/1.1\r\nX-Pad: ", 23);
    big[big_len] = '\0';
    assert_int_equal(http_raw("127.0.0.1", f->port, big, resp, sizeof(resp)), 431);
    free(big);
    /* Still serving after all that. */
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)), 200);
}

static void test_responder_finished_token_404(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], path[256];

    begin_ok(&f->solver, &c);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)), 200);
    finish_ok(&f->solver, &c, 1);
    assert_int_equal(http_get(f->port, path, resp, sizeof(resp)), 404);
    finish_ok(&f->solver, &c, 0); /* finishing twice is harmless */
    /* Begun again (a retried order): served again. */
    begin_ok(&f->solver, &c);
    assert_int_equal(http_get(f->port, path, resp, sizeof(resp)), 200);
}

static void test_responder_several_tokens(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct acme_challenge_data b = challenge("http-01", "b.test", TOKEN_B, TOKEN_B THUMBPRINT);
    struct acme_challenge_data cc = challenge("http-01", "c.test", TOKEN_C, TOKEN_C THUMBPRINT);
    char resp[RESPONSE_MAX], path[256];

    begin_ok(&f->solver, &a);
    begin_ok(&f->solver, &b);
    begin_ok(&f->solver, &cc);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_B, path, sizeof(path)), resp, sizeof(resp)), 200);
    assert_string_equal(http_body(resp), TOKEN_B THUMBPRINT);
    finish_ok(&f->solver, &b, 0);
    assert_int_equal(http_get(f->port, path, resp, sizeof(resp)), 404);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)), 200);
    assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_C, path, sizeof(path)), resp, sizeof(resp)), 200);
    assert_string_equal(http_body(resp), TOKEN_C THUMBPRINT);
    /* destroy (teardown) frees what is still begun */
}

static void test_responder_bad_token(void **state)
{
    struct responder_fixture *f = *state;
    const char *bad[] = {"../x", "a/b", "", "abc.def", "tok en", "%2e%2e", "a\r\nX-Injected: 1"};
    struct errbuf err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct acme_challenge_data c = challenge("http-01", "a.test", bad[i], "x.y");
        err.msg[0] = '\0';
        assert_int_equal(f->solver.ops->begin(&f->solver, &c, &err), -1);
        assert_non_null(strstr(err.msg, "a.test"));
        assert_non_null(strstr(err.msg, "base64url"));
    }
    {
        struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, NULL);
        assert_int_equal(f->solver.ops->begin(&f->solver, &c, &err), -1);
        assert_non_null(strstr(err.msg, "key authorization"));
    }
}

/* Open N connections to the responder; every other one sends the start of a request head and
 * never its end (slowloris), the rest send nothing. */
static void open_idle_clients(struct responder_fixture *f, int n)
{
    static const char partial[] =
        "GET /.well-known/acme-challenge/ HTTP/1.1\r\nHost: idle\r\nX-a: b";

    assert_true(n <= IDLE_CLIENTS);
    for (int i = 0; i < n; i++) {
        int fd = connect_to("127.0.0.1", f->port);
        if (fd < 0)
            fail_msg("idle client %d of %d: connect: %s", i + 1, n, strerror(errno));
        f->idle[f->idle_count++] = fd;
        if (i % 2)
            assert_int_equal(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL),
                             (ssize_t)(sizeof(partial) - 1));
    }
}

/* Of the N connections, how many the server has closed (end of file or reset), waiting up to
 * WAIT_MS for closes still under way. */
static int count_closed_by_server(int *fds, int n, int wait_ms)
{
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    int closed = 0;
    struct timespec start;

    assert_non_null(p);
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        closed = 0;
        assert_true(poll(p, (nfds_t)n, 50) >= 0);
        for (int i = 0; i < n; i++) {
            char byte;
            ssize_t got;
            if (p[i].fd < 0) {
                closed++;
                continue;
            }
            if (!p[i].revents)
                continue;
            got = recv(p[i].fd, &byte, 1, MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                p[i].fd = -1; /* stays open on our side: counted once */
                closed++;
            }
        }
    } while (closed < n && seconds_since(&start) * 1000 < wait_ms);
    free(p);
    return closed;
}

/* Hundreds of clients that never finish their request (fewer than the responder's capacity): every
 * request for a token is still answered at once, and no idle client is dropped for it. */
static void test_responder_slow_clients(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], path[256];

    begin_ok(&f->solver, &c);
    open_idle_clients(f, IDLE_CLIENTS);
    for (int i = 0; i < FLOOD_PROBES; i++) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(
            http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)),
            200);
        assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
        if (seconds_since(&start) > PROMPT_S)
            fail_msg("request %d took %.1f s with %d idle clients", i + 1, seconds_since(&start),
                     IDLE_CLIENTS);
    }
    assert_int_equal(count_closed_by_server(f->idle, IDLE_CLIENTS, 0), 0);
}

/* More idle clients than the responder has room for (its capacity follows the descriptor limit:
 * lowered here to make it RESPONDER_MIN_CONNECTIONS): the oldest give way, and a real request is
 * served at once instead of waiting for an idle timeout. Refuses to pass unless idle clients were
 * in fact dropped to make room. */
static void test_responder_slots_full(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char resp[RESPONSE_MAX], path[256];
    struct timespec start;
    int closed;

    begin_ok(&f->solver, &c);
    open_idle_clients(f, OVERFLOW_CLIENTS);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(
        http_get(f->port, challenge_path(TOKEN_A, path, sizeof(path)), resp, sizeof(resp)), 200);
    if (seconds_since(&start) > PROMPT_S)
        fail_msg("with every slot taken, the request took %.1f s", seconds_since(&start));
    closed = count_closed_by_server(f->idle, OVERFLOW_CLIENTS, 2000);
    if (closed < OVERFLOW_CLIENTS - LOW_CAPACITY)
        fail_msg("only %d of %d idle clients were dropped; the scenario needs at least %d", closed,
                 OVERFLOW_CLIENTS, OVERFLOW_CLIENTS - LOW_CAPACITY);
}

/* A client that connects and sends nothing is dropped at its deadline (10 s). */
static void test_responder_idle_timeout(void **state)
{
    struct responder_fixture *f = *state;
    struct timeval tv = {.tv_sec = 3 * IO_TIMEOUT_S};
    struct timespec start;
    char byte;
    int fd = connect_to("127.0.0.1", f->port);
    double elapsed;

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_true(recv(fd, &byte, 1, 0) <= 0); /* closed by the server, not timed out here */
    elapsed = seconds_since(&start);
    assert_true(elapsed > 9.0 && elapsed < 12.0);
    close(fd);
}

struct client_arg {
    int port;
    int failures;
};

/* Every other request asks for TOKEN_B, which the test keeps beginning and finishing: 200 with
 * its key authorization or 404 are both right, and they make the server walk the token table
 * while it changes (ThreadSanitizer's test of the table's lock). TOKEN_A must always be 200. */
static void *client_main(void *arg)
{
    struct client_arg *a = arg;
    char resp[RESPONSE_MAX];

    for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
        int steady = i % 2 == 0;
        const char *request =
            steady ? "GET /.well-known/acme-challenge/" TOKEN_A " HTTP/1.1\r\nHost: a.test\r\n\r\n"
                   : "GET /.well-known/acme-challenge/" TOKEN_B " HTTP/1.1\r\nHost: b.test\r\n\r\n";
        int fd = connect_to("127.0.0.1", a->port);
        const char *body;
        size_t got = 0;
        ssize_t n;

        if (fd < 0 || send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
            a->failures++;
            if (fd >= 0)
                close(fd);
            continue;
        }
        while (got < sizeof(resp) - 1 && (n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
            got += (size_t)n;
        resp[got] = '\0';
        close(fd);
        body = strstr(resp, "\r\n\r\n");
        if (!body)
            a->failures++;
        else if (strncmp(resp, "HTTP/1.1 200 ", 13) == 0)
            a->failures += strcmp(body + 4, steady ? TOKEN_A THUMBPRINT : TOKEN_B THUMBPRINT) != 0;
        else
            a->failures += steady || strncmp(resp, "HTTP/1.1 404 ", 13) != 0;
    }
    return NULL;
}

/* Many clients at once while tokens come and go: every request for the steady token succeeds,
 * every request for the changing one gets its key authorization or 404. */
static void test_responder_parallel_clients(void **state)
{
    struct responder_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct acme_challenge_data b = challenge("http-01", "b.test", TOKEN_B, TOKEN_B THUMBPRINT);
    pthread_t threads[PARALLEL_CLIENTS];
    struct client_arg args[PARALLEL_CLIENTS];

    begin_ok(&f->solver, &a);
    for (int i = 0; i < PARALLEL_CLIENTS; i++) {
        args[i] = (struct client_arg){.port = f->port};
        assert_int_equal(pthread_create(&threads[i], NULL, client_main, &args[i]), 0);
    }
    for (int i = 0; i < 200; i++) { /* churn the table while the server reads it */
        begin_ok(&f->solver, &b);
        finish_ok(&f->solver, &b, i % 2);
    }
    for (int i = 0; i < PARALLEL_CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

static void test_responder_port_in_use(void **state)
{
    struct responder_fixture *f = *state;
    struct challenge_solver second;
    struct errbuf err;
    char where[64];

    (void)state;
    snprintf(where, sizeof(where), "127.0.0.1:%d", f->port);
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", f->port, &second, &err), -1);
    assert_non_null(strstr(err.msg, where));
    assert_non_null(strstr(err.msg, "in use"));
    assert_null(second.impl);
    /* "All addresses" collides with the IPv4 listener too. */
    assert_int_equal(challenge_http01_responder_new(NULL, f->port, &second, &err), -1);
    assert_non_null(strstr(err.msg, "in use"));
}

static void test_responder_port_in_use_by_other(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    struct challenge_solver s;
    struct errbuf err;
    char where[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(where, sizeof(where), "127.0.0.1:%d", ntohs(sin.sin_port));
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", ntohs(sin.sin_port), &s, &err),
                     -1);
    assert_non_null(strstr(err.msg, where));
    assert_non_null(strstr(err.msg, "in use"));
    close(fd);
}

static void test_responder_bad_arguments(void **state)
{
    struct challenge_solver s;
    struct errbuf err;

    (void)state;
    assert_int_equal(challenge_http01_responder_new("localhost", 5002, &s, &err), -1);
    assert_non_null(strstr(err.msg, "\"localhost\""));
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", 0, &s, &err), -1);
    assert_non_null(strstr(err.msg, "port 0"));
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", 70000, &s, &err), -1);
    assert_non_null(strstr(err.msg, "port 70000"));
}

/* This process's open descriptors (not counting the one that reads the list). */
static int open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* libmicrohttpd cannot start (no descriptor left for its epoll instance): the error names the
 * address and gives libmicrohttpd's reason; nothing is left open (or closed twice: ASan). */
static void test_responder_cannot_start(void **state)
{
    struct rlimit saved, tight;
    struct challenge_solver s;
    struct errbuf err = {""};
    int port = free_port(), before, lowest_free, rc;
    char where[64];

    (void)state;
    snprintf(where, sizeof(where), "127.0.0.1:%d", port);
    before = open_descriptors();
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    tight = saved;
    lowest_free = dup(0); /* descriptors are numbered from the lowest free one */
    assert_true(lowest_free >= 0);
    close(lowest_free);
    /* room for the listening socket and the duplicate MHD is given, none for MHD's epoll */
    tight.rlim_cur = (rlim_t)lowest_free + 2;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    rc = challenge_http01_responder_new("127.0.0.1", port, &s, &err);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    if (rc == 0) {
        s.ops->destroy(&s);
        fail_msg("the responder started with one descriptor to spare");
    }
    if (!strstr(err.msg, where) || !strstr(err.msg, "libmicrohttpd could not start: "))
        fail_msg("\"%s\" does not name %s and libmicrohttpd's reason", err.msg, where);
    assert_null(s.impl);
    assert_int_equal(open_descriptors(), before);
}

static void test_responder_destroy_stops_listening(void **state)
{
    struct challenge_solver s;
    struct errbuf err;
    struct timespec start;
    int port = free_port(), idle;

    (void)state;
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", port, &s, &err), 0);
    idle = connect_to("127.0.0.1", port); /* an open connection does not hold destroy up */
    assert_true(idle >= 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    s.ops->destroy(&s);
    assert_true(seconds_since(&start) < 1.0);
    assert_int_equal(connect_to("127.0.0.1", port), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(idle);
    /* The port is free again at once (SO_REUSEADDR). */
    assert_int_equal(challenge_http01_responder_new("127.0.0.1", port, &s, &err), 0);
    s.ops->destroy(&s);
}

/* Whether this host can bind ::1, found out without the responder (so a responder that fails on
 * IPv6 cannot make its own test look like "no IPv6 here"). */
static int host_has_ipv6_loopback(void)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

    if (fd < 0 && errno == EAFNOSUPPORT)
        return 0;
    assert_true(fd >= 0);
    ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    if (!ok && errno != EADDRNOTAVAIL)
        fail_msg("probing for IPv6: bind [::1]:0: %s", strerror(errno));
    close(fd);
    return ok;
}

static const char *const token_a_request =
    "GET /.well-known/acme-challenge/" TOKEN_A " HTTP/1.1\r\n\r\n";

/* No address: IPv4 and, where the host has IPv6, IPv6 too (one dual-stack socket). */
static void test_responder_all_addresses(void **state)
{
    struct challenge_solver s;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct errbuf err;
    char resp[RESPONSE_MAX];
    int port = free_port();

    (void)state;
    if (challenge_http01_responder_new(NULL, port, &s, &err) < 0)
        fail_msg("%s", err.msg);
    begin_ok(&s, &c);
    assert_int_equal(http_raw("127.0.0.1", port, token_a_request, resp, sizeof(resp)), 200);
    if (host_has_ipv6_loopback())
        assert_int_equal(http_raw("::1", port, token_a_request, resp, sizeof(resp)), 200);
    s.ops->destroy(&s);
}

/* An IPv6 literal, bare or in brackets: served over IPv6 only (as nginx does for an explicit
 * address). On a host without IPv6 the responder must say it cannot listen there: never a skip,
 * so a broken IPv6 parser cannot pass as "no IPv6 here". */
static void test_responder_ipv6_literal(void **state)
{
    const char *const forms[] = {"[::1]", "::1"};
    int has_ipv6 = host_has_ipv6_loopback();

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct challenge_solver s;
        struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
        struct errbuf err = {""};
        char resp[RESPONSE_MAX], where[64];
        int port = free_port(), v4;

        snprintf(where, sizeof(where), "[::1]:%d", port);
        if (!has_ipv6) {
            assert_int_equal(challenge_http01_responder_new(forms[i], port, &s, &err), -1);
            if (!strstr(err.msg, where) || !strstr(err.msg, "cannot listen"))
                fail_msg("%s on a host without IPv6: \"%s\" does not say it cannot listen on %s",
                         forms[i], err.msg, where);
            continue;
        }
        if (challenge_http01_responder_new(forms[i], port, &s, &err) < 0)
            fail_msg("listen on %s (this host has IPv6): %s", forms[i], err.msg);
        begin_ok(&s, &c);
        assert_int_equal(http_raw("::1", port, token_a_request, resp, sizeof(resp)), 200);
        assert_string_equal(http_body(resp), TOKEN_A THUMBPRINT);
        v4 = connect_to("127.0.0.1", port);
        if (v4 >= 0)
            close(v4);
        assert_int_equal(v4, -1);
        s.ops->destroy(&s);
    }
}

/* ---- http-01 webroot ---- */

struct webroot_fixture {
    char *dir;
    struct challenge_solver solver;
    mode_t old_umask;
};

static int webroot_setup(void **state)
{
    struct webroot_fixture *f = calloc(1, sizeof(*f));
    struct errbuf err;

    f->dir = testcert_tmpdir();
    /* A strict umask: the modes the solver sets must not depend on it. */
    f->old_umask = umask(077);
    if (challenge_http01_webroot_new(f->dir, &f->solver, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int webroot_teardown(void **state)
{
    struct webroot_fixture *f = *state;
    if (f->solver.ops)
        f->solver.ops->destroy(&f->solver);
    umask(f->old_umask);
    testcert_rmdir(f->dir);
    free(f);
    return 0;
}

static char *path_in(const struct webroot_fixture *f, const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    return path;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* The whole file (read to its end: /proc files report size 0), or NULL when it cannot be opened. */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0, cap = 0, n;

    if (!fp)
        return NULL;
    do {
        if (cap - len < 1024) {
            cap = cap ? cap * 2 : 4096;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        n = fread(text + len, 1, cap - len - 1, fp);
        len += n;
    } while (n > 0);
    text[len] = '\0';
    fclose(fp);
    return text;
}

static int count_entries(const char *dir)
{
    char cmd[4200], buf[32];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    p = popen(cmd, "r");
    if (p && fgets(buf, sizeof(buf), p))
        n = atoi(buf);
    if (p)
        pclose(p);
    return n;
}

static void test_webroot_writes_and_removes(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data c = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    char *text;

    assert_string_equal(f->solver.ops->type, "http-01");
    begin_ok(&f->solver, &c);
    text = read_text(path_in(f, ".well-known/acme-challenge/" TOKEN_A));
    assert_non_null(text);
    assert_string_equal(text, TOKEN_A THUMBPRINT);
    free(text);
    assert_int_equal(mode_of(path_in(f, ".well-known/acme-challenge/" TOKEN_A)), 0644);
    assert_int_equal(mode_of(path_in(f, ".well-known/acme-challenge")), 0755);
    assert_int_equal(mode_of(path_in(f, ".well-known")), 0755);
    assert_int_equal(count_entries(path_in(f, ".well-known/acme-challenge")), 1); /* no temp */
    finish_ok(&f->solver, &c, 1);
    assert_false(exists(path_in(f, ".well-known")));
    assert_int_equal(count_entries(f->dir), 0);
}

static void test_webroot_several_tokens(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct acme_challenge_data b = challenge("http-01", "b.test", TOKEN_B, TOKEN_B THUMBPRINT);

    begin_ok(&f->solver, &a);
    begin_ok(&f->solver, &b);
    begin_ok(&f->solver, &b); /* again: rewritten, still one file */
    assert_int_equal(count_entries(path_in(f, ".well-known/acme-challenge")), 2);
    finish_ok(&f->solver, &a, 0);
    assert_false(exists(path_in(f, ".well-known/acme-challenge/" TOKEN_A)));
    assert_true(exists(path_in(f, ".well-known/acme-challenge/" TOKEN_B)));
    finish_ok(&f->solver, &b, 1);
    assert_false(exists(path_in(f, ".well-known")));
}

/* A site's own .well-known (and acme-challenge with another client's file) are left alone. */
static void test_webroot_keeps_existing_dirs(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    FILE *fp;

    assert_int_equal(mkdir(path_in(f, ".well-known"), 0700), 0);
    fp = fopen(path_in(f, ".well-known/security.txt"), "w");
    assert_non_null(fp);
    fclose(fp);
    begin_ok(&f->solver, &a);
    assert_int_equal(mode_of(path_in(f, ".well-known")), 0700); /* not ours: untouched */
    finish_ok(&f->solver, &a, 1);
    assert_false(exists(path_in(f, ".well-known/acme-challenge")));
    assert_true(exists(path_in(f, ".well-known/security.txt")));
    /* An acme-challenge directory that existed, even empty, stays too. */
    assert_int_equal(mkdir(path_in(f, ".well-known/acme-challenge"), 0755), 0);
    begin_ok(&f->solver, &a);
    finish_ok(&f->solver, &a, 0);
    assert_true(exists(path_in(f, ".well-known/acme-challenge")));
    assert_int_equal(count_entries(path_in(f, ".well-known/acme-challenge")), 0);
}

/* A token finished that this solver never wrote: the file of that name is not ours to delete. */
static void test_webroot_finish_unknown(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    FILE *fp;

    assert_int_equal(mkdir(path_in(f, ".well-known"), 0755), 0);
    assert_int_equal(mkdir(path_in(f, ".well-known/acme-challenge"), 0755), 0);
    fp = fopen(path_in(f, ".well-known/acme-challenge/" TOKEN_A), "w");
    assert_non_null(fp);
    fclose(fp);
    finish_ok(&f->solver, &a, 1);
    assert_true(exists(path_in(f, ".well-known/acme-challenge/" TOKEN_A)));
}

static void test_webroot_rejects_bad_tokens(void **state)
{
    struct webroot_fixture *f = *state;
    const char *bad[] = {"../x", "../../etc/passwd", "a/b", "..", ".", "", "x y", "a\\b"};
    struct errbuf err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct acme_challenge_data c = challenge("http-01", "a.test", bad[i], "k.a");
        assert_int_equal(f->solver.ops->begin(&f->solver, &c, &err), -1);
        assert_non_null(strstr(err.msg, "base64url"));
        assert_non_null(strstr(err.msg, "a.test"));
    }
    assert_int_equal(count_entries(f->dir), 0); /* not even a directory */
}

static void test_webroot_destroy_removes_all(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct acme_challenge_data b = challenge("http-01", "b.test", TOKEN_B, TOKEN_B THUMBPRINT);

    begin_ok(&f->solver, &a);
    begin_ok(&f->solver, &b);
    f->solver.ops->destroy(&f->solver);
    f->solver.ops = NULL;
    assert_int_equal(count_entries(f->dir), 0);
}

static void test_webroot_missing(void **state)
{
    struct challenge_solver s;
    struct errbuf err;
    char *dir = testcert_tmpdir(), missing[4200], file[4200];
    FILE *fp;

    (void)state;
    snprintf(missing, sizeof(missing), "%s/no-such-dir", dir);
    assert_int_equal(challenge_http01_webroot_new(missing, &s, &err), -1);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "No such file"));
    snprintf(file, sizeof(file), "%s/file", dir);
    fp = fopen(file, "w");
    fclose(fp);
    assert_int_equal(challenge_http01_webroot_new(file, &s, &err), -1);
    assert_non_null(strstr(err.msg, "not a directory"));
    testcert_rmdir(dir);
}

/* .well-known exists as a file: a clear error, and nothing left behind. */
static void test_webroot_blocked_dir(void **state)
{
    struct webroot_fixture *f = *state;
    struct acme_challenge_data a = challenge("http-01", "a.test", TOKEN_A, TOKEN_A THUMBPRINT);
    struct errbuf err;
    FILE *fp = fopen(path_in(f, ".well-known"), "w");

    fclose(fp);
    assert_int_equal(f->solver.ops->begin(&f->solver, &a, &err), -1);
    assert_non_null(strstr(err.msg, ".well-known"));
    assert_non_null(strstr(err.msg, "not a directory"));
}

/* ---- dns-01 hook ---- */

struct hook_fixture {
    char *dir;
    char program[4200];
    struct challenge_solver solver; /* ops is NULL until hook_start */
    struct acme_challenge_data c;   /* dns-01 for example.com unless a test changes it */
    struct errbuf err;
};

static int hook_setup(void **state)
{
    struct hook_fixture *f = calloc(1, sizeof(*f));
    f->dir = testcert_tmpdir();
    f->c = challenge("dns-01", "example.com", TOKEN_A, TOKEN_A THUMBPRINT);
    *state = f;
    return 0;
}

static int hook_teardown(void **state)
{
    struct hook_fixture *f = *state;
    if (f->solver.ops)
        f->solver.ops->destroy(&f->solver);
    testcert_rmdir(f->dir);
    free(f);
    return 0;
}

/* Write the executable script "hook" in the fixture's directory; "@DIR@" in BODY becomes it. */
static const char *write_script(struct hook_fixture *f, const char *body)
{
    char *text = malloc(strlen(body) * 2 + strlen(f->dir) * 8 + 64), *out = text;
    const char *p = body, *mark;
    FILE *fp;

    out += sprintf(out, "#!/bin/sh\n");
    while ((mark = strstr(p, "@DIR@")) != NULL) {
        out += sprintf(out, "%.*s%s", (int)(mark - p), p, f->dir);
        p = mark + 5;
    }
    strcpy(out, p);
    snprintf(f->program, sizeof(f->program), "%s/hook", f->dir);
    fp = fopen(f->program, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(text);
    assert_int_equal(chmod(f->program, 0755), 0);
    return f->program;
}

/* The solver for a hook running BODY, with TIMEOUT_S. */
static void hook_start(struct hook_fixture *f, const char *body, int timeout_s)
{
    if (challenge_dns01_hook_new(write_script(f, body), timeout_s, &f->solver, &f->err) < 0)
        fail_msg("%s", f->err.msg);
    assert_string_equal(f->solver.ops->type, "dns-01");
}

static int hook_begin(struct hook_fixture *f)
{
    return f->solver.ops->begin(&f->solver, &f->c, &f->err);
}

static char *read_in(struct hook_fixture *f, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    return read_text(path);
}

static void assert_file_text(struct hook_fixture *f, const char *name, const char *expected)
{
    char *text = read_in(f, name);
    if (!text)
        fail_msg("the hook did not write %s", name);
    assert_string_equal(text, expected);
    free(text);
}

/* Records its arguments and environment in args.METHOD and env.METHOD; fails if stdin has data. */
static const char RECORDING_HOOK[] =
    "if read -r line; then echo 'stdin is not empty' >&2; exit 9; fi\n"
    "printf '%s\\n' \"$@\" > @DIR@/args.$1\n"
    "env > @DIR@/env.$1\n"
    "echo 'this goes nowhere'\n"
    "exit 0\n";

static void test_hook_argv_and_env(void **state)
{
    struct hook_fixture *f = *state;
    const char *expected[] = {
        "UACME_METHOD=begin\n",      "UACME_TYPE=dns-01\n",        "UACME_IDENT=example.com\n",
        "UACME_TOKEN=" TOKEN_A "\n", "UACME_AUTH=" TXT_VALUE "\n", "CCS_METHOD=begin\n",
        "CCS_TYPE=dns-01\n",         "CCS_IDENT=example.com\n",    "CCS_TOKEN=" TOKEN_A "\n",
        "CCS_AUTH=" TXT_VALUE "\n",  "CCS_WILDCARD=1\n",           "PATH="};
    char *env;

    f->c.wildcard = 1; /* the authorization for *.example.com: IDENT is the base name */
    /* Inherited, as uacme's hooks expect (its example hook reads CHALLENGE_PATH); a stale
     * UACME_ value from the environment is replaced by the challenge's. */
    setenv("CHALLENGE_PATH", "/srv/acme-challenge", 1);
    setenv("UACME_IDENT", "stale.example", 1);
    hook_start(f, RECORDING_HOOK, 10);
    assert_int_equal(hook_begin(f), 0);
    unsetenv("CHALLENGE_PATH");
    unsetenv("UACME_IDENT");
    assert_file_text(f, "args.begin", "begin\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
    env = read_in(f, "env.begin");
    assert_non_null(env);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        if (!strstr(env, expected[i]))
            fail_msg("%s missing from the hook's environment:\n%s", expected[i], env);
    assert_non_null(strstr(env, "CHALLENGE_PATH=/srv/acme-challenge\n"));
    assert_null(strstr(env, "stale.example"));
    assert_null(strstr(env, THUMBPRINT)); /* dns-01 gets the TXT value, not the key authorization */
    free(env);
}

static void test_hook_done_and_failed(void **state)
{
    struct hook_fixture *f = *state;
    char *env;

    hook_start(f, RECORDING_HOOK, 10);
    finish_ok(&f->solver, &f->c, 1);
    assert_file_text(f, "args.done", "done\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
    env = read_in(f, "env.done");
    assert_non_null(strstr(env, "UACME_METHOD=done\n"));
    assert_non_null(strstr(env, "CCS_WILDCARD=0\n"));
    free(env);
    assert_null(read_in(f, "args.failed"));
    finish_ok(&f->solver, &f->c, 0);
    assert_file_text(f, "args.failed", "failed\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
}

/* Once ccs is stopping (spawn_stop_all, as SIGTERM does), no begin starts, but done and failed
 * still run — they withdraw what a begin published — and are not stopped: a slow one finishes. */
static void test_hook_cleanup_when_stopping(void **state)
{
    struct hook_fixture *f = *state;

    hook_start(f, "sleep 0.3\nprintf '%s\\n' \"$@\" > @DIR@/args.$1\n", 10);
    spawn_stop_all();
    assert_int_equal(hook_begin(f), -1);
    assert_null(read_in(f, "args.begin"));
    finish_ok(&f->solver, &f->c, 0);
    assert_file_text(f, "args.failed",
                     "failed\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
    finish_ok(&f->solver, &f->c, 1);
    assert_file_text(f, "args.done", "done\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
    spawn_stop_reset();
}

/* A clean-up that hangs once ccs is stopping is cut at SPAWN_STOP_CLEANUP_S, not its own timeout. */
static void test_hook_cleanup_bounded_when_stopping(void **state)
{
    struct hook_fixture *f = *state;
    struct timespec start;
    double elapsed;

    hook_start(f, "sleep 300\n", 300);
    spawn_stop_all();
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(f->solver.ops->finish(&f->solver, &f->c, 0, &f->err), -1);
    elapsed = seconds_since(&start);
    spawn_stop_reset();
    if (!strstr(f->err.msg, "failed for example.com was stopped (ccs is stopping)"))
        fail_msg("a clean-up cut at the stop's cap: \"%s\"", f->err.msg);
    assert_true(elapsed >= SPAWN_STOP_CLEANUP_S - 0.5 &&
                elapsed < SPAWN_STOP_CLEANUP_S + SPAWN_KILL_GRACE_MS / 1000.0 + 2);
}

/* An identifier that still carries "*." reaches the hook as its base name, marked wildcard. */
static void test_hook_strips_wildcard_prefix(void **state)
{
    struct hook_fixture *f = *state;
    char *env;

    f->c.identifier = "*.example.com";
    hook_start(f, RECORDING_HOOK, 10);
    assert_int_equal(hook_begin(f), 0);
    assert_file_text(f, "args.begin", "begin\ndns-01\nexample.com\n" TOKEN_A "\n" TXT_VALUE "\n");
    env = read_in(f, "env.begin");
    assert_non_null(strstr(env, "UACME_IDENT=example.com\n"));
    assert_non_null(strstr(env, "CCS_WILDCARD=1\n"));
    free(env);
}

/* The type and AUTH come from the challenge: the same code serves an http-01 hook. */
static void test_hook_type_from_challenge(void **state)
{
    struct hook_fixture *f = *state;

    f->c.type = "http-01";
    hook_start(f, RECORDING_HOOK, 10);
    assert_int_equal(hook_begin(f), 0);
    assert_file_text(f, "args.begin",
                     "begin\nhttp-01\nexample.com\n" TOKEN_A "\n" TOKEN_A THUMBPRINT "\n");
}

static void test_hook_failure_quotes_stderr(void **state)
{
    struct hook_fixture *f = *state;
    char expect[4400];

    hook_start(f,
               "echo 'nsupdate: starting' >&2\n"
               "echo 'zone example.com not found' >&2\n"
               "exit 3\n",
               10);
    assert_int_equal(hook_begin(f), -1);
    snprintf(expect, sizeof(expect),
             "dns-01 hook %s begin for example.com failed (exit 3): nsupdate: starting zone "
             "example.com not found",
             f->program);
    assert_string_equal(f->err.msg, expect);
    /* finish reports its own failure, naming its method */
    assert_int_equal(f->solver.ops->finish(&f->solver, &f->c, 0, &f->err), -1);
    assert_non_null(strstr(f->err.msg, " failed for example.com failed (exit 3)"));
}

static void test_hook_failure_without_stderr(void **state)
{
    struct hook_fixture *f = *state;
    char expect[4400];

    f->c.wildcard = 1;
    hook_start(f, "exit 1\n", 10);
    assert_int_equal(hook_begin(f), -1);
    snprintf(expect, sizeof(expect), "dns-01 hook %s begin for *.example.com failed (exit 1)",
             f->program);
    assert_string_equal(f->err.msg, expect);
}

/* Much more stderr than is kept: the message ends with the last line and fits its buffer. */
static void test_hook_long_stderr(void **state)
{
    struct hook_fixture *f = *state;
    const char *end = "the real reason";
    size_t len;

    hook_start(f,
               "i=0\n"
               "while [ $i -lt 2000 ]; do\n"
               "  echo \"noise line $i from the provider API\" >&2\n"
               "  i=$((i+1))\n"
               "done\n"
               "echo 'the real reason' >&2\n"
               "exit 2\n",
               10);
    assert_int_equal(hook_begin(f), -1);
    len = strlen(f->err.msg);
    assert_true(len < sizeof(f->err.msg));
    assert_string_equal(f->err.msg + len - strlen(end), end);
    assert_non_null(strstr(f->err.msg, "failed (exit 2): ..."));
}

static int process_is_gone(pid_t pid)
{
    char path[64], *stat_text, *paren;
    int gone;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    stat_text = read_text(path);
    if (!stat_text)
        return 1;
    paren = strrchr(stat_text, ')');                    /* "pid (comm) S ..." */
    gone = paren && paren[1] == ' ' && paren[2] == 'Z'; /* a zombie our init has not reaped */
    free(stat_text);
    return gone;
}

static void test_hook_timeout(void **state)
{
    struct hook_fixture *f = *state;
    struct timespec start;
    char *pid_text;
    pid_t sleeper;
    double elapsed;

    hook_start(f,
               "echo 'waiting for DNS' >&2\n"
               "sleep 30 &\n"
               "echo $! > @DIR@/sleeper\n"
               "wait\n",
               1);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(hook_begin(f), -1);
    elapsed = seconds_since(&start);
    assert_true(elapsed >= 0.9 && elapsed < 2.5);
    assert_non_null(strstr(f->err.msg, "begin for example.com timed out after 1 s and was killed"));
    assert_non_null(strstr(f->err.msg, "waiting for DNS"));
    /* What the hook started went with it (the whole process group is signalled). */
    pid_text = read_in(f, "sleeper");
    assert_non_null(pid_text);
    sleeper = (pid_t)atoi(pid_text);
    free(pid_text);
    for (int i = 0; i < 100 && !process_is_gone(sleeper); i++)
        usleep(10000); /* a signalled process may take a moment to be scheduled and exit */
    assert_true(process_is_gone(sleeper));
}

/* A hook that ignores SIGTERM gets SIGKILL after the grace period. */
static void test_hook_timeout_ignoring_term(void **state)
{
    struct hook_fixture *f = *state;
    struct timespec start;
    double elapsed;

    hook_start(f, "trap '' TERM\nsleep 30\n", 1);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(hook_begin(f), -1);
    elapsed = seconds_since(&start);
    assert_true(elapsed >= 2.5 && elapsed < 5.0);
    assert_non_null(strstr(f->err.msg, "timed out after 1 s"));
}

/* A hook that exits while a background child still holds stderr is done when it exits. */
static void test_hook_background_child(void **state)
{
    struct hook_fixture *f = *state;
    struct timespec start;
    char *pid_text;

    hook_start(f,
               "sleep 3 &\n"
               "echo $! > @DIR@/sleeper\n"
               "exit 0\n",
               10);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(hook_begin(f), 0);
    assert_true(seconds_since(&start) < 1.0);
    pid_text = read_in(f, "sleeper");
    kill((pid_t)atoi(pid_text), SIGKILL); /* not ours to wait for; tidy up the test's own mess */
    free(pid_text);
}

static void test_hook_program_checks(void **state)
{
    struct hook_fixture *f = *state;
    struct challenge_solver s;
    struct errbuf err;
    char missing[4400];

    snprintf(missing, sizeof(missing), "%s/no-such-hook", f->dir);
    assert_int_equal(challenge_dns01_hook_new(missing, 10, &s, &err), -1);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_null(s.impl);

    write_script(f, "exit 0\n");
    assert_int_equal(chmod(f->program, 0644), 0);
    assert_int_equal(challenge_dns01_hook_new(f->program, 10, &s, &err), -1);
    assert_non_null(strstr(err.msg, f->program));
    assert_non_null(strstr(err.msg, "not executable"));

    assert_int_equal(challenge_dns01_hook_new(f->dir, 10, &s, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));

    assert_int_equal(chmod(f->program, 0755), 0);
    assert_int_equal(challenge_dns01_hook_new(f->program, 0, &s, &err), -1);
    assert_non_null(strstr(err.msg, "timeout 0"));
}

static void test_hook_bad_token(void **state)
{
    struct hook_fixture *f = *state;

    f->c.token = "../x";
    hook_start(f, RECORDING_HOOK, 10);
    assert_int_equal(hook_begin(f), -1);
    assert_non_null(strstr(f->err.msg, "base64url"));
    assert_null(read_in(f, "args.begin")); /* never run */
}

/* The one token check every solver applies (challenge.c): a literal table, the bounds included. */
static void test_token_is_valid(void **state)
{
    static const struct {
        const char *token;
        int valid;
    } cases[] = {
        {TOKEN_A, 1},        {TOKEN_B, 1},      {"a", 1},           {"-_", 1},
        {NULL, 0},           {"", 0},           {"..", 0},          {"a/b", 0},
        {"a.b", 0},          {"a b", 0},        {"a\nb", 0},        {"a+b", 0},
        {"abc=", 0},         {"%2e%2e", 0},     {"\xc3\xa9t\xc3\xa9", 0},
    };
    char longest[CHALLENGE_TOKEN_MAX_LEN + 2];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (challenge_token_is_valid(cases[i].token) != cases[i].valid)
            fail_msg("token \"%s\": expected %s", cases[i].token ? cases[i].token : "(null)",
                     cases[i].valid ? "valid" : "invalid");
    }
    memset(longest, 'A', CHALLENGE_TOKEN_MAX_LEN);
    longest[CHALLENGE_TOKEN_MAX_LEN] = '\0';
    assert_true(challenge_token_is_valid(longest));
    longest[CHALLENGE_TOKEN_MAX_LEN] = 'A';
    longest[CHALLENGE_TOKEN_MAX_LEN + 1] = '\0';
    assert_false(challenge_token_is_valid(longest));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_is_valid),
        cmocka_unit_test_setup_teardown(test_responder_serves_begun_token, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_any_host_and_form, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_head, responder_setup, responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_404_and_errors, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_finished_token_404, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_several_tokens, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_bad_token, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_slow_clients, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_parallel_clients, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_slots_full, responder_low_capacity_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_idle_timeout, responder_setup,
                                        responder_teardown),
        cmocka_unit_test_setup_teardown(test_responder_port_in_use, responder_setup,
                                        responder_teardown),
        cmocka_unit_test(test_responder_port_in_use_by_other),
        cmocka_unit_test(test_responder_bad_arguments),
        cmocka_unit_test(test_responder_destroy_stops_listening),
        cmocka_unit_test(test_responder_cannot_start),
        cmocka_unit_test(test_responder_all_addresses),
        cmocka_unit_test(test_responder_ipv6_literal),
        cmocka_unit_test_setup_teardown(test_webroot_writes_and_removes, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_several_tokens, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_keeps_existing_dirs, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_finish_unknown, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_rejects_bad_tokens, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_destroy_removes_all, webroot_setup,
                                        webroot_teardown),
        cmocka_unit_test_setup_teardown(test_webroot_blocked_dir, webroot_setup, webroot_teardown),
        cmocka_unit_test(test_webroot_missing),
        cmocka_unit_test_setup_teardown(test_hook_argv_and_env, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_done_and_failed, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_cleanup_when_stopping, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_cleanup_bounded_when_stopping, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_type_from_challenge, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_strips_wildcard_prefix, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_failure_quotes_stderr, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_failure_without_stderr, hook_setup,
                                        hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_long_stderr, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_timeout, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_timeout_ignoring_term, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_background_child, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_program_checks, hook_setup, hook_teardown),
        cmocka_unit_test_setup_teardown(test_hook_bad_token, hook_setup, hook_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
