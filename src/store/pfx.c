#include "store/pfx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

/* OSSL_STACK_OF_X509_free arrived in OpenSSL 3.2; Debian 12 has 3.0. */
static void sk_X509_pop_free_all(STACK_OF(X509) *certs)
{
    sk_X509_pop_free(certs, X509_free);
}

const char *pfx_format_name(enum pfx_format format)
{
    switch (format) {
    case PFX_FORMAT_COMPAT:
        return "compat";
    case PFX_FORMAT_AES256:
        return "aes256";
    case PFX_FORMAT_LEGACY_RC2:
        return "legacy-rc2";
    default:
        return "other";
    }
}

int pfx_format_parse(const char *text, enum pfx_format *out)
{
    if (strcmp(text, "compat") == 0)
        *out = PFX_FORMAT_COMPAT;
    else if (strcmp(text, "aes256") == 0)
        *out = PFX_FORMAT_AES256;
    else
        return -1;
    return 0;
}

const char *pfx_status_text(enum pfx_status status)
{
    switch (status) {
    case PFX_OK:
        return "ok";
    case PFX_NOT_PKCS12:
        return "not PKCS#12";
    case PFX_TRUNCATED:
        return "truncated";
    case PFX_WRONG_PASSWORD:
        return "wrong password";
    case PFX_DAMAGED:
        return "damaged";
    case PFX_TOO_COSTLY:
        return "refused";
    default:
        return "no certificate";
    }
}

const char *pfx_pairing_text(enum pfx_pairing pairing)
{
    switch (pairing) {
    case PFX_PAIRED:
        return "the key's localKeyID names the leaf";
    case PFX_PAIR_NO_KEY_ID:
        return "no localKeyID ties the key to the leaf";
    case PFX_PAIR_OTHER_CERT:
        return "the key's localKeyID names a chain certificate, not the leaf";
    case PFX_PAIR_UNMATCHED:
        return "the key's localKeyID names no certificate in the file";
    default:
        return "no key to pair";
    }
}

static OSSL_PROVIDER *provider_default, *provider_legacy;

/* Unload at exit, before OpenSSL's own clean-up, so leak checkers see a clean process. */
static void unload_providers(void)
{
    if (provider_legacy)
        OSSL_PROVIDER_unload(provider_legacy);
    if (provider_default)
        OSSL_PROVIDER_unload(provider_default);
    provider_legacy = provider_default = NULL;
}

int pfx_crypto_init(struct errbuf *err)
{
    if (provider_default)
        return 0;
    provider_default = OSSL_PROVIDER_load(NULL, "default");
    if (!provider_default)
        return errbuf_set_ssl(err, "cannot load OpenSSL's default provider");
    /* Only needed to read RC2-40 PFX files; without it everything else still works. */
    provider_legacy = OSSL_PROVIDER_load(NULL, "legacy");
    if (!provider_legacy)
        ERR_clear_error();
    atexit(unload_providers);
    return 0;
}

void pfx_bundle_free(struct pfx_bundle *b)
{
    EVP_PKEY_free(b->key);
    X509_free(b->cert);
    sk_X509_pop_free_all(b->chain);
    memset(b, 0, sizeof(*b));
}

void pfx_decoded_free(struct pfx_decoded *d)
{
    pfx_bundle_free(&d->bundle);
    memset(d, 0, sizeof(*d));
}

static int is_self_issued(X509 *cert)
{
    return X509_check_issued(cert, cert) == X509_V_OK;
}

void pfx_order_chain(X509 *leaf, STACK_OF(X509) *chain)
{
    int n = sk_X509_num(chain), placed = 0;
    X509 *current = leaf;

    /* Drop copies of the leaf and duplicates first, so the walk below cannot loop. */
    for (int i = n - 1; i >= 0; i--) {
        X509 *c = sk_X509_value(chain, i);
        int dup = X509_cmp(c, leaf) == 0;
        for (int j = 0; !dup && j < i; j++)
            dup = X509_cmp(c, sk_X509_value(chain, j)) == 0;
        if (dup)
            X509_free(sk_X509_delete(chain, i));
    }
    n = sk_X509_num(chain);
    /* Walk issuer links from the leaf, moving each issuer to the next position. */
    while (placed < n && !is_self_issued(current)) {
        int found = -1;
        for (int i = placed; i < n && found < 0; i++)
            if (X509_check_issued(sk_X509_value(chain, i), current) == X509_V_OK)
                found = i;
        if (found < 0)
            break;
        current = sk_X509_delete(chain, found);
        sk_X509_insert(chain, current, placed++);
    }
}

