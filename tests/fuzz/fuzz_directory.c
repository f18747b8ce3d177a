/* libFuzzer target: acme_parse_directory (RFC 8555 §7.1.1, with RFC 9773 renewalInfo and
 * meta.profiles). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_directory d;
    struct errbuf err = {""};
    int rc = acme_parse_directory((const char *)data, size, &d, &err);

    fuzz_check_result(rc, &err);
    FUZZ_CHECK(d.profile_count <= ACME_MAX_LIST);
    if (rc == 0) {
        FUZZ_CHECK(d.new_nonce && d.new_account && d.new_order);
        FUZZ_CHECK(d.external_account_required == 0 || d.external_account_required == 1);
        FUZZ_CHECK(d.profile_count == 0 || d.profiles != NULL);
        for (size_t i = 0; i < d.profile_count; i++)
            FUZZ_CHECK(d.profiles[i].name && d.profiles[i].description);
    }
    acme_directory_free(&d);
    return 0;
}
