/* libFuzzer target: acme_parse_problem (RFC 7807 problem documents with ACME subproblems). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acme_problem p;
    struct errbuf err = {""};
    int rc = acme_parse_problem((const char *)data, size, &p, &err);

    fuzz_check_result(rc, &err);
    fuzz_check_problem(&p); /* after a failure too: what was parsed must stay describable */
    acme_problem_free(&p);
    FUZZ_CHECK(p.type == NULL && p.subproblems == NULL && p.subproblem_count == 0);
    return 0;
}
