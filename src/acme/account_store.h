/* account_store.h — where accounts live on disk: one directory per CA directory URL under the
 * state directory (STATE/accounts/HOST-HASH/), holding account.key (0600) and account.json (the
 * account URL and what the CA said). A key is written before the account is created, so an
 * interrupted registration is resumed with the same key (onlyReturnExisting finds it). */
#ifndef CCS_ACME_ACCOUNT_STORE_H
#define CCS_ACME_ACCOUNT_STORE_H

#include <limits.h>

#include <openssl/evp.h>

#include "util/err.h"

#define ACCOUNT_KEY_FILE "account.key"
#define ACCOUNT_NEW_KEY_FILE "account.key.new" /* during a rollover */
#define ACCOUNT_INFO_FILE "account.json"

struct account_paths {
    char dir[PATH_MAX];
    char key[PATH_MAX];
    char new_key[PATH_MAX];
    char info[PATH_MAX];
};

/* The paths for DIRECTORY_URL under STATE_DIR; creates the directory (0700) when CREATE. */
int account_paths_for(const char *state_dir, const char *directory_url, int create,
                      struct account_paths *out, struct errbuf *err);

/* Read the stored account URL (kid); *KID is NULL when none is recorded. */
int account_info_load(const struct account_paths *p, char **kid, struct errbuf *err);
int account_info_save(const struct account_paths *p, const char *directory_url, const char *kid,
                      const char *status, struct errbuf *err);

#endif
