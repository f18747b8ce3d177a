/* ari.h — ACME Renewal Information (RFC 9773): the CA's suggested renewal window for a
 * certificate, and the identifier that names the certificate in renewalInfo and in an order's
 * "replaces". */
#ifndef CCS_ACME_ARI_H
#define CCS_ACME_ARI_H

#include <openssl/x509.h>

#include "acme/client.h"

/* base64url(AKI keyIdentifier) "." base64url(serial number octets) (§4.1). Fails when the
 * certificate has no Authority Key Identifier. */
char *acme_ari_cert_id(X509 *cert, struct errbuf *err);

struct acme_suggested_window {
    time_t start, end;
    char *explanation_url;
    long retry_after_s; /* when to ask again, as the CA said; -1 when it did not */
};

/* Ask the CA for CERT's window. Fails when the CA offers no renewalInfo. */
int acme_ari_fetch(struct acme_client *c, X509 *cert, struct acme_suggested_window *out,
                   struct errbuf *err);
void acme_suggested_window_free(struct acme_suggested_window *w);

/* A point chosen uniformly at random inside [start, end) (§4.2: spread renewals out). UNIT_RANDOM
 * is a number in [0, 1), passed in so tests can fix it. */
time_t acme_ari_pick_time(const struct acme_suggested_window *w, double unit_random);

#endif
