/* libFuzzer target: acme_parse_renewal_info (RFC 9773 §4.2). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_renewal_info r;
    struct errbuf err = {""};
    int rc = acme_parse_renewal_info((const char *)data, size, &r, &err);

    fuzz_check_result(rc, &err);
    if (rc == 0)
        FUZZ_CHECK(r.window_end > r.window_start);
    acme_renewal_info_free(&r);
    return 0;
}
