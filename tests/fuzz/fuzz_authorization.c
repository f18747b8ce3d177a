/* libFuzzer target: acme_parse_authorization (RFC 8555 §7.1.4) with its challenges. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_authorization a;
    struct errbuf err = {""};
    int rc = acme_parse_authorization((const char *)data, size, &a, &err);

    fuzz_check_result(rc, &err);
    FUZZ_CHECK(a.challenge_count <= ACME_MAX_LIST);
    for (size_t i = 0; i < a.challenge_count; i++)
        if (a.challenges[i].error)
            fuzz_check_problem(a.challenges[i].error);
    if (rc == 0) {
        FUZZ_CHECK(a.identifier.type && a.identifier.value && a.status);
        FUZZ_CHECK(a.wildcard == 0 || a.wildcard == 1);
        FUZZ_CHECK(a.challenges != NULL);
        for (size_t i = 0; i < a.challenge_count; i++)
            FUZZ_CHECK(a.challenges[i].type && a.challenges[i].url && a.challenges[i].status);
    }
    acme_authorization_free(&a);
    return 0;
}
