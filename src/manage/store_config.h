/* store_config.h — open a store the way its [store] section says. One way to open it, used by
 * every part that opens a configured store (the renewer's deploy-ccs task, ccs serve and its
 * --check), so a share's connection options (credentials, Kerberos, encryption, guest) are never
 * dropped by one of them; and a copy of a [store] for a part that keeps it across reloads. */
#ifndef CCS_MANAGE_STORE_CONFIG_H
#define CCS_MANAGE_STORE_CONFIG_H

#include "manage/config.h"
#include "store/store.h"

/* The store_open() options for STORE: a share gets its connection options; the lock is the
 * backend's default. Strings point into STORE, which must outlive the options. */
struct store_open_options config_store_open_options(const struct config_store *store);

/* store_open() of STORE's location with config_store_open_options(). */
int config_store_open(const struct config_store *store, struct store **out, struct errbuf *err);

/* Copy SRC into DST (zeroed by the caller), strings and all, for a part that keeps a [store]
 * beyond the configuration it came from (ccs serve, across reloads); where is not kept.
 * config_store_clear() frees a copy. */
int config_store_copy(const struct config_store *src, struct config_store *dst, struct errbuf *err);
void config_store_clear(struct config_store *s);

/* Whether A and B open the same store the same way: location, password file and every
 * connection option. */
int config_store_same_opening(const struct config_store *a, const struct config_store *b);

#endif