int pfx_issuing_path_length(X509 *leaf, STACK_OF(X509) *chain)
{
    X509 *current = leaf;
    int n = 0;

    while (n < sk_X509_num(chain) && !is_self_issued(current) &&
           X509_check_issued(sk_X509_value(chain, n), current) == X509_V_OK)
        current = sk_X509_value(chain, n++);
    return n;
}

/* ---- PEM input -------------------------------------------------------------------------------- */

static int pem_no_more_blocks(void)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

/* Append every certificate in IN to *CERTS. Zero certificates is an error unless ALLOW_NONE. */
static int read_pem_certs(struct pem_input in, STACK_OF(X509) *certs, struct errbuf *err)
{
    BIO *bio = BIO_new_mem_buf(in.data->data, (int)in.data->len);
    int count = 0, rc = -1;
    X509 *cert;

    if (!bio)
        return errbuf_set_ssl(err, "%s: out of memory", in.what);
    ERR_clear_error();
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, cert)) {
            X509_free(cert);
            errbuf_set(err, "%s: out of memory", in.what);
            goto out;
        }
        count++;
    }
    if (!pem_no_more_blocks()) {
        errbuf_set_ssl(err, "%s: malformed or truncated PEM certificate", in.what);
        goto out;
    }
    ERR_clear_error();
    if (count == 0) {
        errbuf_set(err, "%s: no PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")",
                   in.what);
        goto out;
    }
    rc = 0;
out:
    BIO_free(bio);
    return rc;
}

static int refuse_password_prompt(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int read_pem_key(struct pem_input in, EVP_PKEY **out, struct errbuf *err)
{
    BIO *bio;

    if (memmem(in.data->data, in.data->len, "ENCRYPTED", 9))
        return errbuf_set(err, "%s: the private key is encrypted; give ccs an unencrypted key "
                               "(protect the file with its mode instead)",
                          in.what);
    bio = BIO_new_mem_buf(in.data->data, (int)in.data->len);
    if (!bio)
        return errbuf_set_ssl(err, "%s: out of memory", in.what);
    ERR_clear_error();
    *out = PEM_read_bio_PrivateKey(bio, NULL, refuse_password_prompt, NULL);
    BIO_free(bio);
    if (!*out) {
        /* OpenSSL 3's decoders report "unsupported" for input without a key block; tell the two
         * cases apart by looking for the block's header ourselves. */
        if (!memmem(in.data->data, in.data->len, "PRIVATE KEY-----", 16)) {
            ERR_clear_error();
            return errbuf_set(err, "%s: no PEM private key found (expected \"-----BEGIN PRIVATE "
                                   "KEY-----\" or an EC/RSA key block)",
                              in.what);
        }
        return errbuf_set_ssl(err, "%s: malformed or truncated PEM private key", in.what);
    }
    return 0;
}

static int key_matches_cert(EVP_PKEY *key, X509 *cert)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    int eq = pub && EVP_PKEY_eq(pub, key) == 1;
    ERR_clear_error();
    return eq;
}

int pfx_bundle_from_pem(struct pem_input cert, struct pem_input key, const struct pem_input *chain,
                        struct pfx_bundle *out, struct errbuf *err)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    int leaf = -1;

    memset(out, 0, sizeof(*out));
    if (!certs)
        return errbuf_set(err, "out of memory");
    if (read_pem_certs(cert, certs, err) < 0)
        goto fail;
    if (chain && read_pem_certs(*chain, certs, err) < 0)
        goto fail;
    if (read_pem_key(key, &out->key, err) < 0)
        goto fail;
    for (int i = 0; i < sk_X509_num(certs) && leaf < 0; i++)
        if (key_matches_cert(out->key, sk_X509_value(certs, i)))
            leaf = i;
    if (leaf < 0) {
        errbuf_set(err, "%s: the private key does not match the certificate in %s", key.what,
                   cert.what);
        goto fail;
    }
    out->cert = sk_X509_delete(certs, leaf);
    out->chain = certs;
    pfx_order_chain(out->cert, out->chain);
    return 0;
fail:
    sk_X509_pop_free_all(certs);
    pfx_bundle_free(out);
    return -1;
}

