#include "acme/jws.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "acme/b64url.h"

/* Size of one coordinate (and of r and s) for the curves ACME uses. */
static int ec_field_bytes(EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);
    return bits == 256 ? 32 : bits == 384 ? 48 : -1;
}

const char *jws_alg(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "RSA"))
        return "RS256";
    if (EVP_PKEY_is_a(key, "EC"))
        return ec_field_bytes(key) == 32 ? "ES256" : ec_field_bytes(key) == 48 ? "ES384" : NULL;
    return NULL;
}

static const EVP_MD *alg_digest(const char *alg)
{
    return strcmp(alg, "ES384") == 0 ? EVP_sha384() : EVP_sha256();
}

/* A big-number parameter of KEY as base64url; PAD > 0 left-pads to that many octets. */
static char *bn_param_b64(EVP_PKEY *key, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    char *out = NULL;

    if (!EVP_PKEY_get_bn_param(key, param, &bn))
        return NULL;
    n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    if (n > 0 && (size_t)BN_num_bytes(bn) <= sizeof(buf))
        out = b64url_encode(buf, (size_t)n);
    BN_free(bn);
    return out;
}

json_t *jws_jwk(EVP_PKEY *key, struct errbuf *err)
{
    json_t *jwk = NULL;
    char *a = NULL, *b = NULL;

    if (EVP_PKEY_is_a(key, "RSA")) {
        a = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
        b = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
        if (a && b)
            jwk = json_pack("{s:s, s:s, s:s}", "e", b, "kty", "RSA", "n", a);
    } else if (jws_alg(key)) {
        int size = ec_field_bytes(key);
        a = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, size);
        b = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
        if (a && b)
            jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", size == 32 ? "P-256" : "P-384", "kty",
                            "EC", "x", a, "y", b);
    }
    free(a);
    free(b);
    if (!jwk)
        errbuf_set_ssl(err, "cannot express the account key as a JWK (ACME takes P-256, P-384 or "
                            "RSA keys)");
    return jwk;
}

char *jws_thumbprint(EVP_PKEY *key, struct errbuf *err)
{
    json_t *jwk = jws_jwk(key, err);
    char *canonical, *out = NULL;
    unsigned char md[32];

    if (!jwk)
        return NULL;
    /* RFC 7638 §3: members in lexicographic order, no whitespace — what jansson's sorted compact
     * dump produces for these ASCII-only members. */
    canonical = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (canonical && EVP_Digest(canonical, strlen(canonical), md, NULL, EVP_sha256(), NULL))
        out = b64url_encode(md, sizeof(md));
    free(canonical);
    if (!out)
        errbuf_set_ssl(err, "cannot compute the JWK thumbprint");
    return out;
}

/* JWS signature over INPUT: RSASSA-PKCS1-v1_5 for RSA, and for ECDSA the fixed-size r||s that
 * RFC 7518 §3.4 requires instead of OpenSSL's DER. */
static char *sign_b64(EVP_PKEY *key, const char *alg, const char *input, struct errbuf *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL, raw[2 * 66];
    size_t sig_len = 0;
    char *out = NULL;

    if (!ctx || EVP_DigestSignInit(ctx, NULL, alg_digest(alg), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) != 1 ||
        !(sig = OPENSSL_malloc(sig_len)) ||
        EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input)) != 1) {
        errbuf_set_ssl(err, "cannot sign the ACME request");
        goto out;
    }
    if (alg[0] == 'E') {
        const unsigned char *p = sig;
        ECDSA_SIG *ec = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
        int size = ec_field_bytes(key);
        if (!ec || BN_bn2binpad(ECDSA_SIG_get0_r(ec), raw, size) != size ||
            BN_bn2binpad(ECDSA_SIG_get0_s(ec), raw + size, size) != size) {
            ECDSA_SIG_free(ec);
            errbuf_set_ssl(err, "cannot convert the ECDSA signature");
            goto out;
        }
        ECDSA_SIG_free(ec);
        out = b64url_encode(raw, 2 * (size_t)size);
    } else {
        out = b64url_encode(sig, sig_len);
    }
out:
    OPENSSL_free(sig);
    EVP_MD_CTX_free(ctx);
    return out;
}

