/* relay.h — the byte stream between a TLS client and its backend, both ways, through two bounded
 * buffers; no parsing of what passes.
 *
 * Invariants:
 *  - at most RELAY_BUFFER octets wait in each direction: a side that does not read stops the other
 *    side being read (back-pressure), so memory per connection is bounded whatever the peers do;
 *  - bytes leave in the order they came, each exactly once;
 *  - half-close passes through: the client's close_notify (or its TCP FIN) becomes a FIN to the
 *    backend once everything before it was written; the backend's FIN becomes close_notify once
 *    everything before it was sent; the connection ends when both directions have ended;
 *  - relay_pump() never blocks: every descriptor is non-blocking; it says what it waits for. */
#ifndef CCS_SERVE_RELAY_H
#define CCS_SERVE_RELAY_H

#include <stddef.h>

#include <openssl/ssl.h>

/* One TLS record's plaintext at most (RFC 8446 §5.1): a read of the client never needs more, and
 * a full record per write keeps TLS framing overhead at its minimum. */
#define RELAY_BUFFER 16384

/* What relay_pump() waits for, as bits. */
#define RELAY_CLIENT_READ 1u
#define RELAY_CLIENT_WRITE 2u
#define RELAY_BACKEND_READ 4u
#define RELAY_BACKEND_WRITE 8u

enum relay_status {
    RELAY_WAIT,  /* nothing moves until one of the WANTS bits' events */
    RELAY_AGAIN, /* the budget ran out with work left: call again soon (other connections first) */
    RELAY_DONE,  /* both directions ended */
    RELAY_ERROR, /* a peer reset or failed: close both */
};

struct relay_buf {
    unsigned char *data;
    size_t start, end; /* data[start, end) waits to be written */
};

struct relay {
    SSL *ssl;
    int backend;
    struct relay_buf up, down; /* up: client to backend; down: backend to client */
    unsigned up_eof : 1, up_shut : 1, down_eof : 1, down_shut : 1;
    unsigned long long bytes_up, bytes_down; /* written to the backend, to the client */
    const char *error; /* RELAY_ERROR: what failed ("client", "backend") */
};

/* Allocate the buffers; PREFIX (the PROXY header, LEN octets, or NULL) goes to the backend first. */
int relay_init(struct relay *r, SSL *ssl, int backend, const unsigned char *prefix, size_t len);
void relay_free(struct relay *r);
/* Move bytes until nothing moves or BUDGET rounds passed. *WANTS: the events to wait for;
 * *MOVED: whether anything moved (activity, for the idle timeout). */
enum relay_status relay_pump(struct relay *r, unsigned budget, unsigned *wants, int *moved);

#endif