/* ---- encode ----------------------------------------------------------------------------------- */

int pfx_encode(const struct pfx_bundle *b, const char *password, enum pfx_format format,
               const char *friendly, struct bytes *out, struct errbuf *err)
{
    int nid;
    const EVP_MD *mac_md;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int der_len, rc = -1;

    out->data = NULL;
    out->len = 0;
    if (format == PFX_FORMAT_COMPAT) {
        nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
        mac_md = EVP_sha1();
    } else if (format == PFX_FORMAT_AES256) {
        nid = NID_aes_256_cbc; /* a cipher NID selects PBES2; OpenSSL 3 pairs it with PBKDF2-SHA256 */
        mac_md = EVP_sha256();
    } else {
        return errbuf_set(err, "ccs does not write the %s PFX format", pfx_format_name(format));
    }
    /* The MAC is set separately (mac_iter -1 omits it here) so its digest is ours, not a default. */
    p12 = PKCS12_create_ex(password, friendly, b->key, b->cert, b->chain, nid, nid, PFX_ITERATIONS,
                           -1, 0, NULL, NULL);
    if (!p12) {
        errbuf_set_ssl(err, "cannot build the PFX");
        goto out;
    }
    if (!PKCS12_set_mac(p12, password, -1, NULL, 0, PFX_ITERATIONS, mac_md)) {
        errbuf_set_ssl(err, "cannot add the PFX MAC");
        goto out;
    }
    der_len = i2d_PKCS12(p12, &der);
    if (der_len <= 0) {
        errbuf_set_ssl(err, "cannot encode the PFX");
        goto out;
    }
    out->data = malloc((size_t)der_len);
    if (!out->data) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    memcpy(out->data, der, (size_t)der_len);
    out->len = (size_t)der_len;
    rc = 0;
out:
    OPENSSL_free(der);
    PKCS12_free(p12);
    return rc;
}

/* ---- decode ----------------------------------------------------------------------------------- */

/* What protects one part of a PFX: a PKCS#12 PBE NID, or for PBES2 the cipher's NID. */
struct protection {
    int nid;       /* NID_undef when the part is not encrypted */
    int pbes2;     /* 1 when PBES2 */
    int prf_nid;   /* PBES2 only */
    char text[64]; /* "PBE-SHA1-3DES", "PBES2/PBKDF2-SHA256/AES-256-CBC", "none" */
};

static void describe_protection(const X509_ALGOR *alg, struct protection *p)
{
    const ASN1_OBJECT *obj;
    const void *param;
    int ptype;

    memset(p, 0, sizeof(*p));
    X509_ALGOR_get0(&obj, &ptype, &param, alg);
    p->nid = OBJ_obj2nid(obj);
    if (p->nid == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        PBKDF2PARAM *kdf = NULL;
        p->pbes2 = 1;
        p->nid = NID_undef;
        p->prf_nid = NID_hmacWithSHA1; /* RFC 8018 default when the PRF is absent */
        if (pbe2) {
            p->nid = OBJ_obj2nid(pbe2->encryption->algorithm);
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
            if (kdf && kdf->prf)
                p->prf_nid = OBJ_obj2nid(kdf->prf->algorithm);
        }
        snprintf(p->text, sizeof(p->text), "PBES2/PBKDF2-%s/%s",
                 p->prf_nid == NID_hmacWithSHA256 ? "SHA256"
                 : p->prf_nid == NID_hmacWithSHA1 ? "SHA1"
                                                  : OBJ_nid2sn(p->prf_nid),
                 p->nid == NID_undef ? "?" : OBJ_nid2sn(p->nid));
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(pbe2);
    } else if (p->nid == NID_pbe_WithSHA1And3_Key_TripleDES_CBC) {
        snprintf(p->text, sizeof(p->text), "PBE-SHA1-3DES");
    } else if (p->nid == NID_pbe_WithSHA1And40BitRC2_CBC) {
        snprintf(p->text, sizeof(p->text), "PBE-SHA1-RC2-40");
    } else {
        snprintf(p->text, sizeof(p->text), "%s", OBJ_nid2sn(p->nid));
    }
}

static enum pfx_status classify_unparsable(const unsigned char *data, size_t len, struct errbuf *err)
{
    const unsigned char *p = data;
    long content_len;
    int tag, cls, ret;

