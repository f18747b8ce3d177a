/* order.h — from identifiers to an issued certificate (RFC 8555 §7.4): new order, every
 * authorization proven through a challenge solver, finalize with a CSR, download with the
 * alternate chains (§7.4.2), the preferred chain chosen by issuer name. */
#ifndef CCS_ACME_ORDER_H
#define CCS_ACME_ORDER_H

#include <stddef.h>

#include <openssl/evp.h>

#include "acme/challenge.h"
#include "acme/client.h"

/* Longest we poll an authorization or an order before giving up. */
#define ACME_DEFAULT_POLL_LIMIT_S 300

struct acme_issue_request {
    const struct acme_identifier *identifiers; /* "dns" (may be "*.name") or "ip" */
    size_t identifier_count;
    const char *profile;  /* NULL, or a name the directory's meta.profiles offers */
    const char *replaces; /* ARI certificate identifier of the certificate this renews */
    EVP_PKEY *cert_key;   /* the new certificate's key */
    /* Solvers in order of preference: an authorization uses the first whose type it offers. */
    struct challenge_solver *const *solvers;
    size_t solver_count;
    const char *preferred_chain; /* issuer common name, or NULL for the CA's default */
    long poll_limit_s;           /* 0: ACME_DEFAULT_POLL_LIMIT_S */
    /* Called with the order URL once the order exists, before anything else happens to it,
     * so a caller can record it (crash safety). May be NULL. */
    void (*on_order)(void *ctx, const char *order_url);
    void *on_order_ctx;
    /* NULL, or the URL of an order an earlier run placed with the same key and left unfinished
     * (stopped or killed): it is taken up where it stands when the CA still has it, for exactly
     * these identifiers, and not invalid — a certificate the CA issued meanwhile is downloaded,
     * not ordered again. Otherwise a new order is placed. */
    const char *resume_order;
};

struct acme_issued {
    char *order_url;
    char *cert_pem;      /* the leaf */
    char *chain_pem;     /* its issuers, leaf's issuer first */
    char *fullchain_pem; /* both */
    char *chain_top;     /* common name the chosen chain leads to (its top issuer) */
    size_t chains_offered;
};

int acme_issue(struct acme_client *c, const struct acme_issue_request *req, struct acme_issued *out,
               struct errbuf *err);
void acme_issued_free(struct acme_issued *i);

/* The profile check done before ordering: fails naming the offered profiles. */
int acme_check_profile(const struct acme_client *c, const char *profile, struct errbuf *err);

#endif
