/* tickets.c — session ticket keys shared by every worker (tickets.h).
 *
 * OpenSSL calls ticket_cb for each ticket it issues (ENC 1) or receives (ENC 0), from whichever
 * worker thread runs the handshake; the keys sit behind a read-write lock that only a rotation
 * takes for writing, once an hour. The cipher and the MAC are the ones OpenSSL's own default
 * ticket keys use (AES-256-CBC, HMAC-SHA256), fetched once: fetching per ticket takes OpenSSL's
 * global provider lock on every handshake. */
#include "serve/tickets.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Sizes fixed by the callback's interface (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)): a 16-octet
 * key name; AES-256 and HMAC-SHA256 keys of 32 octets each. */
#define TICKET_NAME_LEN 16
#define TICKET_AES_KEY_LEN 32
#define TICKET_HMAC_KEY_LEN 32
#define TICKET_IV_LEN 16

struct ticket_key {
    unsigned char name[TICKET_NAME_LEN];
    unsigned char aes[TICKET_AES_KEY_LEN];
    unsigned char hmac[TICKET_HMAC_KEY_LEN];
};

struct ticket_keys {
    pthread_rwlock_t lock;
    struct ticket_key keys[TICKET_KEYS_KEPT]; /* [0]: newest */
    size_t count;
    unsigned long generation;
    EVP_CIPHER *cipher;
};

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_index_init(void)
{
    ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int key_fill(struct ticket_key *k)
{
    return RAND_bytes(k->name, sizeof(k->name)) == 1 && RAND_bytes(k->aes, sizeof(k->aes)) == 1 &&
           RAND_bytes(k->hmac, sizeof(k->hmac)) == 1;
}

int ticket_keys_new(struct ticket_keys **out, struct errbuf *err)
{
    struct ticket_keys *k = calloc(1, sizeof(*k));

    *out = NULL;
    if (!k)
        return errbuf_set(err, "session tickets: out of memory");
    pthread_rwlock_init(&k->lock, NULL);
    k->cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    if (!k->cipher || !key_fill(&k->keys[0])) {
        ticket_keys_free(k);
        return errbuf_set_ssl(err, "session tickets: cannot make a key");
    }
    k->count = 1;
    *out = k;
    return 0;
}

void ticket_keys_free(struct ticket_keys *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k->keys, sizeof(k->keys));
    EVP_CIPHER_free(k->cipher);
    pthread_rwlock_destroy(&k->lock);
    free(k);
}

int ticket_keys_rotate(struct ticket_keys *k, struct errbuf *err)
{
    struct ticket_key fresh;

    if (!key_fill(&fresh))
        return errbuf_set_ssl(err, "session tickets: cannot make a new key");
    pthread_rwlock_wrlock(&k->lock);
    memmove(&k->keys[1], &k->keys[0], sizeof(k->keys[0]) * (TICKET_KEYS_KEPT - 1));
    k->keys[0] = fresh;
    if (k->count < TICKET_KEYS_KEPT)
        k->count++;
    k->generation++;
    pthread_rwlock_unlock(&k->lock);
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    return 0;
}

unsigned long ticket_keys_generation(struct ticket_keys *k)
{
    unsigned long g;

    pthread_rwlock_rdlock(&k->lock);
    g = k->generation;
    pthread_rwlock_unlock(&k->lock);
    return g;
}

static int mac_init(EVP_MAC_CTX *hctx, const struct ticket_key *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key->hmac,
                                          sizeof(key->hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

/* OpenSSL's contract: ENC: fill NAME and IV, set up CTX and HCTX, return 1 (or 0: no ticket).
 * Decrypt: find NAME; 0: unknown key (full handshake), 1: accepted, 2: accepted, and issue a new
 * ticket under the newest key. */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    struct ticket_keys *k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);
    int rc = 0;

    if (!k)
        return 0;
    pthread_rwlock_rdlock(&k->lock);
    if (enc) {
        const struct ticket_key *key = &k->keys[0];
        if (RAND_bytes(iv, TICKET_IV_LEN) == 1 &&
            EVP_EncryptInit_ex(ctx, k->cipher, NULL, key->aes, iv) == 1 && mac_init(hctx, key)) {
            memcpy(name, key->name, TICKET_NAME_LEN);
            rc = 1;
        } /* else 0: no ticket this time, rather than a failed handshake */
    } else {
        for (size_t i = 0; i < k->count; i++) {
            const struct ticket_key *key = &k->keys[i];
            if (CRYPTO_memcmp(name, key->name, TICKET_NAME_LEN) != 0)
                continue;
            if (EVP_DecryptInit_ex(ctx, k->cipher, NULL, key->aes, iv) == 1 &&
                mac_init(hctx, key))
                rc = i == 0 ? 1 : 2; /* else 0: a full handshake */
            break;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

int ticket_keys_install(SSL_CTX *ctx, struct ticket_keys *keys, struct errbuf *err)
{
    pthread_once(&ex_once, ex_index_init);
    if (ex_index < 0 || !SSL_CTX_set_ex_data(ctx, ex_index, keys) ||
        !SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb))
        return errbuf_set_ssl(err, "session tickets: cannot install the key callback");
    SSL_CTX_set_timeout(ctx, TICKET_LIFETIME_S);
    return 0;
}
