/* account.h — ACME accounts (RFC 8555 §7.3): create or find, read, update contacts, deactivate,
 * roll the key over; External Account Binding (§7.3.4). */
#ifndef CCS_ACME_ACCOUNT_H
#define CCS_ACME_ACCOUNT_H

#include <stddef.h>

#include "acme/client.h"

struct acme_eab {
    const char *kid;
    const unsigned char *hmac_key; /* decoded */
    size_t hmac_key_len;
    const char *alg; /* "HS256" (default when NULL), "HS384", "HS512" */
};

struct acme_account_request {
    const char *const *contact; /* "mailto:admin@example.com" */
    size_t contact_count;
    int agree_terms;
    int only_existing;          /* find, never create (§7.3.1 onlyReturnExisting) */
    const struct acme_eab *eab; /* NULL: none */
};

/* Create the account for the client's key, or find the existing one. Sets the client's kid. *CREATED
 * is 1 when the CA made a new account (201), 0 when it already existed (200). */
int acme_account_register(struct acme_client *c, const struct acme_account_request *req,
                          struct acme_account *out, int *created, struct errbuf *err);

int acme_account_fetch(struct acme_client *c, struct acme_account *out, struct errbuf *err);

/* Replace the contact list. */
int acme_account_update(struct acme_client *c, const char *const *contact, size_t count,
                        struct acme_account *out, struct errbuf *err);

int acme_account_deactivate(struct acme_client *c, struct acme_account *out, struct errbuf *err);

/* Roll the account over to NEW_KEY (§7.3.5). On success the client signs with NEW_KEY. */
int acme_account_key_change(struct acme_client *c, EVP_PKEY *new_key, struct errbuf *err);

#endif
