#include "manage/store_config.h"

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