    ERR_clear_error();
    if (len == 0) {
        errbuf_set(err, "empty file");
        return PFX_TRUNCATED;
    }
    if (data[0] != 0x30) { /* every PKCS#12 file starts with a DER SEQUENCE */
        errbuf_set(err, "not PKCS#12 (does not start with a DER SEQUENCE%s)",
                   len > 10 && memcmp(data, "-----BEGIN", 10) == 0 ? "; this is PEM" : "");
        return PFX_NOT_PKCS12;
    }
    ret = ASN1_get_object(&p, &content_len, &tag, &cls, (long)len);
    /* A header cut short, or a length announcing more than the file holds: truncation. */
    if ((ret & 0x80) && (ERR_GET_REASON(ERR_peek_last_error()) == ASN1_R_TOO_LONG ||
                         ERR_GET_REASON(ERR_peek_last_error()) == ASN1_R_HEADER_TOO_LONG)) {
        ERR_clear_error();
        errbuf_set(err, "truncated (%zu bytes, the structure announces more)", len);
        return PFX_TRUNCATED;
    }
    ERR_clear_error();
    errbuf_set(err, "not PKCS#12 (DER data of another kind)");
    return PFX_NOT_PKCS12;
}

/* ---- the cost of opening: iteration counts are attacker-chosen ------------------------------ */

struct cost {
    int64_t total;   /* iterations spent (or about to be) on this file so far */
    int parts;       /* key derivations counted in total */
    int defer_total; /* precount: sum every count first, compare the sum once at the end */
};

static enum pfx_status over_total(const struct cost *c, struct errbuf *err)
{
    errbuf_set(err,
               "too costly to open: the iteration counts add up to %lld over %d key derivations, "
               "above the %d ccs accepts for one file (each is under %d; together they cost as "
               "much as one above it)",
               (long long)c->total, c->parts, PFX_READ_ITERATIONS_TOTAL_MAX,
               PFX_READ_ITERATIONS_MAX);
    return PFX_TOO_COSTLY;
}

/* Account for one key derivation of ITER iterations for WHAT ("MAC", "private key", ...). Refuses
 * (PFX_TOO_COSTLY) above the per-count or the per-file limit, before anything is derived. */
static enum pfx_status spend(struct cost *c, const char *what, int64_t iter, struct errbuf *err)
{
    if (iter < 1)
        iter = 1; /* what OpenSSL does with 0 or a negative count */
    if (iter > PFX_READ_ITERATIONS_MAX) {
        errbuf_set(err,
                   "too costly to open: the %s iteration count is %lld, above the %d ccs "
                   "accepts (real writers use 2048 to 100000; .NET refuses above 600000)",
                   what, (long long)iter, PFX_READ_ITERATIONS_MAX);
        return PFX_TOO_COSTLY;
    }
    c->total += iter;
    c->parts++;
    if (!c->defer_total && c->total > PFX_READ_ITERATIONS_TOTAL_MAX)
        return over_total(c, err);
    return PFX_OK;
}

/* An iteration count from DER; one too large for int64 is reported as INT64_MAX (refused). */
static int64_t iteration_count(const ASN1_INTEGER *iter)
{
    int64_t n;
    if (!iter)
        return 1; /* DEFAULT 1 (RFC 7292 MacData; PBEParameter has no default) */
    if (!ASN1_INTEGER_get_int64(&n, iter)) {
        ERR_clear_error();
        return ASN1_STRING_length(iter) > 0 && !(iter->type & V_ASN1_NEG) ? INT64_MAX : 1;
    }
    return n;
}

/* Account for the key derivation of the password-based encryption ALG (a part or the key). Only
 * PBKDF2 is accepted under PBES2: scrypt's cost parameters would need limits of their own, and no
 * PFX writer we know of uses it. */
