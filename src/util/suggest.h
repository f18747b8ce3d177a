/* suggest.h — "did you mean": the closest known word to a mistyped one. Shared by the configuration
 * checker (keys, sections, values, names) and the command line (options), so both suggest alike. */
#ifndef CCS_UTIL_SUGGEST_H
#define CCS_UTIL_SUGGEST_H

/* The closest known word at most this many edits away (typing errors: one or two slips). */
#define SUGGEST_DISTANCE_MAX 2
/* Words longer than this are never close to anything (and cost nothing to compare). */
#define SUGGEST_WORD_MAX 128

struct suggestion {
    const char *best; /* NULL: nothing close */
    int distance;
};

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), or
 * SUGGEST_DISTANCE_MAX + 1 for words longer than SUGGEST_WORD_MAX. */
int suggest_distance(const char *a, const char *b);

/* Consider CANDIDATE for WORD; the first of equally close candidates wins. A word of three or more
 * characters that starts a candidate ("cert" for "certificate") counts as close too. */
void suggest_consider(struct suggestion *s, const char *word, const char *candidate);

#endif
