/* libFuzzer target: the response-header callback of src/acme/http.c (on_header and its Link
 * parser parse_link_values), fed line by line as libcurl would, without a network. http.c is
 * included so its static functions can be reached; it is not compiled into this target
 * otherwise. Afterwards the accessors run on what was collected, and everything is freed. */
#include "../../src/acme/http.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_response r = {0};
    struct sink s = {&r, 0, 0, 0};
    const char *p = (const char *)data, *end = p + size;

    /* Each header line, with its CR LF, exactly as libcurl hands it over (not NUL-terminated):
     * copied to a buffer of its own size so ASan sees a read past it. */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char *line = malloc(n);
        FUZZ_CHECK(line != NULL);
        memcpy(line, p, n);
        FUZZ_CHECK(on_header(line, 1, n, &s) == n);
        free(line);
        p += n;
    }

    FUZZ_CHECK(r.link_count == 0 || r.links != NULL);
    for (size_t i = 0; i < r.link_count; i++) {
        FUZZ_CHECK(r.links[i].url != NULL && r.links[i].rel != NULL);
        FUZZ_CHECK(strchr(r.links[i].url, '>') == NULL); /* the URL ends at the first '>' */
    }
    for (size_t i = 0; i <= r.link_count; i++) {
        const char *up = http_link_get(&r, "up", i), *index = http_link_get(&r, "index", i);
        FUZZ_CHECK(i < r.link_count || (!up && !index));
    }
    if (r.link_count > 0 && r.links[0].rel && r.links[0].url)
        FUZZ_CHECK(http_link_get(&r, r.links[0].rel, 0) == r.links[0].url);
    (void)http_content_type_is(&r, "application/problem+json");
    (void)http_content_type_is(&r, "application/pem-certificate-chain");
    if (r.retry_after)
        FUZZ_CHECK(http_retry_after_seconds(r.retry_after, (time_t)1767225600) >= -1);
    http_response_free(&r);
    return 0;
}