static enum pfx_status spend_on_pbe(struct cost *c, const char *what, const X509_ALGOR *alg,
                                    struct errbuf *err)
{
    const ASN1_OBJECT *obj;
    int64_t iter = 1;
    int ok = 0;

    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    if (OBJ_obj2nid(obj) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        PBKDF2PARAM *kdf = NULL;
        if (pbe2 && OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2) {
            errbuf_set(err, "not read: the %s is encrypted with key derivation %s; ccs reads "
                            "PBKDF2 only",
                       what, OBJ_nid2sn(OBJ_obj2nid(pbe2->keyfunc->algorithm)));
            PBE2PARAM_free(pbe2);
            return PFX_TOO_COSTLY;
        }
        if (pbe2)
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
        if (kdf) {
            iter = iteration_count(kdf->iter);
            ok = 1;
        }
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(pbe2);
    } else {
        PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
        if (pbe) {
            iter = iteration_count(pbe->iter);
            ok = 1;
        }
        PBEPARAM_free(pbe);
    }
    ERR_clear_error();
    if (!ok) {
        errbuf_set(err, "damaged: unreadable encryption parameters for the %s (%s)", what,
                   OBJ_nid2sn(OBJ_obj2nid(obj)));
        return PFX_DAMAGED;
    }
    return spend(c, what, iter, err);
}

/* Before any key derivation, the counts that can be read without the password: the MAC's, every
 * encrypted part's, and every key's in a part that is not encrypted (where writers put it). A
 * file over a limit is refused here at no cost, naming its whole sum. A key inside an encrypted
 * part is seen only once the part is decrypted: walk_safes counts that (and everything else again,
 * from zero), so its running total stays the one that bounds the work. */
