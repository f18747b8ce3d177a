#include "manage/store_config.h"

#include <stdlib.h>

#include "util/text.h"

struct store_open_options config_store_open_options(const struct config_store *store)
{
    struct store_open_options o = {.lock = STORE_LOCK_DEFAULT};

    o.smb = (struct store_smb_options){.credentials_file = store->credentials_file,
                                       .kerberos = store->kerberos,
                                       .encrypt = store->encrypt,
                                       .guest = store->guest};
    return o;
}

int config_store_open(const struct config_store *store, struct store **out, struct errbuf *err)
{
    struct store_open_options o = config_store_open_options(store);
    return store_open(store->location, &o, out, err);
}

int config_store_copy(const struct config_store *src, struct config_store *dst, struct errbuf *err)
{
    *dst = *src;
    dst->where = (struct config_where){0};
    dst->name = dst->location = dst->password_file = dst->group = dst->credentials_file = NULL;
    if (text_dup(&dst->name, src->name) < 0 || text_dup(&dst->location, src->location) < 0 ||
        text_dup(&dst->password_file, src->password_file) < 0 ||
        text_dup(&dst->group, src->group) < 0 ||
        text_dup(&dst->credentials_file, src->credentials_file) < 0) {
        config_store_clear(dst);
        return errbuf_set(err, "[store \"%s\"]: out of memory", src->name);
    }
    return 0;
}

void config_store_clear(struct config_store *s)
{
    free(s->name);
    free(s->location);
    free(s->password_file);
    free(s->group);
    free(s->credentials_file);
    *s = (struct config_store){0};
}

int config_store_same_opening(const struct config_store *a, const struct config_store *b)
{
    return text_same(a->location, b->location) && text_same(a->password_file, b->password_file) &&
           text_same(a->credentials_file, b->credentials_file) && a->kerberos == b->kerberos &&
           a->encrypt == b->encrypt && a->guest == b->guest;
}
