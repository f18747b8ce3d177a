/* proxy_protocol.c — PROXY protocol v1 and v2 headers (proxy_protocol.h). */
#include "serve/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* proxy-protocol.txt §2.2: the v2 signature, then version 2 with the PROXY command. */
static const unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
#define V2_VERSION_PROXY 0x21
#define V2_FAMILY_UNSPEC 0x00
#define V2_FAMILY_TCP4 0x11
#define V2_FAMILY_TCP6 0x21
#define V2_FIXED_LEN 16
/* The SSL TLV's fixed part: client flags (1 octet) and verify (4). */
#define V2_SSL_FIXED_LEN 5
/* verify is zero only when a client certificate was presented and verified (§2.2.5); we ask
 * for none. */
#define V2_SSL_VERIFY_NO_CLIENT_CERT 1

/* An address reduced to what the header carries. */
struct endpoint {
    int family; /* AF_INET, AF_INET6, or 0: not representable */
    unsigned char addr[16];
    uint16_t port; /* host order */
};

static void endpoint_of(const struct sockaddr *sa, struct endpoint *e)
{
    memset(e, 0, sizeof(*e));
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        e->family = AF_INET;
        memcpy(e->addr, &in->sin_addr, 4);
        e->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        e->port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            e->family = AF_INET;
            memcpy(e->addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            e->family = AF_INET6;
            memcpy(e->addr, &in6->sin6_addr, 16);
        }
    }
}

static int build_v1(const struct endpoint *src, const struct endpoint *dst, unsigned char *out,
                    size_t size, size_t *len)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int n;

    if (!src->family || src->family != dst->family) {
        n = snprintf((char *)out, size, "PROXY UNKNOWN\r\n");
    } else {
        inet_ntop(src->family, src->addr, s, sizeof(s));
        inet_ntop(dst->family, dst->addr, d, sizeof(d));
        n = snprintf((char *)out, size, "PROXY %s %s %s %u %u\r\n",
                     src->family == AF_INET ? "TCP4" : "TCP6", s, d, src->port, dst->port);
    }
    if (n < 0 || (size_t)n >= size || n > PROXY_V1_MAX)
        return -1;
    *len = (size_t)n;
    return 0;
}

struct writer {
    unsigned char *out;
    size_t size, used;
    int overflow;
};

static void put(struct writer *w, const void *data, size_t len)
{
    if (w->overflow || len > w->size - w->used) {
        w->overflow = 1;
        return;
    }
    memcpy(w->out + w->used, data, len);
    w->used += len;
}

static void put_u8(struct writer *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    put(w, &b, 1);
}

static void put_u16(struct writer *w, size_t v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(w, b, 2);
}

static void put_tlv(struct writer *w, unsigned type, const void *value, size_t len)
{
    put_u8(w, type);
    put_u16(w, len);
    put(w, value, len);
}

/* Patch the 16-bit big-endian length at AT to the octets written after it. */
static void patch_len(struct writer *w, size_t at)
{
    size_t n = w->used - at - 2;
    if (w->overflow || n > 0xFFFF) {
        w->overflow = 1;
        return;
    }
    w->out[at] = (unsigned char)(n >> 8);
    w->out[at + 1] = (unsigned char)n;
}

static void put_ssl_tlv(struct writer *w, const struct proxy_info *info)
{
    size_t at;
    unsigned char verify[4] = {0, 0, 0, V2_SSL_VERIFY_NO_CLIENT_CERT};

    put_u8(w, PP2_TYPE_SSL);
    at = w->used;
    put_u16(w, 0);
    put_u8(w, PP2_CLIENT_SSL);
    put(w, verify, sizeof(verify));
    if (info->tls_version)
        put_tlv(w, PP2_SUBTYPE_SSL_VERSION, info->tls_version, strlen(info->tls_version));
    if (info->cipher)
        put_tlv(w, PP2_SUBTYPE_SSL_CIPHER, info->cipher, strlen(info->cipher));
    patch_len(w, at);
}

static int build_v2(const struct endpoint *src, const struct endpoint *dst,
                    const struct proxy_info *info, unsigned char *out, size_t size, size_t *len)
{
    struct writer w = {out, size, 0, 0};
    int same = src->family && src->family == dst->family;
    size_t alen = !same ? 0 : src->family == AF_INET ? 4 : 16, at;

    put(&w, v2_signature, sizeof(v2_signature));
    put_u8(&w, V2_VERSION_PROXY);
    put_u8(&w, !same                      ? V2_FAMILY_UNSPEC
                : src->family == AF_INET ? V2_FAMILY_TCP4
                                         : V2_FAMILY_TCP6);
    at = w.used;
    put_u16(&w, 0);
    if (same) {
        put(&w, src->addr, alen);
        put(&w, dst->addr, alen);
        put_u16(&w, src->port);
        put_u16(&w, dst->port);
    }
    if (info->alpn && info->alpn_len)
        put_tlv(&w, PP2_TYPE_ALPN, info->alpn, info->alpn_len);
    if (info->authority && info->authority[0])
        put_tlv(&w, PP2_TYPE_AUTHORITY, info->authority, strlen(info->authority));
    if (info->tls_version)
        put_ssl_tlv(&w, info);
    patch_len(&w, at);
    if (w.overflow)
        return -1;
    *len = w.used;
    return 0;
}

int proxy_header_build(enum proxy_protocol_mode mode, const struct proxy_info *info,
                       unsigned char *out, size_t size, size_t *len)
{
    struct endpoint src, dst;

    endpoint_of(info->src, &src);
    endpoint_of(info->dst, &dst);
    *len = 0;
    if (mode == PROXY_PROTOCOL_V1)
        return build_v1(&src, &dst, out, size, len);
    if (mode == PROXY_PROTOCOL_V2)
        return build_v2(&src, &dst, info, out, size, len);
    return 0;
}
