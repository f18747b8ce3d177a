/* smb_probe.c — one unauthenticated SMB2 NEGOTIATE to learn what a server can do (smb_probe.h).
 *
 * The request offers SMB 2.0.2 to 3.1.1 with the two negotiate contexts 3.1.1 requires or uses:
 * pre-authentication integrity (SHA-512, a random salt) and encryption (the four AES ciphers).
 * Nothing is authenticated and nothing is trusted beyond "may we ask this server to encrypt":
 * libsmbclient negotiates again on its own connection, under 3.1.1's pre-authentication
 * integrity, before any credential is sent. */
#include "store/smb_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

/* MS-SMB2 2.2.1: every message starts with this header. */
#define SMB2_HEADER_LEN 64
#define SMB2_NEGOTIATE 0x0000
#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
/* 2.2.3 and 2.2.4: fixed parts of NEGOTIATE request and response bodies. */
#define NEG_REQ_STRUCTURE_SIZE 36
#define NEG_RESP_STRUCTURE_SIZE 65
#define NEG_RESP_FIXED_LEN 64
#define SMB2_NEGOTIATE_SIGNING_ENABLED 0x0001
#define SMB2_NEGOTIATE_SIGNING_REQUIRED 0x0002
#define SMB2_GLOBAL_CAP_DFS 0x00000001u
#define SMB2_GLOBAL_CAP_ENCRYPTION 0x00000040u
/* 2.2.3.1: negotiate contexts. */
#define SMB2_PREAUTH_INTEGRITY_CAPABILITIES 0x0001
#define SMB2_ENCRYPTION_CAPABILITIES 0x0002
#define SMB2_PREAUTH_SHA512 0x0001
#define PREAUTH_SALT_LEN 32
#define CONTEXT_HEADER_LEN 8
/* The ciphers offered: AES-128-CCM, AES-128-GCM, AES-256-CCM, AES-256-GCM (2.2.3.1.2). */
static const uint16_t CIPHERS[] = {0x0001, 0x0002, 0x0003, 0x0004};
static const uint16_t DIALECTS[] = {SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
                                    SMB2_DIALECT_302, SMB2_DIALECT_311};
