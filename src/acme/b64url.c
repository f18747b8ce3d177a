#include "acme/b64url.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

char *b64url_encode(const unsigned char *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);
    int n;

    if (!out || len > 0x7fffffff)
        return free(out), NULL;
    n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

unsigned char *b64url_decode(const char *text, size_t *out_len)
{
    size_t len = strlen(text), padded;
    char *std;
    unsigned char *out;
    int n;

    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1 || len > 0x3fffffff)
        return NULL;
    padded = (len + 3) / 4 * 4;
    std = malloc(padded + 1);
    out = malloc(padded / 4 * 3 + 1);
    if (!std || !out)
        goto fail;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        /* Only the base64url alphabet: not base64's '+' '/', and not what EVP_DecodeBlock would
         * otherwise let through (leading/trailing whitespace, '=' decoded as zero bits). */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            goto fail;
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    memset(std + len, '=', padded - len);
    std[padded] = '\0';
    n = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    if (n < 0)
        goto fail;
    /* EVP_DecodeBlock counts the padding as zero octets; drop them. */
    n -= (int)(padded - len);
    free(std);
    *out_len = (size_t)n;
    return out;
fail:
    free(std);
    free(out);
    return NULL;
}
