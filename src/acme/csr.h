/* csr.h — the certificate signing request sent at finalize (RFC 8555 §7.4, RFC 2986). */
#ifndef CCS_ACME_CSR_H
#define CCS_ACME_CSR_H

#include <stddef.h>

#include <openssl/evp.h>

#include "acme/parse.h"
#include "util/err.h"

/* A DER CSR for IDENTIFIERS ("dns" names, "ip" addresses) signed by KEY. The subject CN is the
 * first DNS name when it fits (64 octets); every identifier is a SAN. Returns base64url DER. */
char *csr_build_b64url(EVP_PKEY *key, const struct acme_identifier *identifiers, size_t count,
                       struct errbuf *err);

#endif