/* Assemble {"protected","payload","signature"} from a header and payload, signing with SIGN. */
static json_t *assemble(json_t *protected_header, const char *payload,
                        char *(*sign)(const void *ctx, const char *alg, const char *input,
                                      struct errbuf *err),
                        const void *ctx, const char *alg, struct errbuf *err)
{
    char *header_text = json_dumps(protected_header, JSON_COMPACT);
    char *header_b64 = NULL, *payload_b64 = NULL, *input = NULL, *signature = NULL;
    json_t *jws = NULL;

    if (!header_text)
        goto oom;
    header_b64 = b64url_encode((const unsigned char *)header_text, strlen(header_text));
    payload_b64 = b64url_encode((const unsigned char *)(payload ? payload : ""),
                                payload ? strlen(payload) : 0);
    if (!header_b64 || !payload_b64)
        goto oom;
    input = malloc(strlen(header_b64) + strlen(payload_b64) + 2);
    if (!input)
        goto oom;
    strcpy(input, header_b64);
    strcat(input, ".");
    strcat(input, payload_b64);
    signature = sign(ctx, alg, input, err);
    if (signature)
        jws = json_pack("{s:s, s:s, s:s}", "protected", header_b64, "payload", payload_b64,
                        "signature", signature);
    goto out;
oom:
    errbuf_set(err, "out of memory signing an ACME request");
out:
    free(header_text);
    free(header_b64);
    free(payload_b64);
    free(input);
    free(signature);
    return jws;
}

static char *sign_with_key(const void *ctx, const char *alg, const char *input, struct errbuf *err)
{
    return sign_b64((EVP_PKEY *)ctx, alg, input, err);
}

json_t *jws_sign_protected(EVP_PKEY *key, json_t *protected_header, const char *payload,
                           struct errbuf *err)
{
    const char *alg = jws_alg(key);
    if (!alg) {
        errbuf_set(err, "unsupported account key type");
        return NULL;
    }
    json_object_set_new(protected_header, "alg", json_string(alg));
    return assemble(protected_header, payload, sign_with_key, key, alg, err);
}

char *jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
               const char *payload, struct errbuf *err)
{
    json_t *header = json_pack("{s:s, s:s}", "nonce", nonce, "url", url), *jws;
    char *text = NULL;

    if (!header)
        return errbuf_set(err, "out of memory"), NULL;
    if (kid) {
        json_object_set_new(header, "kid", json_string(kid));
    } else {
        json_t *jwk = jws_jwk(key, err);
        if (!jwk) {
            json_decref(header);
            return NULL;
        }
        json_object_set_new(header, "jwk", jwk);
    }
    jws = jws_sign_protected(key, header, payload, err);
    json_decref(header);
    if (jws)
        text = json_dumps(jws, JSON_COMPACT);
    json_decref(jws);
    return text;
}

struct hmac_ctx {
    const unsigned char *key;
    size_t key_len;
};

static char *sign_hmac(const void *ctx, const char *alg, const char *input, struct errbuf *err)
{
    const struct hmac_ctx *h = ctx;
    const char *digest = strcmp(alg, "HS512") == 0   ? "SHA512"
                         : strcmp(alg, "HS384") == 0 ? "SHA384"
                                                     : "SHA256";
    unsigned char mac[64];
    size_t mac_len = 0;

    if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, h->key, h->key_len,
                   (const unsigned char *)input, strlen(input), mac, sizeof(mac), &mac_len)) {
        errbuf_set_ssl(err, "cannot compute the external account binding MAC");
        return NULL;
    }
    return b64url_encode(mac, mac_len);
}

json_t *jws_eab(const char *kid, const unsigned char *hmac_key, size_t hmac_key_len,
                const char *alg, EVP_PKEY *account_key, const char *url, struct errbuf *err)
{
    struct hmac_ctx h = {hmac_key, hmac_key_len};
    json_t *jwk, *header, *jws;
    char *payload;

    if (strcmp(alg, "HS256") && strcmp(alg, "HS384") && strcmp(alg, "HS512")) {
        errbuf_set(err, "external account binding: unsupported MAC algorithm %s", alg);
        return NULL;
    }
    jwk = jws_jwk(account_key, err);
    if (!jwk)
        return NULL;
    payload = json_dumps(jwk, JSON_COMPACT);
    json_decref(jwk);
    header = json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", kid, "url", url);
    jws = header && payload ? assemble(header, payload, sign_hmac, &h, alg, err) : NULL;
    json_decref(header);
    free(payload);
    return jws;
}
