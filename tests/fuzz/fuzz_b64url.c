/* libFuzzer target: b64url_encode / b64url_decode.
 * - Encoding any octets gives ceil(4n/3) characters of the base64url alphabet, and decoding that
 *   (unpadded, and padded with '=') gives the octets back: the round trip is the identity.
 * - Decoding the input as text never overruns, never claims more octets than the text can hold,
 *   rejects the standard alphabet's '+' and '/', and what it returns re-encodes and decodes to
 *   itself. With CCS_FUZZ_STRICT=1, also: only base64url text (plus trailing '=') is accepted,
 *   and it decodes to exactly floor(6 * len / 8) octets. */
#include "acme/b64url.h"
#include "fuzz.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void round_trip(const uint8_t *data, size_t size)
{
    char *enc = b64url_encode(data, size), *padded;
    size_t len, n = 12345, pad;
    unsigned char *dec;

    FUZZ_CHECK(enc != NULL);
    len = strlen(enc);
    FUZZ_CHECK(len == (size * 4 + 2) / 3);
    FUZZ_CHECK(strspn(enc, alphabet) == len);

    dec = b64url_decode(enc, &n);
    FUZZ_CHECK(dec != NULL && n == size && (size == 0 || memcmp(dec, data, size) == 0));
    free(dec);

    pad = (4 - len % 4) % 4; /* padding is tolerated */
    padded = malloc(len + pad + 1);
    FUZZ_CHECK(padded != NULL);
    memcpy(padded, enc, len);
    memset(padded + len, '=', pad);
    padded[len + pad] = '\0';
    n = 12345;
    dec = b64url_decode(padded, &n);
    FUZZ_CHECK(dec != NULL && n == size && (size == 0 || memcmp(dec, data, size) == 0));
    free(dec);
    free(padded);
    free(enc);
}

static void decode_text(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *re;
    size_t len = strlen(text), n = 12345, n2 = 12345;
    unsigned char *dec = b64url_decode(text, &n), *dec2;

    while (len > 0 && text[len - 1] == '=')
        len--;
    if (memchr(text, '+', len) || memchr(text, '/', len))
        FUZZ_CHECK(dec == NULL);
    if (dec) {
        FUZZ_CHECK(n <= (strlen(text) + 3) / 4 * 3);
        re = b64url_encode(dec, n);
        FUZZ_CHECK(re != NULL);
        dec2 = b64url_decode(re, &n2);
        FUZZ_CHECK(dec2 != NULL && n2 == n && (n == 0 || memcmp(dec2, dec, n) == 0));
        if (fuzz_strict()) {
            if (strspn(text, alphabet) != len || len % 4 == 1 || n != len * 3 / 4)
                fprintf(stderr, "\"%s\" is not base64url but decoded to %zu octets\n", text, n);
            FUZZ_CHECK(strspn(text, alphabet) == len);
            FUZZ_CHECK(len % 4 != 1);
            FUZZ_CHECK(n == len * 3 / 4);
        }
        free(dec2);
        free(re);
    }
    free(dec);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size);
    decode_text(data, size);
    return 0;
}
