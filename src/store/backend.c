#include "store/backend.h"

#include <stdlib.h>
#include <string.h>

int store_open(const char *location, struct store **out, struct errbuf *err)
{
    struct store *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (!st)
        return errbuf_set(err, "out of memory");
    if (strlen(location) >= sizeof(st->location)) {
        free(st);
        return errbuf_set(err, "store location too long");
    }
    strcpy(st->location, location);
    if (store_local_open(location, st, err) < 0) {
        free(st);
        return -1;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->ops && st->ops->close)
        st->ops->close(st);
    free(st);
}

void store_entries_free(struct store_entries *entries)
{
    free(entries->items);
    entries->items = NULL;
    entries->count = 0;
}
