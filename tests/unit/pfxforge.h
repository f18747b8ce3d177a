/* pfxforge.h — PFX files built bag by bag with OpenSSL's PKCS#12 API, the way other writers (and
 * attackers) lay them out, for tests of what ccs reads: where the localKeyID attributes are, which
 * certificate comes first, extra keys, and iteration counts too large to ever compute.
 *
 * A count above PFXFORGE_COMPUTED_MAX is written without being spent: the part is built with a
 * count of 1 and its parameters then rewritten (a fresh salt too), so the file cannot be opened —
 * which is the point: a reader must refuse it from the count alone, before any key derivation. */
#ifndef CCS_TESTS_PFXFORGE_H
#define CCS_TESTS_PFXFORGE_H

#include <openssl/evp.h>

#include "store/pfx.h"
#include "util/bytes.h"

/* Counts up to this are really used to build the file (and a reader can open it): every count a
 * reader accepts, so a file at the per-file sum is a real file. */
#define PFXFORGE_COMPUTED_MAX PFX_READ_ITERATIONS_MAX

/* Where the key's localKeyID points. */
enum pfxforge_key_id {
    PFXFORGE_ID_LEAF,  /* on the key and the leaf: what Windows and ccs write */
    PFXFORGE_ID_NONE,  /* no localKeyID anywhere */
    PFXFORGE_ID_CHAIN, /* on the key and the first chain certificate, not on the leaf */
};

struct pfxforge {
    const struct pfx_bundle *bundle; /* key, leaf, chain (in that order in the file by default) */
    const char *password;
    int aes256; /* PBES2/PBKDF2-SHA256/AES-256-CBC, SHA-256 MAC; else compat */
    long long mac_iter, key_iter, cert_iter; /* 0: PFX_ITERATIONS */
    enum pfxforge_key_id key_id;
    int leaf_last;       /* the chain first, the leaf last */
    EVP_PKEY *extra_key; /* a second key, placed before the bundle's, with a localKeyID that
                            names no certificate */
    int keys_encrypted;  /* the key bags in an encrypted part of their own (cert_iter), not in a
                            plain one: their counts are seen only once the part is decrypted */
    int uncomputed;      /* write every count without computing it, as above the limit: the
                            file cannot be opened, so a reader that opens it before refusing it
                            fails differently (wrong password) than one that refuses first */
};

/* Build the PFX described by F into OUT (free with bytes_free). Aborts on failure. */
void pfxforge(const struct pfxforge *f, struct bytes *out);

#endif
