/* tickets.h — TLS session tickets: the keys that encrypt them, shared by every worker (one set per
 * process, kept across SIGHUP), rotated so that a stolen key opens only recent sessions.
 *
 * Invariants:
 *  - a ticket is always issued under the newest key;
 *  - a ticket under one of the TICKET_KEYS_KEPT - 1 previous keys is still accepted, and the client
 *    gets a new ticket under the newest key; an older one means a full handshake;
 *  - keys never leave the process and are wiped when dropped. */
#ifndef CCS_SERVE_TICKETS_H
#define CCS_SERVE_TICKETS_H

#include <openssl/ssl.h>

#include "util/err.h"

/* A new key every hour (Cloudflare's published practice); tickets live as long as the key that
 * encrypted them can still decrypt them: TICKET_KEYS_KEPT rotations. */
#define TICKET_KEY_ROTATE_S 3600
#define TICKET_KEYS_KEPT 3
#define TICKET_LIFETIME_S (TICKET_KEY_ROTATE_S * (TICKET_KEYS_KEPT - 1))

struct ticket_keys;

int ticket_keys_new(struct ticket_keys **out, struct errbuf *err);
void ticket_keys_free(struct ticket_keys *keys);
/* Make a new newest key; the oldest of TICKET_KEYS_KEPT is dropped. Any thread. */
int ticket_keys_rotate(struct ticket_keys *keys, struct errbuf *err);
/* How many rotations so far (tests). */
unsigned long ticket_keys_generation(struct ticket_keys *keys);
/* Issue and accept CTX's tickets with KEYS (which must outlive CTX). */
int ticket_keys_install(SSL_CTX *ctx, struct ticket_keys *keys, struct errbuf *err);

#endif
