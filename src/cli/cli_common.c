#include "cli/cli.h"

#include <grp.h>
#include <locale.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "store/pfx.h"
#include "util/bytes.h"
#include "util/log.h"
#include "util/suggest.h"

int cli_load_store_password(const char *path_option, struct secret *out)
{
    struct secret_source src = {
        .what = "PFX password",
        .option = "--password-file",
        .path = path_option,
        .env_var = PFX_PASSWORD_ENV,
        .credential_name = PFX_PASSWORD_CREDENTIAL,
    };
    struct errbuf err;

    if (secret_load(&src, out, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    if (out->len == 0)
        log_warning("the store password (from %s) is empty: IIS accepts that, but anyone who can "
                    "read a store file then holds its private key",
                    out->origin);
    return 0;
}

int cli_crypto_init(void)
{
    struct errbuf err;
    if (pfx_crypto_init(&err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

void cli_print_json(json_t *j)
{
    if (!j) {
        log_error("out of memory building JSON output");
        return;
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("ccs: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return EXIT_FAILED;
}

int cli_parse_mode(const char *text, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 8);
    if (!*text || *end || v > 0777)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cli_parse_group(const char *text, long *out)
{
    struct group *g;
    char *end;
    long v = strtol(text, &end, 10);

    if (*text && !*end && v >= 0) {
        *out = v;
        return 0;
    }
    g = getgrnam(text);
    if (!g)
        return -1;
    *out = (long)g->gr_gid;
    return 0;
}

int cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO);
}

/* ---- text for terminals ---------------------------------------------------------------------- */

/* Code points that reorder or hide text: the bidirectional controls (a file name could otherwise
 * display reversed) and the Arabic letter mark. */
static int is_bidi_control(long cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* wcwidth in a UTF-8 locale, whatever the process's locale: -1 when not printable. Without a
 * C.UTF-8 locale, every code point counts as one column. */
static int code_point_width(long cp)
{
    static locale_t utf8 = (locale_t)0;
    static int tried;
    locale_t old;
    int w;

    if (!tried) {
        tried = 1;
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    if (!utf8)
        return 1;
    old = uselocale(utf8);
    w = wcwidth((wchar_t)cp);
    uselocale(old);
    return w;
}

/* Escape one character at S (N octets left) into OUT: returns the octets consumed, sets *OUT_LEN
 * and *WIDTH (display columns). */
static size_t escape_one(const char *s, size_t n, char out[16], size_t *out_len, int *width)
{
    size_t len;
    long cp = utf8_next((const unsigned char *)s, n, &len);
    int w = cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) && !is_bidi_control(cp)
                ? code_point_width(cp)
                : -1;

    if (cp == '\\') {
        *out_len = (size_t)snprintf(out, 16, "\\\\");
        *width = 2;
    } else if (cp < 0 || cp < 0x80) {
        if (w < 0) {
            *out_len = (size_t)snprintf(out, 16, "\\x%02x", (unsigned char)s[0]);
            *width = 4;
        } else {
            out[0] = s[0];
            *out_len = 1;
            *width = 1;
        }
    } else if (w < 0) {
        *out_len = (size_t)snprintf(out, 16, "\\u{%04lX}", cp);
        *width = (int)*out_len;
    } else {
        memcpy(out, s, len);
        *out_len = len;
        *width = w;
    }
    return len;
}

void cli_escape(const char *s, char *out, size_t out_size)
{
    size_t o = 0, n = strlen(s);

    if (out_size == 0)
        return;
    for (size_t i = 0; i < n;) {
        char piece[16];
        size_t piece_len;
        int w;
        i += escape_one(s + i, n - i, piece, &piece_len, &w);
        if (o + piece_len >= out_size)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
    }
    out[o] = '\0';
}

void cli_print_column(const char *s, int width)
{
    size_t n = strlen(s);
    int shown = 0;

    for (size_t i = 0; i < n;) {
        char piece[16];
        size_t piece_len;
        int w;
        i += escape_one(s + i, n - i, piece, &piece_len, &w);
        fwrite(piece, 1, piece_len, stdout);
        shown += w;
    }
    for (; shown < width; shown++)
        fputc(' ', stdout);
    fputc(' ', stdout);
}

/* ---- options ---------------------------------------------------------------------------------- */

static char option_message[1024];

/* "--stroe=x" -> "stroe"; the closest long option's name, or NULL. */
static const char *closest_option(const char *arg, const struct option *options)
{
    struct suggestion s = {NULL, 0};
    char word[SUGGEST_WORD_MAX + 1];
    size_t len;

    arg += strspn(arg, "-");
    len = strcspn(arg, "=");
    if (len == 0 || len > SUGGEST_WORD_MAX)
        return NULL;
    memcpy(word, arg, len);
    word[len] = '\0';
    for (size_t i = 0; options[i].name; i++)
        suggest_consider(&s, word, options[i].name);
    return s.best;
}

int cli_getopt(int argc, char **argv, const char *prefix, const struct option *options)
{
    const char *bad, *best;
    int c;

    opterr = 0; /* our messages, not getopt's */
    c = getopt_long(argc, argv, ":", options, NULL);
    if (c != '?' && c != ':')
        return c;
    bad = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (c == ':') {
        snprintf(option_message, sizeof(option_message), "%s %s: option \"%s\" needs a value",
                 prefix, argv[0], bad);
        return '?';
    }
    if (bad[0] != '-' || bad[1] != '-') /* a short option: none exist */
        snprintf(option_message, sizeof(option_message), "%s %s: unknown option \"-%c\"", prefix,
                 argv[0], optopt ? optopt : '?');
    else if ((best = closest_option(bad, options)) != NULL)
        snprintf(option_message, sizeof(option_message),
                 "%s %s: unknown option \"%.*s\" (did you mean \"--%s\"?)", prefix, argv[0],
                 (int)strcspn(bad, "="), bad, best);
    else
        snprintf(option_message, sizeof(option_message), "%s %s: unknown option \"%.*s\"",
                 prefix, argv[0], (int)strcspn(bad, "="), bad);
    return '?';
}

int cli_option_error(const char *usage)
{
    fprintf(stderr, "%s\nusage: %s\n", option_message, usage);
    return EXIT_FAILED;
}
