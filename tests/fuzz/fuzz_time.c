/* libFuzzer target: acme_parse_time, the RFC 3339 reader behind every "expires" and renewal
 * window. Besides memory safety (the input is a NUL-terminated heap copy, so ASan sees any read
 * past its end), a differential check: every well-formed RFC 3339 date-time with an upper-case
 * 'T' must be accepted and give the time computed here independently. With CCS_FUZZ_STRICT=1,
 * also: nothing outside the grammar is accepted. */
#include "fuzz.h"

static int num(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* RFC 3339 §5.6 date-time. Returns 0 when S is not one; 1 (upper-case 'T') or 2 (lower-case 't',
 * which §5.6 allows) when it is, with the instant in *WANT. */
static int rfc3339(const char *s, time_t *want)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, kind;
    const char *p;

    if (strlen(s) < 20 || !num(s, 4, &y) || s[4] != '-' || !num(s + 5, 2, &mo) || s[7] != '-' ||
        !num(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !num(s + 11, 2, &h) ||
        s[13] != ':' || !num(s + 14, 2, &mi) || s[16] != ':' || !num(s + 17, 2, &sec))
        return 0;
    kind = s[10] == 'T' ? 1 : 2;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
        return 0;
    p = s + 19;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!num(p + 1, 2, &oh) || p[3] != ':' || !num(p + 4, 2, &om) || oh > 23 || om > 59)
            return 0;
        p += 6;
    } else {
        return 0;
    }
    if (*p != '\0')
        return 0;
    *want = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                     sign * (oh * 3600 + om * 60));
    return kind;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    time_t got = 12345, want = 0;
    int rc = acme_parse_time(text, &got);
    int kind = rfc3339(text, &want);

    FUZZ_CHECK(rc == 0 || rc == -1);
    if (kind == 1) {
        if (rc != 0 || got != want)
            fprintf(stderr, "\"%s\": rc %d, got %lld, want %lld\n", text, rc, (long long)got,
                    (long long)want);
        FUZZ_CHECK(rc == 0 && got == want);
    }
    if (fuzz_strict() && rc == 0 && kind == 0) {
        fprintf(stderr, "\"%s\" is not RFC 3339 but was accepted as %lld\n", text, (long long)got);
        FUZZ_CHECK(!"accepted outside RFC 3339");
    }
    free(text);
    return 0;
}
