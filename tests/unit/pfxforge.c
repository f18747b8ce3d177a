#include "pfxforge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

static void die(const char *what)
{
    fprintf(stderr, "pfxforge: %s failed\n", what);
    abort();
}

static long long count_or_default(long long n)
{
    if (n > INT_MAX)
        die("a count above INT_MAX");
    return n > 0 ? n : PFX_ITERATIONS;
}

/* Whether a count is really used, or only claimed (built with 1, then patched). */
static int computed(const struct pfxforge *f, long long n)
{
    return n <= PFXFORGE_COMPUTED_MAX && !f->uncomputed;
}

/* The count to build with: the real one when it is computed, else 1 (patched afterwards). */
static int build_count(const struct pfxforge *f, long long n)
{
    return computed(f, n) ? (int)n : 1;
}

/* Rewrite ALG's parameters to claim ITER iterations (the same algorithm, a fresh salt). */
static void patch_pbe(const struct pfxforge *f, X509_ALGOR *alg, long long iter)
{
    X509_ALGOR *claimed;

    if (computed(f, iter))
        return;
    claimed = f->aes256 ? PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), (int)iter, NULL, 0, NULL,
                                            NID_hmacWithSHA256)
                        : PKCS5_pbe_set(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, (int)iter, NULL, 0);
    if (!claimed || !X509_ALGOR_copy(alg, claimed))
        die("rewriting PBE parameters");
    X509_ALGOR_free(claimed);
}

static void add_id(PKCS12_SAFEBAG *bag, const char *id)
{
    if (!PKCS12_add_localkeyid(bag, (unsigned char *)id, (int)strlen(id)))
        die("PKCS12_add_localkeyid");
}

static void add_cert(STACK_OF(PKCS12_SAFEBAG) **bags, X509 *cert, const char *id)
{
    PKCS12_SAFEBAG *bag = PKCS12_add_cert(bags, cert);
    if (!bag)
        die("PKCS12_add_cert");
    if (id)
        add_id(bag, id);
}

static void add_key(STACK_OF(PKCS12_SAFEBAG) **bags, const struct pfxforge *f, EVP_PKEY *key,
                    const char *id, int nid, long long iter)
{
    PKCS12_SAFEBAG *bag = PKCS12_add_key(bags, key, 0, build_count(f, iter), nid, f->password);
    X509_ALGOR *alg;

    if (!bag)
        die("PKCS12_add_key");
    X509_SIG_getm((X509_SIG *)PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
    patch_pbe(f, alg, iter);
    if (id)
        add_id(bag, id);
}

static void add_certs(STACK_OF(PKCS12_SAFEBAG) **bags, const struct pfxforge *f)
{
    const struct pfx_bundle *b = f->bundle;
    const char *leaf_id = f->key_id == PFXFORGE_ID_LEAF ? "leaf" : NULL;

    if (!f->leaf_last)
        add_cert(bags, b->cert, leaf_id);
    for (int i = 0; i < sk_X509_num(b->chain); i++)
        add_cert(bags, sk_X509_value(b->chain, i),
                 i == 0 && f->key_id == PFXFORGE_ID_CHAIN ? "leaf" : NULL);
    if (f->leaf_last)
        add_cert(bags, b->cert, leaf_id);
}

void pfxforge(const struct pfxforge *f, struct bytes *out)
{
    STACK_OF(PKCS12_SAFEBAG) *certs = NULL, *keys = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12;
    PKCS7 *p7;
    unsigned char *der = NULL;
    int der_len;
    long long mac_iter = count_or_default(f->mac_iter), key_iter = count_or_default(f->key_iter),
              cert_iter = count_or_default(f->cert_iter);
    int nid = f->aes256 ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC;

    add_certs(&certs, f);
    if (f->extra_key)
        add_key(&keys, f, f->extra_key, "decoy", nid, key_iter);
    add_key(&keys, f, f->bundle->key, f->key_id == PFXFORGE_ID_NONE ? NULL : "leaf", nid, key_iter);
    p7 = PKCS12_pack_p7encdata(nid, f->password, -1, NULL, 0, build_count(f, cert_iter), certs);
    if (!p7)
        die("PKCS12_pack_p7encdata");
    patch_pbe(f, p7->d.encrypted->enc_data->algorithm, cert_iter);
    safes = sk_PKCS7_new_null();
    if (!safes || !sk_PKCS7_push(safes, p7))
        die("safes");
    if (f->keys_encrypted) {
        /* The key bags inside an encrypted part of their own, under the certificates' count. */
        p7 = PKCS12_pack_p7encdata(nid, f->password, -1, NULL, 0, build_count(f, cert_iter), keys);
        if (p7)
            patch_pbe(f, p7->d.encrypted->enc_data->algorithm, cert_iter);
    } else {
        p7 = PKCS12_pack_p7data(keys);
    }
    if (!p7 || !sk_PKCS7_push(safes, p7))
        die("packing the keys");
    p12 = PKCS12_add_safes(safes, 0);
    if (!p12)
        die("PKCS12_add_safes");
    /* A MAC count too large to compute: MAC with 2 (1 would omit the field), then claim more. */
    if (!PKCS12_set_mac(p12, f->password, -1, NULL, 0,
                        computed(f, mac_iter) ? (int)mac_iter : 2,
                        f->aes256 ? EVP_sha256() : EVP_sha1()))
        die("PKCS12_set_mac");
    if (!computed(f, mac_iter)) {
        const ASN1_INTEGER *iter;
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        if (!iter || !ASN1_INTEGER_set((ASN1_INTEGER *)iter, (long)mac_iter))
            die("rewriting the MAC count");
    }
    der_len = i2d_PKCS12(p12, &der);
    if (der_len <= 0)
        die("i2d_PKCS12");
    out->data = malloc((size_t)der_len);
    if (!out->data)
        die("out of memory");
    memcpy(out->data, der, (size_t)der_len);
    out->len = (size_t)der_len;
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(certs, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(keys, PKCS12_SAFEBAG_free);
}
