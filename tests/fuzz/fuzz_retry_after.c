/* libFuzzer target: http_retry_after_seconds (RFC 9110 §10.2.3). Never crashes, never returns
 * less than -1, returns a decimal delay-seconds value as it is (saturating at LONG_MAX), and
 * -1 for no value. The HTTP-date branch is libcurl's curl_getdate. */
#include <limits.h>

#include "acme/http.h"
#include "fuzz.h"

static void check(const char *text, time_t now)
{
    long got = http_retry_after_seconds(text, now);
    size_t len = strlen(text);

    FUZZ_CHECK(got >= -1);
    if (len > 0 && strspn(text, "0123456789") == len) {
        /* 1*DIGIT: its value, or LONG_MAX when it does not fit */
        long want = 0;
        for (size_t i = 0; i < len; i++) {
            int digit = text[i] - '0';
            if (want > (LONG_MAX - digit) / 10) {
                want = LONG_MAX;
                break;
            }
            want = want * 10 + digit;
        }
        if (got != want)
            fprintf(stderr, "\"%s\": got %ld, want %ld\n", text, got, want);
        FUZZ_CHECK(got == want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);

    FUZZ_CHECK(http_retry_after_seconds(NULL, 0) == -1);
    FUZZ_CHECK(http_retry_after_seconds("", 0) == -1);
    check(text, (time_t)1767225600); /* 2026-01-01T00:00:00Z */
    check(text, 0);
    free(text);
    return 0;
}
