/* libFuzzer target: acme_parse_challenge (RFC 8555 §7.1.5, §8). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_challenge c;
    struct errbuf err = {""};
    int rc = acme_parse_challenge((const char *)data, size, &c, &err);

    fuzz_check_result(rc, &err);
    if (c.error)
        fuzz_check_problem(c.error);
    if (rc == 0)
        FUZZ_CHECK(c.type && c.url && c.status);
    acme_challenge_free(&c);
    return 0;
}
