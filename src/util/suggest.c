#include "util/suggest.h"

#include <string.h>

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions: typing errors). */
int suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int rows[3][SUGGEST_WORD_MAX + 1]; /* rows i-2, i-1 and i, at i % 3 */

    if (la > SUGGEST_WORD_MAX || lb > SUGGEST_WORD_MAX)
        return SUGGEST_DISTANCE_MAX + 1;
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *cur = rows[i % 3], *prev = rows[(i + 2) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

/* Consider CANDIDATE for WORD; the first of equally close candidates wins. A word of three or
 * more characters that starts a candidate ("cert" for "certificate") counts as close too. */
void suggest_consider(struct suggestion *s, const char *word, const char *candidate)
{
    int d = suggest_distance(word, candidate);
    if (d > SUGGEST_DISTANCE_MAX && strlen(word) >= 3 &&
        strncmp(candidate, word, strlen(word)) == 0)
        d = SUGGEST_DISTANCE_MAX;
    if (d <= SUGGEST_DISTANCE_MAX && (!s->best || d < s->distance)) {
        s->best = candidate;
        s->distance = d;
    }
}
