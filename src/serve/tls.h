/* tls.h — OpenSSL for `ccs serve`: the TLS context of a configuration, the SNI name read from a
 * ClientHello, and a store certificate put on one connection.
 *
 * The certificate is chosen in OpenSSL's ClientHello callback (field notes §5): there the SNI
 * extension must be read from the raw hello (SSL_get_servername() is not set yet), and the
 * callback may suspend the handshake while the certificate's file is loaded. */
#ifndef CCS_SERVE_TLS_H
#define CCS_SERVE_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "store/cache.h"
#include "util/err.h"

/* A sound default for TLS 1.2 (Mozilla's "intermediate" profile without the DHE suites, which
 * need DH parameters and cost more than ECDHE): forward secrecy and AEAD only. TLS 1.3 keeps
 * OpenSSL's default suites, all of which are sound. */
#define TLS_DEFAULT_CIPHERS                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"    \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* An ALPN list in wire form (length-prefixed names, RFC 7301 §3.1), in preference order. */
struct tls_alpn {
    unsigned char *wire;
    size_t len;
};

struct tls_params {
    int min_version;          /* TLS1_2_VERSION or TLS1_3_VERSION */
    const char *ciphers;      /* NULL: TLS_DEFAULT_CIPHERS */
    const char *ciphersuites; /* NULL: OpenSSL's */
    const struct tls_alpn *alpn; /* must outlive the context; NULL or empty: no ALPN */
    SSL_client_hello_cb_fn hello_cb;
    void *hello_arg;
};

/* A server context for P, with no certificate of its own (each connection gets one). */
SSL_CTX *tls_ctx_new(const struct tls_params *p, struct errbuf *err);

/* Build the wire list of NAMES (each 1 to 255 octets: config.c checked) into OUT; free OUT->wire. */
int tls_alpn_build(char *const *names, size_t count, struct tls_alpn *out, struct errbuf *err);

/* From within the ClientHello callback: the host_name of the server_name extension (RFC 6066 §3):
 * 1 with *NAME and *LEN set (not NUL-terminated, unvalidated: client input), 0 without the
 * extension or a host_name in it, -1 when the extension is malformed. */
int tls_hello_sni(SSL *ssl, const unsigned char **name, size_t *len);

/* Serve CERT (a usable store certificate) on SSL: key, leaf and chain. */
int tls_use_cert(SSL *ssl, const struct store_cert *cert);

/* "TLSv1.3", "TLSv1.2", ... of an established connection. */
const char *tls_version_name(const SSL *ssl);

#endif
