/* relay.c — bounded two-way relay with half-close (relay.h). */
#include "serve/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

int relay_init(struct relay *r, SSL *ssl, int backend, const unsigned char *prefix, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->ssl = ssl;
    r->backend = backend;
    r->up.data = malloc(RELAY_BUFFER);
    r->down.data = malloc(RELAY_BUFFER);
    if (!r->up.data || !r->down.data || len > RELAY_BUFFER) {
        relay_free(r);
        return -1;
    }
    if (len) {
        memcpy(r->up.data, prefix, len);
        r->up.end = len;
    }
    return 0;
}

void relay_free(struct relay *r)
{
    free(r->up.data);
    free(r->down.data);
    r->up.data = r->down.data = NULL;
}

static size_t pending(const struct relay_buf *b)
{
    return b->end - b->start;
}

/* Room at the end, after moving waiting bytes to the front when the buffer has drained. */
static size_t room(struct relay_buf *b)
{
    if (b->start == b->end)
        b->start = b->end = 0;
    return RELAY_BUFFER - b->end;
}

static void consumed(struct relay_buf *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

/* The result of an SSL call that did not succeed: a wait (its bit into *WANTS), the end of the
 * client's stream (1), or an error (-1). */
static int ssl_outcome(struct relay *r, int ret, unsigned *wants)
{
    switch (SSL_get_error(r->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *wants |= RELAY_CLIENT_READ;
        return 0;
    case SSL_ERROR_WANT_WRITE:
        *wants |= RELAY_CLIENT_WRITE;
        return 0;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a bare FIN */
        return 1;
    default:
        ERR_clear_error();
        r->error = "client";
        return -1;
    }
}

/* Client to backend. Returns -1 on an error, else whether anything moved. */
static int pump_up(struct relay *r, unsigned *wants)
{
    int moved = 0;

    if (!r->up_eof && room(&r->up) > 0) {
        int n = SSL_read(r->ssl, r->up.data + r->up.end, (int)room(&r->up));
        if (n > 0) {
            r->up.end += (size_t)n;
            moved = 1;
        } else {
            int o = ssl_outcome(r, n, wants);
            if (o < 0)
                return -1;
            if (o > 0)
                r->up_eof = moved = 1;
        }
    }
    if (pending(&r->up)) {
        ssize_t n = send(r->backend, r->up.data + r->up.start, pending(&r->up), MSG_NOSIGNAL);
        if (n > 0) {
            consumed(&r->up, (size_t)n);
            r->bytes_up += (unsigned long long)n;
            moved = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *wants |= RELAY_BACKEND_WRITE;
        } else {
            r->error = "backend";
            return -1;
        }
    }
    if (r->up_eof && !pending(&r->up) && !r->up_shut) {
        shutdown(r->backend, SHUT_WR);
        r->up_shut = moved = 1;
    }
    return moved;
}

/* Backend to client. */
static int pump_down(struct relay *r, unsigned *wants)
{
    int moved = 0;

    if (!r->down_eof && room(&r->down) > 0) {
        ssize_t n = recv(r->backend, r->down.data + r->down.end, room(&r->down), 0);
        if (n > 0) {
            r->down.end += (size_t)n;
            moved = 1;
        } else if (n == 0) {
            r->down_eof = moved = 1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *wants |= RELAY_BACKEND_READ;
        } else {
            r->error = "backend";
            return -1;
        }
    }
    if (pending(&r->down)) {
        int n = SSL_write(r->ssl, r->down.data + r->down.start, (int)pending(&r->down));
        if (n > 0) {
            consumed(&r->down, (size_t)n);
            r->bytes_down += (unsigned long long)n;
            moved = 1;
        } else if (ssl_outcome(r, n, wants) != 0) {
            r->error = "client";
            return -1; /* the end of the client's stream does not excuse a failed write */
        }
    }
    if (r->down_eof && !pending(&r->down) && !r->down_shut) {
        int n = SSL_shutdown(r->ssl); /* sends close_notify; the client may still send */
        if (n >= 0) {
            r->down_shut = moved = 1;
        } else if (SSL_get_error(r->ssl, n) == SSL_ERROR_WANT_WRITE) {
            *wants |= RELAY_CLIENT_WRITE;
        } else {
            ERR_clear_error();
            r->down_shut = moved = 1; /* the client is gone: nothing more to tell it */
        }
    }
    return moved;
}

enum relay_status relay_pump(struct relay *r, unsigned budget, unsigned *wants, int *moved)
{
    *moved = 0;
    for (unsigned round = 0;; round++) {
        int up, down;

        *wants = 0;
        up = pump_up(r, wants);
        if (up < 0)
            return RELAY_ERROR;
        down = pump_down(r, wants);
        if (down < 0)
            return RELAY_ERROR;
        *moved |= up | down;
        if (r->up_shut && r->down_shut)
            return RELAY_DONE;
        if (!up && !down)
            return RELAY_WAIT;
        if (round + 1 >= budget)
            return RELAY_AGAIN;
    }
}
