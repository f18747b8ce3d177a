/* inspect.h — open one store file with the store password and say what it holds and what is wrong
 * with it. Shared by deploy (newer-only, prune), list, lookup and check, so they all agree. */
#ifndef CCS_STORE_INSPECT_H
#define CCS_STORE_INSPECT_H

#include "store/certinfo.h"
#include "store/pfx.h"

struct pfx_inspection {
    enum pfx_status status;
    char error[ERRBUF_SIZE]; /* when status != PFX_OK */
    /* The rest is valid only when status == PFX_OK. */
    struct pfx_decoded decoded;
    struct cert_summary summary;
    struct cert_names names;
    int chain_has_issuer; /* the leaf's issuer is in the file, or the leaf is self-issued */
};

/* Inspect DATA (LEN octets), a store file, with the store PASSWORD. Never fails as a call: problems
 * are in OUT->status and OUT->error. */
void store_inspect_bytes(const unsigned char *data, size_t len, const char *password,
                         struct pfx_inspection *out);
void pfx_inspection_free(struct pfx_inspection *insp);

/* Nonzero when the leaf is issued by a certificate in CHAIN, or by itself. */
int chain_has_issuer(X509 *leaf, STACK_OF(X509) *chain);

#endif