static enum pfx_status precount(PKCS12 *p12, struct errbuf *err)
{
    struct cost c = {.defer_total = 1};
    const ASN1_INTEGER *mac_iter = NULL;
    STACK_OF(PKCS7) *safes;
    enum pfx_status status = PFX_OK;

    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &mac_iter, p12);
        if ((status = spend(&c, "MAC", iteration_count(mac_iter), err)) != PFX_OK)
            return status;
    }
    safes = PKCS12_unpack_authsafes(p12);
    for (int i = 0; status == PFX_OK && i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags;
        int nid = OBJ_obj2nid(p7->type);

        if (nid == NID_pkcs7_encrypted) {
            /* The content is OPTIONAL in the DER: when absent, walk_safes reports it. */
            if (p7->d.encrypted)
                status = spend_on_pbe(&c, "certificates", p7->d.encrypted->enc_data->algorithm,
                                      err);
            continue;
        }
        if (nid != NID_pkcs7_data || !(bags = PKCS12_unpack_p7data(p7)))
            continue; /* what cannot be read here, walk_safes reports */
        for (int j = 0; status == PFX_OK && j < sk_PKCS12_SAFEBAG_num(bags); j++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
            const X509_ALGOR *alg;
            if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
                continue;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            status = spend_on_pbe(&c, "private key", alg, err);
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    ERR_clear_error();
    if (status == PFX_OK && c.total > PFX_READ_ITERATIONS_TOTAL_MAX)
        status = over_total(&c, err);
    return status;
}

/* MAC check. *PASS_USED receives the form of the password that verified (NULL for the "no
 * password" convention that some tools use for an empty password). */
static enum pfx_status verify_mac(PKCS12 *p12, const char *password, const char **pass_used,
                                  struct cost *cost, char *mac_text, size_t mac_text_size,
                                  struct errbuf *err)
{
    const X509_ALGOR *mac_alg = NULL;
    const ASN1_INTEGER *mac_iter = NULL;
    const ASN1_OBJECT *obj;
    enum pfx_status status;

    *pass_used = password;
    if (!PKCS12_mac_present(p12)) {
        snprintf(mac_text, mac_text_size, "no MAC");
        return PFX_OK;
    }
    PKCS12_get0_mac(NULL, &mac_alg, NULL, &mac_iter, p12);
    X509_ALGOR_get0(&obj, NULL, NULL, mac_alg);
    snprintf(mac_text, mac_text_size, "MAC %s", OBJ_nid2sn(OBJ_obj2nid(obj)));
    if ((status = spend(cost, "MAC", iteration_count(mac_iter), err)) != PFX_OK)
        return status;
    ERR_clear_error();
    if (PKCS12_verify_mac(p12, password, -1))
        return PFX_OK;
    if (password[0] == '\0') {
        if ((status = spend(cost, "MAC", iteration_count(mac_iter), err)) != PFX_OK)
            return status;
        if (PKCS12_verify_mac(p12, NULL, 0)) {
            *pass_used = NULL;
            ERR_clear_error();
            return PFX_OK;
        }
    }
    /* OpenSSL 3.0 returns failure with an empty error queue when the MAC simply differs (wrong
     * password); a queued error means it could not compute the MAC at all. */
    if (ERR_peek_error() == 0 ||
        ERR_GET_REASON(ERR_peek_last_error()) == PKCS12_R_MAC_VERIFY_FAILURE) {
        ERR_clear_error();
        errbuf_set(err, "wrong password (the PFX integrity check fails with the password given)");
        return PFX_WRONG_PASSWORD;
    }
    errbuf_set_ssl(err, "damaged: cannot verify the PFX MAC (%s)", mac_text);
    return PFX_DAMAGED;
}

/* ---- walking the bags ------------------------------------------------------------------------ */

/* A bag's localKeyID, copied (NULL when it has none). */
static ASN1_OCTET_STRING *local_key_id(const PKCS12_SAFEBAG *bag)
{
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    return t && t->type == V_ASN1_OCTET_STRING ? ASN1_OCTET_STRING_dup(t->value.octet_string)
                                               : NULL;
}

struct key_item {
    EVP_PKEY *key;
    ASN1_OCTET_STRING *id;
};

struct walk {
    const char *pass;
    int passlen;
    struct cost cost;
    enum pfx_status status; /* why walk_safes failed */
    int malformed;          /* it failed on structure, not on decryption */
    STACK_OF(X509) *certs;
    ASN1_OCTET_STRING **cert_ids; /* localKeyID of certs[i], or NULL */
    int cert_id_count;            /* entries in cert_ids */
    struct key_item *keys;
    int key_count;
    struct protection key_prot, cert_prot;
    char friendly[256];
};

static void walk_free(struct walk *w)
{
    for (int i = 0; i < w->cert_id_count; i++)
        ASN1_OCTET_STRING_free(w->cert_ids[i]);
    free(w->cert_ids);
    sk_X509_pop_free_all(w->certs);
    for (int i = 0; i < w->key_count; i++) {
        EVP_PKEY_free(w->keys[i].key);
        ASN1_OCTET_STRING_free(w->keys[i].id);
    }
    free(w->keys);
}

static int add_key(struct walk *w, EVP_PKEY *key, const PKCS12_SAFEBAG *bag, struct errbuf *err)
{
    struct key_item *grown = realloc(w->keys, ((size_t)w->key_count + 1) * sizeof(*grown));

    if (!grown) {
        EVP_PKEY_free(key);
        return errbuf_set(err, "out of memory");
    }
    w->keys = grown;
    grown[w->key_count].key = key;
    grown[w->key_count].id = local_key_id(bag);
    w->key_count++;
    return 0;
}

static int add_cert(struct walk *w, X509 *cert, const PKCS12_SAFEBAG *bag, struct errbuf *err)
{
    int n = sk_X509_num(w->certs);
    ASN1_OCTET_STRING **grown = realloc(w->cert_ids, ((size_t)n + 1) * sizeof(*grown));

    if (grown)
        w->cert_ids = grown;
    if (!grown || !sk_X509_push(w->certs, cert)) {
        X509_free(cert);
        return errbuf_set(err, "out of memory");
    }
    w->cert_ids[n] = local_key_id(bag);
    w->cert_id_count = n + 1;
    return 0;
}

static int take_key_bag(struct walk *w, const PKCS12_SAFEBAG *bag, int type, struct errbuf *err)
{
    PKCS8_PRIV_KEY_INFO *p8;
    EVP_PKEY *key;

    if (type == NID_pkcs8ShroudedKeyBag) {
        const X509_ALGOR *alg;
        X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
        describe_protection(alg, &w->key_prot);
        if ((w->status = spend_on_pbe(&w->cost, "private key", alg, err)) != PFX_OK)
            return -1;
        w->status = PFX_DAMAGED;
        p8 = PKCS12_decrypt_skey_ex(bag, w->pass, w->passlen, NULL, NULL);
        if (!p8)
            return errbuf_set_ssl(err, "damaged: cannot decrypt the private key");
        key = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        snprintf(w->key_prot.text, sizeof(w->key_prot.text), "none");
        key = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
    }
    if (!key)
        return errbuf_set_ssl(err, "damaged: cannot parse the private key");
    return add_key(w, key, bag, err);
}

static int take_bag(struct walk *w, const PKCS12_SAFEBAG *bag, struct errbuf *err)
{
    int type = PKCS12_SAFEBAG_get_nid(bag);
    char *name;

    if (type == NID_pkcs8ShroudedKeyBag || type == NID_keyBag) {
        if (take_key_bag(w, bag, type, err) < 0)
            return -1;
    } else if (type == NID_certBag) {
        X509 *cert;
        if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
            return 0;
        cert = PKCS12_SAFEBAG_get1_cert(bag);
        if (!cert)
            return errbuf_set_ssl(err, "damaged: cannot parse a certificate");
        if (add_cert(w, cert, bag, err) < 0)
            return -1;
    } else {
        return 0;
    }
    name = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
    if (name && !w->friendly[0])
        snprintf(w->friendly, sizeof(w->friendly), "%s", name);
    OPENSSL_free(name);
    return 0;
}

static int walk_safes(PKCS12 *p12, struct walk *w, struct errbuf *err)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    int rc = -1;

    w->status = PFX_DAMAGED;
    if (!safes)
        return errbuf_set_ssl(err, "damaged: cannot read the PFX contents");
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        int nid = OBJ_obj2nid(p7->type);

        if (nid == NID_pkcs7_data) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (nid == NID_pkcs7_encrypted) {
            const X509_ALGOR *alg;
            if (!p7->d.encrypted) {
                w->malformed = 1;
                errbuf_set(err, "damaged: an encrypted part of the PFX has no content");
                goto out;
            }
            alg = p7->d.encrypted->enc_data->algorithm;
            describe_protection(alg, &w->cert_prot);
            if ((w->status = spend_on_pbe(&w->cost, "certificates", alg, err)) != PFX_OK)
                goto out;
            w->status = PFX_DAMAGED;
            bags = PKCS12_unpack_p7encdata(p7, w->pass, w->passlen);
        } else {
            continue;
        }
        if (!bags) {
            errbuf_set_ssl(err, "damaged: cannot %s part of the PFX",
                           nid == NID_pkcs7_encrypted ? "decrypt" : "read");
            goto out;
        }
        for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
            if (take_bag(w, sk_PKCS12_SAFEBAG_value(bags, j), err) < 0) {
                sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
                goto out;
            }
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    rc = 0;
out:
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return rc;
}

