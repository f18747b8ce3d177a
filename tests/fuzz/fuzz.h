/* fuzz.h — what every libFuzzer target in tests/fuzz shares: the entry point's prototype, a check
 * that aborts (so libFuzzer records the input as a crash), and the invariants of a parsed problem
 * document, which several CA objects embed. */
#ifndef CCS_FUZZ_H
#define CCS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* CCS_FUZZ_STRICT=1 in the environment adds checks of the documented grammar (RFC 3339, base64url
 * alphabet) on top of memory safety; off by default so CI fails only on crashes, leaks and broken
 * invariants of the API. */
static inline int fuzz_strict(void)
{
    static int strict = -1;
    if (strict < 0) {
        const char *v = getenv("CCS_FUZZ_STRICT");
        strict = v && *v && strcmp(v, "0") != 0;
    }
    return strict;
}

/* A NUL-terminated copy of the input, allocated to the byte so ASan sees any read past the NUL. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The parser's failure contract: -1 with a message, 0 without touching it. */
static inline void fuzz_check_result(int rc, const struct errbuf *err)
{
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    if (rc < 0)
        FUZZ_CHECK(err->msg[0] != '\0');
}

/* Counts within bounds, and acme_problem_describe stays inside buffers of every size: each buffer
 * is malloc'd to the byte so ASan flags a write past its end. Also used on partially parsed
 * problems (after a failure), which callers may describe too. */
static inline void fuzz_check_problem(const struct acme_problem *p)
{
    static const size_t sizes[] = {1, 2, 5, 16, 80, 256, 1024, 8192};

    FUZZ_CHECK(p->subproblem_count <= ACME_MAX_LIST);
    FUZZ_CHECK(p->subproblem_count == 0 || p->subproblems != NULL);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *buf = malloc(sizes[i]);
        if (!buf)
            abort();
        acme_problem_describe(p, buf, sizes[i]);
        FUZZ_CHECK(memchr(buf, '\0', sizes[i]) != NULL);
        free(buf);
    }
}

#endif
