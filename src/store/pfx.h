/* pfx.h — PKCS#12 encode and decode, with OpenSSL 3.
 *
 * Two formats are written (field notes §4):
 *   compat  PKCS#12 PBE pbeWithSHA1And3-KeyTripleDES-CBC for the key and the certificates, SHA-1 MAC:
 *           imports on every Windows, including Server 2016 and older (which lack PBES2 entirely).
 *   aes256  PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for both, SHA-256 MAC: Windows Server 2019+.
 * Reading also accepts OpenSSL's `-legacy` form (RC2-40 certificates), which needs the legacy
 * provider: pfx_crypto_init() loads it, and "default" with it (loading any provider explicitly stops
 * OpenSSL from loading "default" implicitly). */
#ifndef CCS_STORE_PFX_H
#define CCS_STORE_PFX_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/bytes.h"
#include "util/err.h"

/* Upper bound for any certificate input we read (PEM or PFX): real ones are a few KiB; a
 * 1,000-name certificate with its chain stays far below this. */
#define CERT_INPUT_MAX (1024 * 1024)

/* Iterations for both the PBE key derivation and the MAC: OpenSSL's and Windows' default (2048). */
#define PFX_ITERATIONS 2048

/* Reading: iteration counts are chosen by whoever wrote the file, and a MAC count of 2^31-1 keeps
 * OpenSSL busy for hours (field notes §4). Real writers use 2,048 (OpenSSL, Windows) to 10,000
 * (Java) and at most 100,000 (some hardened exporters); .NET refuses files above 600,000. ccs
 * refuses any one count (the MAC, the key, one encrypted part) above PFX_READ_ITERATIONS_MAX, and
 * a file whose counts add up to more than PFX_READ_ITERATIONS_TOTAL_MAX (many parts, each under
 * the cap, cost as much). Both are checked before any key is derived, on the counts readable
 * without the password (the MAC, every encrypted part, every key outside one); a key inside an
 * encrypted part is counted as it is reached. At the cap a compat file opens in about a second
 * (measured: 0.9 s for MAC, key and certificates at 1,000,000 each), so one parse is bounded. */
#define PFX_READ_ITERATIONS_MAX 1000000
#define PFX_READ_ITERATIONS_TOTAL_MAX (3 * PFX_READ_ITERATIONS_MAX)

enum pfx_format {
    PFX_FORMAT_COMPAT,
    PFX_FORMAT_AES256,
    PFX_FORMAT_LEGACY_RC2, /* read only */
    PFX_FORMAT_OTHER,      /* read only: any other mix of algorithms */
};

const char *pfx_format_name(enum pfx_format format);
/* "compat" or "aes256" (the formats ccs writes). */
int pfx_format_parse(const char *text, enum pfx_format *out);

/* A certificate with its private key and issuing chain (leaf's issuer first). */
struct pfx_bundle {
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) *chain;
};

void pfx_bundle_free(struct pfx_bundle *b);

/* Load the legacy and default providers. Call once before any other function here. */
int pfx_crypto_init(struct errbuf *err);

/* Build a bundle from PEM: CERT may be a full chain (split: the certificate matching KEY is the leaf,
 * the others its chain); CHAIN (optional) adds issuers. The chain is put in issuing order and
 * de-duplicated. Fails, naming the input, on non-PEM data, truncated PEM, an encrypted key, or a key
 * that matches none of the certificates. */
struct pem_input {
    const struct bytes *data;
    const char *what; /* file name for messages */
};
int pfx_bundle_from_pem(struct pem_input cert, struct pem_input key, const struct pem_input *chain,
                        struct pfx_bundle *out, struct errbuf *err);

/* Encode B under PASSWORD in FORMAT (compat or aes256), friendly name FRIENDLY on key and leaf. */
int pfx_encode(const struct pfx_bundle *b, const char *password, enum pfx_format format,
               const char *friendly, struct bytes *out, struct errbuf *err);

enum pfx_status {
    PFX_OK,
    PFX_NOT_PKCS12,     /* not DER PKCS#12 at all */
    PFX_TRUNCATED,      /* a PKCS#12 structure cut short */
    PFX_WRONG_PASSWORD, /* MAC (or decryption) fails with the password */
    PFX_DAMAGED,        /* opens, but its contents cannot be parsed or decrypted */
    PFX_NO_CERT,        /* opens, but holds no certificate */
    PFX_TOO_COSTLY,     /* refused unopened: an iteration count above PFX_READ_ITERATIONS_MAX */
};

const char *pfx_status_text(enum pfx_status status);

/* How the key is tied to its certificate. Windows and Java pair a private key with a certificate
 * through the localKeyID bag attribute, not by position or public key (field notes §4): a key
 * whose localKeyID names no certificate, or names a chain certificate, imports as a certificate
 * without a private key, which IIS cannot bind. */
enum pfx_pairing {
    PFX_PAIRED,          /* the key's localKeyID is the leaf's: every reader pairs them */
    PFX_PAIR_NO_KEY_ID,  /* the key or the leaf carries no localKeyID */
    PFX_PAIR_OTHER_CERT, /* the key's localKeyID is another certificate's (a chain certificate) */
    PFX_PAIR_UNMATCHED,  /* the key's localKeyID is no certificate's */
    PFX_PAIR_NO_KEY,     /* no key, or none matching any certificate: nothing to pair */
};

/* What PAIRING means, for messages: "the key's localKeyID names a chain certificate, ...". */
const char *pfx_pairing_text(enum pfx_pairing pairing);

struct pfx_decoded {
    /* The leaf is the certificate a key is paired with by localKeyID (the pair whose key matches
     * it, a non-CA certificate first); without such a pair, the first certificate a key matches;
     * without that, the first non-CA certificate. key is that leaf's key (NULL: none in the file). */
    struct pfx_bundle bundle;
    int key_matches;          /* bundle.key matches bundle.cert */
    enum pfx_pairing pairing; /* how bundle.key is tied to bundle.cert */
    int leaf_first;           /* the leaf is the file's first certificate (some readers assume it) */
    int key_count;            /* private keys in the file */
    enum pfx_format format;
    char algorithms[160]; /* "key PBE-SHA1-3DES, certs PBE-SHA1-3DES, MAC SHA1" */
    char friendly[256];
};

/* Decode DATA with PASSWORD. Returns PFX_OK with OUT filled (free with pfx_decoded_free), or another
 * status with ERR saying what is wrong. An empty password also tries the "no password" convention.
 * Every iteration count is checked before its key derivation (PFX_READ_ITERATIONS_MAX), so a call
 * costs at most about a second whatever DATA holds. */
enum pfx_status pfx_decode(const unsigned char *data, size_t len, const char *password,
                           struct pfx_decoded *out, struct errbuf *err);

void pfx_decoded_free(struct pfx_decoded *d);

/* Put CHAIN in issuing order starting from LEAF's issuer; certificates that do not link are kept at
 * the end in their original order, duplicates and copies of the leaf dropped. */
void pfx_order_chain(X509 *leaf, STACK_OF(X509) *chain);

/* How many certificates at the start of CHAIN (as pfx_order_chain leaves it) are on LEAF's issuing
 * path: CHAIN[0] issued LEAF, CHAIN[1] issued CHAIN[0], and so on. The rest were given but issue
 * nothing the leaf's clients need. */
int pfx_issuing_path_length(X509 *leaf, STACK_OF(X509) *chain);

#endif