/* Direct TCP transport (MS-SMB2 2.1): a 4-octet header, a zero then a 24-bit length. */
#define TRANSPORT_HEADER_LEN 4
/* A NEGOTIATE response is a few hundred octets (the security blob is the biggest part). */
#define RESPONSE_MAX 65536
#define NS_PER_MS 1000000LL
#define MS_PER_S 1000

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, (uint16_t)(v & 0xffff));
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The request, transport header included, into BUF (large enough: 256 octets). Its length. */
static size_t build_request(unsigned char *buf)
{
    const size_t dialect_count = sizeof(DIALECTS) / sizeof(DIALECTS[0]);
    const size_t cipher_count = sizeof(CIPHERS) / sizeof(CIPHERS[0]);
    unsigned char *msg = buf + TRANSPORT_HEADER_LEN, *body = msg + SMB2_HEADER_LEN, *ctx;
    size_t ctx_off, len;

    memset(buf, 0, 256);
    msg[0] = 0xfe;
    memcpy(msg + 1, "SMB", 3);
    put16(msg + 4, SMB2_HEADER_LEN);
    put16(msg + 12, SMB2_NEGOTIATE);
    put16(msg + 14, 1); /* credits requested */
    put16(body, NEG_REQ_STRUCTURE_SIZE);
    put16(body + 2, (uint16_t)dialect_count);
    put16(body + 4, SMB2_NEGOTIATE_SIGNING_ENABLED);
    put32(body + 8, SMB2_GLOBAL_CAP_DFS | SMB2_GLOBAL_CAP_ENCRYPTION);
    (void)RAND_bytes(body + 12, 16); /* ClientGuid: any value; an all-zero one is also valid */
    for (size_t i = 0; i < dialect_count; i++)
        put16(body + NEG_REQ_STRUCTURE_SIZE + 2 * i, DIALECTS[i]);
    ctx_off = align8(SMB2_HEADER_LEN + NEG_REQ_STRUCTURE_SIZE + 2 * dialect_count);
    put32(body + 28, (uint32_t)ctx_off);
    put16(body + 32, 2);
    /* pre-authentication integrity: one hash, a random salt */
    ctx = msg + ctx_off;
    put16(ctx, SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
    put16(ctx + 2, 6 + PREAUTH_SALT_LEN);
    put16(ctx + 8, 1);
    put16(ctx + 10, PREAUTH_SALT_LEN);
    put16(ctx + 12, SMB2_PREAUTH_SHA512);
    (void)RAND_bytes(ctx + 14, PREAUTH_SALT_LEN);
    /* encryption: the ciphers we would accept */
    ctx = msg + align8(ctx_off + CONTEXT_HEADER_LEN + 6 + PREAUTH_SALT_LEN);
    put16(ctx, SMB2_ENCRYPTION_CAPABILITIES);
    put16(ctx + 2, (uint16_t)(2 + 2 * cipher_count));
    put16(ctx + 8, (uint16_t)cipher_count);
    for (size_t i = 0; i < cipher_count; i++)
        put16(ctx + 10 + 2 * i, CIPHERS[i]);
    len = (size_t)(ctx + 10 + 2 * cipher_count - msg);
    buf[1] = (unsigned char)(len >> 16);
    buf[2] = (unsigned char)(len >> 8);
    buf[3] = (unsigned char)len;
    return TRANSPORT_HEADER_LEN + len;
}

/* Does the 3.1.1 context list [OFF, LEN) offer a cipher? */
static int offers_cipher(const unsigned char *msg, size_t len, size_t off, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        size_t dlen;
        if (off > len || len - off < CONTEXT_HEADER_LEN)
            return 0;
        dlen = get16(msg + off + 2);
        if (len - off - CONTEXT_HEADER_LEN < dlen)
            return 0;
        if (get16(msg + off) == SMB2_ENCRYPTION_CAPABILITIES && dlen >= 4) {
            unsigned n = get16(msg + off + CONTEXT_HEADER_LEN);
            return n >= 1 && get16(msg + off + CONTEXT_HEADER_LEN + 2) != 0;
        }
        off = align8(off + CONTEXT_HEADER_LEN + dlen);
    }
    return 0;
}

int smb_probe_parse_response(const unsigned char *msg, size_t len, struct smb_server_facts *out,
                             struct errbuf *err)
{
    const unsigned char *body = msg + SMB2_HEADER_LEN;
    uint32_t status, caps;

    memset(out, 0, sizeof(*out));
    if (len >= 4 && msg[0] == 0xff && memcmp(msg + 1, "SMB", 3) == 0)
        return errbuf_set(err, "the server speaks SMB1 only (ccs requires SMB2 or later)");
    if (len < SMB2_HEADER_LEN + NEG_RESP_FIXED_LEN || msg[0] != 0xfe || memcmp(msg + 1, "SMB", 3))
        return errbuf_set(err, "the server's answer is not an SMB2 message");
    status = get32(msg + 8);
    if (get16(msg + 12) != SMB2_NEGOTIATE || !(get32(msg + 16) & SMB2_FLAGS_SERVER_TO_REDIR))
        return errbuf_set(err, "the server's answer is not a NEGOTIATE response");
    if (status != 0)
        return errbuf_set(err, "the server refused to negotiate SMB2 or later (status 0x%08x)",
                          (unsigned)status);
    if (get16(body) != NEG_RESP_STRUCTURE_SIZE)
        return errbuf_set(err, "the server's NEGOTIATE response is malformed");
    out->signing_required = (get16(body + 2) & SMB2_NEGOTIATE_SIGNING_REQUIRED) != 0;
    out->dialect = get16(body + 4);
    caps = get32(body + 24);
    out->dfs = (caps & SMB2_GLOBAL_CAP_DFS) != 0;
    if (out->dialect == SMB2_DIALECT_311)
        out->can_encrypt = offers_cipher(msg, len, get32(body + 60), get16(body + 6));
    else if (out->dialect == SMB2_DIALECT_300 || out->dialect == SMB2_DIALECT_302)
        out->can_encrypt = (caps & SMB2_GLOBAL_CAP_ENCRYPTION) != 0;
    else if (out->dialect != SMB2_DIALECT_202 && out->dialect != SMB2_DIALECT_210)
        return errbuf_set(err, "the server chose dialect 0x%04x, which was not offered",
                          out->dialect);
    return 0;
}

