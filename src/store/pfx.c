#include "store/pfx.h"

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
    default:
        return "no certificate";
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

/* MAC check. *PASS_USED receives the form of the password that verified (NULL for the "no
 * password" convention that some tools use for an empty password). */
static enum pfx_status verify_mac(PKCS12 *p12, const char *password, const char **pass_used,
                                  char *mac_text, size_t mac_text_size, struct errbuf *err)
{
    const X509_ALGOR *mac_alg = NULL;
    const ASN1_OBJECT *obj;

    *pass_used = password;
    if (!PKCS12_mac_present(p12)) {
        snprintf(mac_text, mac_text_size, "no MAC");
        return PFX_OK;
    }
    PKCS12_get0_mac(NULL, &mac_alg, NULL, NULL, p12);
    X509_ALGOR_get0(&obj, NULL, NULL, mac_alg);
    snprintf(mac_text, mac_text_size, "MAC %s", OBJ_nid2sn(OBJ_obj2nid(obj)));
    ERR_clear_error();
    if (PKCS12_verify_mac(p12, password, -1))
        return PFX_OK;
    if (password[0] == '\0' && PKCS12_verify_mac(p12, NULL, 0)) {
        *pass_used = NULL;
        ERR_clear_error();
        return PFX_OK;
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

struct walk {
    const char *pass;
    int passlen;
    STACK_OF(X509) *certs;
    EVP_PKEY *key;
    struct protection key_prot, cert_prot;
    char friendly[256];
};

static int take_bag(struct walk *w, const PKCS12_SAFEBAG *bag, struct errbuf *err)
{
    int type = PKCS12_SAFEBAG_get_nid(bag);
    char *name;

    if (type == NID_pkcs8ShroudedKeyBag || type == NID_keyBag) {
        PKCS8_PRIV_KEY_INFO *p8 = NULL;
        EVP_PKEY *key;
        if (w->key)
            return 0; /* IIS uses the first key; so do we */
        if (type == NID_pkcs8ShroudedKeyBag) {
            const X509_ALGOR *alg;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            describe_protection(alg, &w->key_prot);
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
        w->key = key;
    } else if (type == NID_certBag) {
        X509 *cert;
        if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
            return 0;
        cert = PKCS12_SAFEBAG_get1_cert(bag);
        if (!cert)
            return errbuf_set_ssl(err, "damaged: cannot parse a certificate");
        if (!sk_X509_push(w->certs, cert)) {
            X509_free(cert);
            return errbuf_set(err, "out of memory");
        }
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

    if (!safes)
        return errbuf_set_ssl(err, "damaged: cannot read the PFX contents");
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        int nid = OBJ_obj2nid(p7->type);

        if (nid == NID_pkcs7_data) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (nid == NID_pkcs7_encrypted) {
            describe_protection(p7->d.encrypted->enc_data->algorithm, &w->cert_prot);
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

/* The leaf is the certificate matching the key; without a match, the first that is not a CA. */
static int pick_leaf(STACK_OF(X509) *certs, EVP_PKEY *key, int *matches)
{
    *matches = 0;
    for (int i = 0; key && i < sk_X509_num(certs); i++)
        if (key_matches_cert(key, sk_X509_value(certs, i))) {
            *matches = 1;
            return i;
        }
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_check_ca(sk_X509_value(certs, i)) == 0)
            return i;
    return 0;
}

enum pfx_status pfx_decode(const unsigned char *data, size_t len, const char *password,
                           struct pfx_decoded *out, struct errbuf *err)
{
    const unsigned char *p = data;
    PKCS12 *p12;
    struct walk w;
    char mac_text[64];
    enum pfx_status status;
    int leaf;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    ERR_clear_error();
    p12 = len > 0 && len < (size_t)0x7fffffff ? d2i_PKCS12(NULL, &p, (long)len) : NULL;
    if (!p12)
        return classify_unparsable(data, len, err);
    status = verify_mac(p12, password, &w.pass, mac_text, sizeof(mac_text), err);
    if (status != PFX_OK)
        goto out;
    w.passlen = w.pass ? -1 : 0;
    snprintf(w.cert_prot.text, sizeof(w.cert_prot.text), "none");
    snprintf(w.key_prot.text, sizeof(w.key_prot.text), "none");
    w.certs = sk_X509_new_null();
    status = PFX_DAMAGED;
    if (!w.certs || walk_safes(p12, &w, err) < 0) {
        /* Without a MAC, a wrong password only shows as a decryption failure. */
        if (!PKCS12_mac_present(p12)) {
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
    leaf = pick_leaf(w.certs, w.key, &out->key_matches);
    out->bundle.cert = sk_X509_delete(w.certs, leaf);
    out->bundle.chain = w.certs;
    out->bundle.key = w.key;
    w.certs = NULL;
    w.key = NULL;
    pfx_order_chain(out->bundle.cert, out->bundle.chain);
    out->format = classify_format(&w, mac_text);
    snprintf(out->algorithms, sizeof(out->algorithms), "key %s, certs %s, %s", w.key_prot.text,
             w.cert_prot.text, mac_text);
    snprintf(out->friendly, sizeof(out->friendly), "%s", w.friendly);
    status = PFX_OK;
out:
    sk_X509_pop_free_all(w.certs);
    EVP_PKEY_free(w.key);
    PKCS12_free(p12);
    ERR_clear_error();
    return status;
}
