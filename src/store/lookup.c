#include "store/lookup.h"

#include <string.h>

#include "store/pfx.h"

const char *store_lookup_rule_name(enum store_lookup_rule rule)
{
    switch (rule) {
    case STORE_LOOKUP_EXACT:
        return "exact";
    case STORE_LOOKUP_WILDCARD:
        return "wildcard";
    default:
        return "none";
    }
}

static int try_file(struct store *st, const char *file, struct bytes *data, int *found,
                    struct errbuf *err)
{
    int missing;

    *found = 0;
    if (store_read(st, file, CERT_INPUT_MAX, data, &missing, err) < 0)
        return -1;
    *found = !missing;
    return 0;
}

int store_lookup(struct store *st, const char *host, struct store_lookup_result *out,
                 struct errbuf *err)
{
    int found;

    memset(out, 0, sizeof(*out));
    if (store_lookup_plan(host, strlen(host), &out->plan, err) < 0)
        return -1;
    if (try_file(st, out->plan.exact_file, &out->data, &found, err) < 0)
        return -1;
    if (found) {
        out->rule = STORE_LOOKUP_EXACT;
        out->file = out->plan.exact_file;
        return 0;
    }
    if (out->plan.wildcard_file[0]) {
        if (try_file(st, out->plan.wildcard_file, &out->data, &found, err) < 0)
            return -1;
        if (found) {
            out->rule = STORE_LOOKUP_WILDCARD;
            out->file = out->plan.wildcard_file;
        }
    }
    return 0;
}

void store_lookup_result_free(struct store_lookup_result *r)
{
    bytes_free(&r->data);
    r->file = NULL;
    r->rule = STORE_LOOKUP_NONE;
}
