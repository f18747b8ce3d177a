/* key.h — private keys for accounts and certificates: generation by type, PEM files kept 0600. */
#ifndef CCS_ACME_KEY_H
#define CCS_ACME_KEY_H

#include <openssl/evp.h>

#include "util/err.h"

enum key_type { KEY_EC_P256, KEY_EC_P384, KEY_RSA_2048, KEY_RSA_3072, KEY_RSA_4096 };

#define KEY_TYPE_DEFAULT KEY_EC_P256

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096". */
int key_type_parse(const char *text, enum key_type *out);
const char *key_type_name(enum key_type type);

int key_generate(enum key_type type, EVP_PKEY **out, struct errbuf *err);

/* Write KEY as PKCS#8 PEM to PATH atomically (temp + fsync + rename), mode 0600. */
int key_save(EVP_PKEY *key, const char *path, struct errbuf *err);

/* Read a PEM private key (unencrypted). A missing file sets *MISSING (when MISSING is not NULL)
 * and returns -1 with ERR set. */
int key_load(const char *path, EVP_PKEY **out, int *missing, struct errbuf *err);

#endif
