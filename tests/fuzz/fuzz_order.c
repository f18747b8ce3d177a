/* libFuzzer target: acme_parse_order (RFC 8555 §7.1.3), which embeds identifiers, RFC 3339 times
 * and a problem document. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_order o;
    struct errbuf err = {""};
    int rc = acme_parse_order((const char *)data, size, &o, &err);

    fuzz_check_result(rc, &err);
    FUZZ_CHECK(o.identifier_count <= ACME_MAX_LIST);
    FUZZ_CHECK(o.authorization_count <= ACME_MAX_LIST);
    if (o.error)
        fuzz_check_problem(o.error);
    if (rc == 0) {
        FUZZ_CHECK(o.status && o.finalize);
        FUZZ_CHECK(o.identifiers != NULL);
        FUZZ_CHECK(o.authorization_count == 0 || o.authorizations != NULL);
        for (size_t i = 0; i < o.identifier_count; i++)
            FUZZ_CHECK(o.identifiers[i].type && o.identifiers[i].value);
        for (size_t i = 0; i < o.authorization_count; i++)
            FUZZ_CHECK(o.authorizations[i] != NULL);
    }
    acme_order_free(&o);
    return 0;
}
