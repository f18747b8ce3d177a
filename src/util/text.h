/* text.h — optional strings (NULL meaning "not set"), compared and copied the same way everywhere. */
#ifndef CCS_UTIL_TEXT_H
#define CCS_UTIL_TEXT_H

#include <stdlib.h>
#include <string.h>

/* Both unset, or both set to the same text. */
static inline int text_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* *TO = a copy of FROM, or NULL when FROM is. -1 when out of memory. */
static inline int text_dup(char **to, const char *from)
{
    *to = from ? strdup(from) : NULL;
    return from && !*to ? -1 : 0;
}

#endif
