/* tls.c — the TLS context, the SNI of a ClientHello, a certificate per connection (tls.h).
 *
 * Why a certificate per connection (SSL_use_cert_and_key) rather than an SSL_CTX per certificate
 * swapped in with SSL_set_SSL_CTX (HAProxy's way): both cost the same per handshake (field notes
 * §5: within 5-10% of a static certificate, each), but a context per certificate would need a
 * second cache beside the store cache, whose entries must die with the store_cert they were made
 * from. Per connection, the SSL takes its own references to the key and certificates, and the
 * cache alone decides what lives. */
#include "serve/tls.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/tls1.h>

/* Options every connection gets: no renegotiation (a client-driven CPU cost, and never needed by
 * a terminator), the server's cipher order, and a client that closes without close_notify is a
 * normal end of its stream (most HTTP clients do), not an error. */
#define TLS_OPTIONS                                                                               \
    (SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |    \
     SSL_OP_NO_COMPRESSION)
/* Relay semantics: write what fits, retry from a buffer that may have moved; drop the read and
 * write buffers of idle connections (~34 KiB each). */
#define TLS_MODES                                                                                 \
    (SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS)

/* The server's preference decides among the protocols both offer; no overlap: no ALPN at all
 * (the client then speaks its default, as with a server that knows no ALPN) rather than the fatal
 * alert RFC 7301 §3.2 allows — nginx and hitch do the same. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct tls_alpn *alpn = arg;
    unsigned char *chosen = NULL;

    (void)ssl;
    if (SSL_select_next_proto(&chosen, outlen, alpn->wire, (unsigned)alpn->len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *tls_ctx_new(const struct tls_params *p, struct errbuf *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx) {
        errbuf_set_ssl(err, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_options(ctx, TLS_OPTIONS);
    SSL_CTX_set_mode(ctx, TLS_MODES);
    /* Resumption is by tickets (tickets.c), which every worker can open: no per-process cache. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!SSL_CTX_set_min_proto_version(ctx, p->min_version)) {
        errbuf_set_ssl(err, "min-tls-version: not accepted by OpenSSL");
        goto fail;
    }
    if (!SSL_CTX_set_cipher_list(ctx, p->ciphers ? p->ciphers : TLS_DEFAULT_CIPHERS)) {
        errbuf_set_ssl(err, "ciphers \"%s\": selects no cipher", p->ciphers ? p->ciphers : "");
        goto fail;
    }
    if (p->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, p->ciphersuites)) {
        errbuf_set_ssl(err, "ciphersuites \"%s\": not accepted", p->ciphersuites);
        goto fail;
    }
    if (p->alpn && p->alpn->len)
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, (void *)p->alpn);
    SSL_CTX_set_client_hello_cb(ctx, p->hello_cb, p->hello_arg);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_alpn_build(char *const *names, size_t count, struct tls_alpn *out, struct errbuf *err)
{
    size_t len = 0, at = 0;

    out->wire = NULL;
    out->len = 0;
    for (size_t i = 0; i < count; i++)
        len += 1 + strlen(names[i]);
    if (!len)
        return 0;
    out->wire = malloc(len);
    if (!out->wire)
        return errbuf_set(err, "alpn: out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        out->wire[at++] = (unsigned char)n;
        memcpy(out->wire + at, names[i], n);
        at += n;
    }
    out->len = len;
    return 0;
}

/* RFC 6066 §3: extension_data is a ServerNameList: a 16-bit length, then entries of a one-octet
 * type (0: host_name), a 16-bit length and the name. At most one host_name. */
#define SNI_TYPE_HOST_NAME 0

int tls_hello_sni(SSL *ssl, const unsigned char **name, size_t *len)
{
    const unsigned char *p;
    size_t ext_len, list_len;

    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &ext_len))
        return 0;
    if (ext_len < 2)
        return -1;
    list_len = (size_t)p[0] << 8 | p[1];
    if (list_len != ext_len - 2)
        return -1;
    p += 2;
    while (list_len >= 3) {
        size_t n = (size_t)p[1] << 8 | p[2];
        if (n > list_len - 3)
            return -1;
        if (p[0] == SNI_TYPE_HOST_NAME) {
            *name = p + 3;
            *len = n;
            return 1;
        }
        p += 3 + n;
        list_len -= 3 + n;
    }
    return list_len == 0 ? 0 : -1;
}

int tls_use_cert(SSL *ssl, const struct store_cert *cert)
{
    const struct pfx_bundle *b = &cert->insp.decoded.bundle;

    return SSL_use_cert_and_key(ssl, b->cert, b->key, b->chain, 1) == 1 ? 0 : -1;
}

const char *tls_version_name(const SSL *ssl)
{
    return SSL_get_version(ssl);
}