/* ---- the connection ------------------------------------------------------------------------- */

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

/* Wait for EVENTS on FD until DEADLINE. 0 ready, -1 with errno (ETIMEDOUT at the deadline). */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        long long left = deadline - monotonic_ms();
        int n;
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int soerr = 0;
    socklen_t sl = sizeof(soerr);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
        if (soerr == 0)
            return fd;
        errno = soerr;
    }
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

static int io_all(int fd, unsigned char *buf, size_t len, int writing, long long deadline)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (wait_fd(fd, writing ? POLLOUT : POLLIN, deadline) < 0)
            return -1;
    }
    return 0;
}

static int fail_errno(int e, const char *host, unsigned port, unsigned timeout_ms,
                      enum smb_probe_failure *why, struct errbuf *err)
{
    if (e == ETIMEDOUT) {
        *why = SMB_PROBE_TIMEOUT;
        return errbuf_set(err, "no answer from %s port %u within %u ms", host, port, timeout_ms);
    }
    *why = SMB_PROBE_UNREACHABLE;
    return errbuf_set(err, "%s port %u: %s", host, port, strerror(e));
}

int smb_probe(const char *host, unsigned port, unsigned timeout_ms, struct smb_server_facts *out,
              enum smb_probe_failure *why, struct errbuf *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    unsigned char req[256], head[TRANSPORT_HEADER_LEN], resp[RESPONSE_MAX];
    long long deadline = monotonic_ms() + timeout_ms;
    char service[8];
    size_t req_len, resp_len;
    int fd = -1, e = 0, rc;

    *why = SMB_PROBE_UNREACHABLE;
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return errbuf_set(err, "cannot resolve the server name %s: %s", host,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        if (fd < 0)
            e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail_errno(e, host, port, timeout_ms, why, err);
    req_len = build_request(req);
    if (io_all(fd, req, req_len, 1, deadline) < 0)
        goto io_fail;
    if (io_all(fd, head, sizeof(head), 0, deadline) < 0) {
        e = errno;
        close(fd);
        /* The server took the connection and closed it on our SMB2 NEGOTIATE without a word:
         * what smbd with "server max protocol = NT1" does (it drops any SMB2 packet). */
        if (e == ECONNRESET || e == EPIPE) {
            *why = SMB_PROBE_PROTOCOL;
            return errbuf_set(err,
                              "%s port %u: the server closed the connection when asked for "
                              "SMB2 or later (a server that speaks SMB1 only does that; ccs "
                              "requires SMB2 or later)",
                              host, port);
        }
        return fail_errno(e, host, port, timeout_ms, why, err);
    }
    resp_len = ((size_t)head[1] << 16) | ((size_t)head[2] << 8) | head[3];
    if (head[0] != 0 || resp_len > sizeof(resp)) {
        close(fd);
        return errbuf_set(err, "%s port %u: the answer is not SMB (is this an SMB server?)", host,
                          port);
    }
    if (io_all(fd, resp, resp_len, 0, deadline) < 0)
        goto io_fail;
    close(fd);
    if (smb_probe_parse_response(resp, resp_len, out, err) < 0) {
        *why = SMB_PROBE_PROTOCOL; /* it answered, in SMB1 or with no SMB2 we can use */
        return errbuf_prefix(err, "%s port %u", host, port);
    }
    *why = SMB_PROBE_OK;
    return 0;
io_fail:
    e = errno;
    close(fd);
    return fail_errno(e, host, port, timeout_ms, why, err);
}