static enum pfx_format classify_format(const struct walk *w, const char *mac_text)
{
    const struct protection *k = &w->key_prot, *c = &w->cert_prot;

    if (!k->pbes2 && k->nid == NID_pbe_WithSHA1And3_Key_TripleDES_CBC && !c->pbes2 &&
        c->nid == NID_pbe_WithSHA1And3_Key_TripleDES_CBC && strcmp(mac_text, "MAC SHA1") == 0)
        return PFX_FORMAT_COMPAT;
    if (k->pbes2 && k->nid == NID_aes_256_cbc && c->pbes2 && c->nid == NID_aes_256_cbc &&
        strcmp(mac_text, "MAC SHA256") == 0)
        return PFX_FORMAT_AES256;
    if (!c->pbes2 && c->nid == NID_pbe_WithSHA1And40BitRC2_CBC)
        return PFX_FORMAT_LEGACY_RC2;
    return PFX_FORMAT_OTHER;
}

/* ---- pairing the key with its certificate ------------------------------------------------------ */

struct pair {
    int key, cert; /* indexes into walk.keys and walk.certs; key -1: no key */
    int key_matches;
    enum pfx_pairing pairing;
};

static int same_id(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
    return a && b && ASN1_OCTET_STRING_cmp(a, b) == 0;
}

static int is_ca(X509 *cert)
{
    return X509_check_ca(cert) != 0;
}

/* The pairing a reader that goes by localKeyID (Windows, Java) makes: the key/certificate pair
 * with equal ids whose key matches the certificate, a non-CA certificate first. */
static int pair_by_key_id(const struct walk *w, struct pair *out)
{
    int best_score = -1;

    for (int k = 0; k < w->key_count; k++)
        for (int c = 0; c < sk_X509_num(w->certs); c++) {
            X509 *cert = sk_X509_value(w->certs, c);
            int score;
            if (!same_id(w->keys[k].id, w->cert_ids[c]) || !key_matches_cert(w->keys[k].key, cert))
                continue;
            score = !is_ca(cert);
            if (score > best_score) {
                best_score = score;
                *out = (struct pair){k, c, 1, PFX_PAIRED};
            }
        }
    return best_score >= 0;
}

