/* b64url.h — base64url without padding (RFC 4648 §5, as JOSE requires: RFC 7515 §2), on top of
 * OpenSSL's base64 coder: we translate the alphabet, we do not re-implement the coding. */
#ifndef CCS_ACME_B64URL_H
#define CCS_ACME_B64URL_H

#include <stddef.h>

/* Encode LEN octets; returns a NUL-terminated malloc'd string, or NULL when out of memory. */
char *b64url_encode(const unsigned char *data, size_t len);

/* Decode TEXT (no padding expected, padding tolerated). Returns a malloc'd buffer and its length,
 * or NULL when TEXT is not base64url. */
unsigned char *b64url_decode(const char *text, size_t *out_len);

#endif
