#include "store/inspect.h"

#include <string.h>

#include <openssl/x509v3.h>

int chain_has_issuer(X509 *leaf, STACK_OF(X509) *chain)
{
    if (X509_check_issued(leaf, leaf) == X509_V_OK)
        return 1;
    for (int i = 0; i < sk_X509_num(chain); i++)
        if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK)
            return 1;
    return 0;
}

void store_inspect_bytes(const unsigned char *data, size_t len, const char *password,
                         struct pfx_inspection *out)
{
    struct errbuf err = {""};

    memset(out, 0, sizeof(*out));
    out->status = pfx_decode(data, len, password, &out->decoded, &err);
    if (out->status != PFX_OK)
        goto fail;
    if (cert_summarise(out->decoded.bundle.cert, &out->summary, &err) < 0 ||
        cert_names_collect(out->decoded.bundle.cert, &out->names, &err) < 0) {
        out->status = PFX_DAMAGED;
        pfx_decoded_free(&out->decoded);
        goto fail;
    }
    out->chain_has_issuer = chain_has_issuer(out->decoded.bundle.cert, out->decoded.bundle.chain);
    return;
fail:
    /* Store files are always opened with the store password: say which password failed. */
    if (out->status == PFX_WRONG_PASSWORD)
        snprintf(out->error, sizeof(out->error),
                 "wrong password: does not open with the store password");
    else
        snprintf(out->error, sizeof(out->error), "%s", err.msg);
}

void pfx_inspection_free(struct pfx_inspection *insp)
{
    pfx_decoded_free(&insp->decoded);
    cert_names_free(&insp->names);
    memset(insp, 0, sizeof(*insp));
}
