/* Unit tests for src/cli/table.c: display widths and cuts that fit a terminal. The cut never
 * splits a character or one of cli_escape's escapes, and ends with the ellipsis of the locale
 * (the tests run in C.UTF-8: "…", one column). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/table.h"

static void test_text_width(void **state)
{
    static const struct {
        const char *text;
        int width;
    } cases[] = {
        {"", 0},
        {"www.example.com", 15},
        {"bücher", 6},
        {"例え.example", 12}, /* East Asian wide: two columns each */
        {"e\xcc\x81tude", 5}, /* a combining acute accent takes none */
        {"\\x1b[2J", 7},      /* escaped text: the escape is four columns as shown */
        {"rlo\\u{202E}xfp", 14},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (cli_text_width(cases[i].text) != cases[i].width)
            fail_msg("\"%s\": width %d, want %d", cases[i].text, cli_text_width(cases[i].text),
                     cases[i].width);
}

static void test_fit(void **state)
{
    static const struct {
        const char *text;
        int width;
        const char *want;
    } cases[] = {
        {"abcdef", 6, "abcdef"}, /* fits: whole, no ellipsis */
        {"abcdef", 9, "abcdef"},
        {"abcdef", 5, "abcd…"},
        {"abcdef", 1, "…"},
        {"abcdef", 0, ""},
        {"例え例え", 5, "例え…"}, /* 2 + 2 + 1 */
        {"例え例え", 4, "例…"},   /* 例え… would be 5: never half a character */
        {"例え例え", 2, "…"},
        {"bücher.example", 4, "büc…"},
        {"e\xcc\x81tude", 3, "e\xcc\x81t…"}, /* the accent stays with its letter */
        {"a\\x1bcd", 5, "a…"}, /* "\x1b" is one unit of four columns: whole or not at all */
        {"a\\x1bcd", 6, "a\\x1b…"},
        {"\\\\server", 3, "\\\\…"}, /* an escaped backslash is one unit of two */
        {"x\\u{202E}y", 9, "x…"},
        {"x\\u{202E}y", 10, "x\\u{202E}y"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int shown = cli_fit(cases[i].text, cases[i].width, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("\"%s\" in %d columns: \"%s\", want \"%s\"", cases[i].text, cases[i].width,
                     out, cases[i].want);
        if (shown != cli_text_width(out) || shown > cases[i].width)
            fail_msg("\"%s\" in %d columns: says %d columns for \"%s\"", cases[i].text,
                     cases[i].width, shown, out);
    }
}

/* A buffer too small for the cut: still a whole character and a terminated string. */
static void test_fit_small_buffer(void **state)
{
    char out[5];

    (void)state;
    cli_fit("例え例え例え", 12, out, sizeof(out)); /* fits the width, not the buffer */
    assert_string_equal(out, "例");
    cli_fit("例え例え例え", 8, out, sizeof(out));
    assert_string_equal(out, "…"); /* 例 and … are 6 octets: the ellipsis alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_fit_small_buffer),
    };
    /* The ellipsis follows the user's locale; these expectations are UTF-8's. */
    setenv("LC_ALL", "C.UTF-8", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
