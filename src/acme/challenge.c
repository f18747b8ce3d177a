/* challenge.c — what the challenge solvers share (challenge.h): the token check. */
#include "acme/challenge.h"

#include <string.h>

/* RFC 4648 §5 */
#define BASE64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

int challenge_token_is_valid(const char *token)
{
    size_t len;

    if (!token)
        return 0;
    len = strlen(token);
    return len > 0 && len <= CHALLENGE_TOKEN_MAX_LEN && strspn(token, BASE64URL_ALPHABET) == len;
}
