/* proxy_protocol.h — the PROXY protocol header (HAProxy's "proxy-protocol.txt", versions 1 and 2):
 * the one thing `ccs serve` adds to the byte stream it relays, so the backend learns who the client
 * was, which name it asked for and which protocol it chose. Building it is a pure function of the
 * connection's facts: no I/O, no allocation. */
#ifndef CCS_SERVE_PROXY_PROTOCOL_H
#define CCS_SERVE_PROXY_PROTOCOL_H

#include <stddef.h>
#include <sys/socket.h>

#include "manage/config.h"

/* Version 1 is one text line of at most 107 octets (proxy-protocol.txt §2.1). */
#define PROXY_V1_MAX 107
/* Version 2: 16 octets of header, 36 of IPv6 addresses, then the TLVs we add: ALPN (≤ 255),
 * AUTHORITY (an SNI host, ≤ 253) and SSL with its version and cipher sub-TLVs (< 100), each with
 * 3 octets of type and length. */
#define PROXY_HEADER_MAX 1024

/* Version 2 TLV types and flags we send (proxy-protocol.txt §2.2.1 to §2.2.5). */
#define PP2_TYPE_ALPN 0x01
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_SSL 0x20
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CIPHER 0x23
#define PP2_CLIENT_SSL 0x01

struct proxy_info {
    const struct sockaddr *src; /* the client */
    const struct sockaddr *dst; /* the address it connected to */
    const char *authority;      /* the SNI host name, or NULL */
    const unsigned char *alpn;  /* the protocol chosen by ALPN, or NULL */
    size_t alpn_len;
    const char *tls_version; /* "TLSv1.3", or NULL */
    const char *cipher;      /* "TLS_AES_128_GCM_SHA256", or NULL */
};

/* Write the header of MODE (v1 or v2) for INFO into OUT (SIZE octets, at least PROXY_HEADER_MAX)
 * and set *LEN. Addresses of another family than IPv4 and IPv6 (or of two families) are sent as
 * UNKNOWN (v1) or UNSPEC (v2), as the specification says. IPv4-mapped IPv6 addresses are sent as
 * IPv4. Returns -1 only when OUT is too small. */
int proxy_header_build(enum proxy_protocol_mode mode, const struct proxy_info *info,
                       unsigned char *out, size_t size, size_t *len);

#endif
