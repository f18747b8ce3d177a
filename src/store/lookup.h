/* lookup.h — which store file serves a host: the rule `ccs store lookup` shows and `ccs serve` uses.
 * exact `host.pfx`, else `_.parent.pfx` (one level only), else none (field notes §1). */
#ifndef CCS_STORE_LOOKUP_H
#define CCS_STORE_LOOKUP_H

#include "store/store.h"
#include "store/names.h"

enum store_lookup_rule {
    STORE_LOOKUP_NONE,
    STORE_LOOKUP_EXACT,
    STORE_LOOKUP_WILDCARD,
};

const char *store_lookup_rule_name(enum store_lookup_rule rule);

struct store_lookup_result {
    struct store_lookup_plan plan;
    enum store_lookup_rule rule;
    const char *file; /* points into plan; NULL when rule is NONE */
    struct bytes data; /* the file's contents when found */
};

/* Look HOST up in ST. Invalid HOST fails before the store is touched. A file that exists but cannot
 * be read (a symlink, a directory, an I/O error) is an error, not a fall-through: serving the
 * wildcard instead would hide the problem. */
int store_lookup(struct store *st, const char *host, struct store_lookup_result *out,
                 struct errbuf *err);
void store_lookup_result_free(struct store_lookup_result *r);

#endif
