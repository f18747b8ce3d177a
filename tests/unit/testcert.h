/* testcert.h — certificates made in-process for unit tests (OpenSSL): a CA, and leaves it signs. */
#ifndef CCS_TESTS_TESTCERT_H
#define CCS_TESTS_TESTCERT_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store/pfx.h"

struct test_ca {
    EVP_PKEY *key;
    X509 *cert;
};

/* A P-256 key (RSA when BITS > 0). Aborts on failure: a test cannot go on without it. */
EVP_PKEY *testcert_key(int rsa_bits);

/* A self-signed CA named CN. */
void testcert_ca(struct test_ca *ca, const char *cn);
void testcert_ca_free(struct test_ca *ca);

/* A leaf signed by CA (or self-signed when CA is NULL): subject CN, SANs given as an openssl
 * subjectAltName value ("DNS:a.example,IP:127.0.0.1"), valid from NOT_BEFORE to NOT_AFTER. The
 * bundle gets the key, the leaf and (with a CA) the CA certificate as its chain. */
void testcert_leaf(struct pfx_bundle *out, const struct test_ca *ca, const char *cn,
                   const char *sans, time_t not_before, time_t not_after);

/* A fresh empty directory under $TMPDIR (or /tmp); remove it with testcert_rmdir. */
char *testcert_tmpdir(void);
void testcert_rmdir(char *dir);

#endif