/* Without a localKeyID pair: the first certificate a key matches, and what its id says instead. */
static void pair_by_public_key(const struct walk *w, struct pair *out)
{
    int n = sk_X509_num(w->certs);

    for (int k = 0; k < w->key_count; k++)
        for (int c = 0; c < n; c++) {
            const ASN1_OCTET_STRING *id = w->keys[k].id;
            if (!key_matches_cert(w->keys[k].key, sk_X509_value(w->certs, c)))
                continue;
            *out = (struct pair){k, c, 1, PFX_PAIR_NO_KEY_ID};
            if (!id)
                return;
            for (int o = 0; o < n; o++)
                if (o != c && same_id(id, w->cert_ids[o])) {
                    out->pairing = PFX_PAIR_OTHER_CERT;
                    return;
                }
            if (w->cert_ids[c])
                out->pairing = PFX_PAIR_UNMATCHED;
            return;
        }
    /* No key matches any certificate: the first key (if any) and the first non-CA certificate. */
    *out = (struct pair){w->key_count ? 0 : -1, 0, 0, PFX_PAIR_NO_KEY};
    for (int c = n - 1; c >= 0; c--)
        if (!is_ca(sk_X509_value(w->certs, c)))
            out->cert = c;
}

/* Move the chosen key and leaf out of W into OUT; the rest of the chain follows the leaf. */
static void take_pair(struct walk *w, struct pair *p, struct pfx_decoded *out)
{
    if (!pair_by_key_id(w, p))
        pair_by_public_key(w, p);
    out->key_matches = p->key_matches;
    out->pairing = p->pairing;
    out->leaf_first = p->cert == 0;
    out->key_count = w->key_count;
    if (p->key >= 0) {
        out->bundle.key = w->keys[p->key].key;
        w->keys[p->key].key = NULL;
    }
    ASN1_OCTET_STRING_free(w->cert_ids[p->cert]);
    memmove(&w->cert_ids[p->cert], &w->cert_ids[p->cert + 1],
            (size_t)(w->cert_id_count - p->cert - 1) * sizeof(*w->cert_ids));
    w->cert_id_count--;
    out->bundle.cert = sk_X509_delete(w->certs, p->cert);
}

enum pfx_status pfx_decode(const unsigned char *data, size_t len, const char *password,
                           struct pfx_decoded *out, struct errbuf *err)
{
    const unsigned char *p = data;
    PKCS12 *p12;
    struct walk w;
    struct pair pair;
    char mac_text[64];
    enum pfx_status status;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    ERR_clear_error();
    p12 = len > 0 && len < (size_t)0x7fffffff ? d2i_PKCS12(NULL, &p, (long)len) : NULL;
    if (!p12)
        return classify_unparsable(data, len, err);
    if ((status = precount(p12, err)) != PFX_OK)
        goto out;
    status = verify_mac(p12, password, &w.pass, &w.cost, mac_text, sizeof(mac_text), err);
    if (status != PFX_OK)
        goto out;
    w.passlen = w.pass ? -1 : 0;
    snprintf(w.cert_prot.text, sizeof(w.cert_prot.text), "none");
    snprintf(w.key_prot.text, sizeof(w.key_prot.text), "none");
    w.certs = sk_X509_new_null();
    status = PFX_DAMAGED;
    if (!w.certs) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    if (walk_safes(p12, &w, err) < 0) {
        status = w.status;
        /* Without a MAC, a wrong password only shows as a decryption failure. */
        if (status == PFX_DAMAGED && !w.malformed && !PKCS12_mac_present(p12)) {
            errbuf_set(err, "wrong password (cannot decrypt the PFX with the password given)");
            status = PFX_WRONG_PASSWORD;
        }
        goto out;
    }
    if (sk_X509_num(w.certs) == 0) {
        errbuf_set(err, "holds no certificate");
        status = PFX_NO_CERT;
        goto out;
    }
    take_pair(&w, &pair, out);
    out->bundle.chain = w.certs;
    w.certs = NULL;
    pfx_order_chain(out->bundle.cert, out->bundle.chain);
    out->format = classify_format(&w, mac_text);
    snprintf(out->algorithms, sizeof(out->algorithms), "key %s, certs %s, %s", w.key_prot.text,
             w.cert_prot.text, mac_text);
    snprintf(out->friendly, sizeof(out->friendly), "%s", w.friendly);
    status = PFX_OK;
out:
    walk_free(&w);
    PKCS12_free(p12);
    ERR_clear_error();
    return status;
}
