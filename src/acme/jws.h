/* jws.h — JSON Web Signatures as ACME uses them (RFC 8555 §6.2, RFC 7515 flattened JSON):
 * ES256 (P-256), ES384 (P-384) and RS256 (RSA) account keys; HS256/384/512 for External Account
 * Binding (RFC 8555 §7.3.4). */
#ifndef CCS_ACME_JWS_H
#define CCS_ACME_JWS_H

#include <jansson.h>
#include <openssl/evp.h>

#include "util/err.h"

/* "ES256", "ES384" or "RS256" for KEY; NULL for a key type ACME cannot use. */
const char *jws_alg(EVP_PKEY *key);

/* The public JWK of KEY (RFC 7517), or NULL. */
json_t *jws_jwk(EVP_PKEY *key, struct errbuf *err);

/* RFC 7638 thumbprint of KEY's JWK, base64url: the account part of every key authorization. */
char *jws_thumbprint(EVP_PKEY *key, struct errbuf *err);

/* Sign PAYLOAD (a JSON text; NULL for POST-as-GET, which signs the empty string) for URL with
 * NONCE. KID is the account URL, or NULL to embed the JWK (newAccount, revocation by cert key).
 * Returns the flattened JWS as a malloc'd JSON text. */
char *jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const char *payload, struct errbuf *err);

/* The same, with PROTECTED given whole (keyChange's inner JWS has no nonce: RFC 8555 §7.3.5). */
json_t *jws_sign_protected(EVP_PKEY *key, json_t *protected_header, const char *payload,
                           struct errbuf *err);

/* The externalAccountBinding object: a JWS over the account's public JWK, MAC'd with the CA's
 * HMAC key (already base64url-decoded) under KID, for URL (newAccount). ALG: HS256|HS384|HS512. */
json_t *jws_eab(const char *kid, const unsigned char *hmac_key, size_t hmac_key_len,
                const char *alg, EVP_PKEY *account_key, const char *url, struct errbuf *err);

#endif
