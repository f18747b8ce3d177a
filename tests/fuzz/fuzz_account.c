/* libFuzzer target: acme_parse_account (RFC 8555 §7.1.2). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_account a;
    struct errbuf err = {""};
    int rc = acme_parse_account((const char *)data, size, &a, &err);

    fuzz_check_result(rc, &err);
    FUZZ_CHECK(a.contact_count <= ACME_MAX_LIST);
    if (rc == 0) {
        FUZZ_CHECK(a.status != NULL);
        FUZZ_CHECK(a.terms_agreed == 0 || a.terms_agreed == 1);
        for (size_t i = 0; i < a.contact_count; i++)
            FUZZ_CHECK(a.contact[i] != NULL);
    }
    acme_account_free(&a);
    return 0;
}
