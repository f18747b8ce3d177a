/* revoke.h — certificate revocation by the account that holds it (RFC 8555 §7.6). */
#ifndef CCS_ACME_REVOKE_H
#define CCS_ACME_REVOKE_H

#include <openssl/x509.h>

#include "acme/client.h"

/* RFC 5280 §5.3.1 reason codes that ACME CAs accept. */
int acme_revoke_reason_parse(const char *text, int *out);

int acme_revoke(struct acme_client *c, X509 *cert, int reason, struct errbuf *err);

#endif
