#include "cli/cli.h"

#include <locale.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "manage/ids.h"
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
    struct errbuf err;

    /* the lookup the tasks and the configuration use: reentrant, a plain number as chown(1) */
    return ids_group(text, out, &err) < 0 || *out < 0 ? -1 : 0;
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
 * and *WIDTH (display columns). KEEP_BACKSLASH: S was escaped already (a backslash starts one). */
static size_t escape_one(const char *s, size_t n, int keep_backslash, char out[16], size_t *out_len,
                         int *width)
{
    size_t len;
    long cp = utf8_next((const unsigned char *)s, n, &len);
    int w = cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) && !is_bidi_control(cp)
                ? code_point_width(cp)
                : -1;

    if (cp == '\\' && !keep_backslash) {
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

static void escape_into(const char *s, int keep_backslash, char *out, size_t out_size)
{
    size_t o = 0, n = strlen(s);

    if (out_size == 0)
        return;
    for (size_t i = 0; i < n;) {
        char piece[16];
        size_t piece_len;
        int w;
        i += escape_one(s + i, n - i, keep_backslash, piece, &piece_len, &w);
        if (o + piece_len >= out_size)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
    }
    out[o] = '\0';
}

static void print_column(const char *s, int keep_backslash, int width)
{
    size_t n = strlen(s);
    int shown = 0;

    for (size_t i = 0; i < n;) {
        char piece[16];
        size_t piece_len;
        int w;
        i += escape_one(s + i, n - i, keep_backslash, piece, &piece_len, &w);
        fwrite(piece, 1, piece_len, stdout);
        shown += w;
    }
    for (; shown < width; shown++)
        fputc(' ', stdout);
    fputc(' ', stdout);
}

void cli_escape(const char *s, char *out, size_t out_size)
{
    escape_into(s, 0, out, out_size);
}

void cli_escape_escaped(const char *s, char *out, size_t out_size)
{
    escape_into(s, 1, out, out_size);
}

void cli_print_column(const char *s, int width)
{
    print_column(s, 0, width);
}

void cli_print_column_escaped(const char *s, int width)
{
    print_column(s, 1, width);
}

/* ---- options ---------------------------------------------------------------------------------- */

#define HELP_ID (-2) /* cli_getopt's id for --help and -h: never a command's */
/* The option column of the help: wider entries put their description on the next line. */
#define HELP_OPTION_COLUMN 30

static char option_message[1024];

/* COMMAND's options as getopt_long's table, with --help added. */
static void getopt_table(const struct cli_command *command, struct option *table)
{
    size_t n = 0;

    for (const struct cli_option *o = command->options; o && o->name; o++) {
        if (n == CLI_OPTIONS_MAX - 2) {
            log_error("internal: %s has more than %d options", command->name, CLI_OPTIONS_MAX - 2);
            abort();
        }
        table[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
    }
    table[n++] = (struct option){"help", no_argument, NULL, HELP_ID};
    table[n] = (struct option){NULL, 0, NULL, 0};
}

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

/* NAME ("json=x") is a flag given a value: getopt_long reports it as unknown. */
static int takes_no_value(const char *name, const struct option *options)
{
    size_t len = strcspn(name, "=");

    for (size_t i = 0; options[i].name; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return options[i].has_arg == no_argument;
    return 0;
}

/* getopt_long takes any unambiguous abbreviation ("--key" for "--key-type"); we do not: a new
 * option would change what an abbreviation means, and the help shows whole names only. OPTION
 * was just returned: was it spelled out in full? */
static int exact_name(int argc, char **argv, const struct option *option)
{
    /* the option's word: the one before its separate value, else the last one read */
    int at = optind - 1 - (option->has_arg && optind - 1 < argc && optarg == argv[optind - 1]);
    const char *word;

    if (at < 1 || at >= argc)
        return 1;
    word = argv[at];
    if (word[0] != '-' || word[1] != '-')
        return 1;
    word += 2;
    return strncmp(word, option->name, strlen(option->name)) == 0 &&
           (word[strlen(option->name)] == '\0' || word[strlen(option->name)] == '=');
}

int cli_getopt(int argc, char **argv, const struct cli_command *command)
{
    struct option options[CLI_OPTIONS_MAX];
    const char *bad, *best;
    int c, index = 0;

    getopt_table(command, options);
    opterr = 0; /* our messages, not getopt's */
    c = getopt_long(argc, argv, ":h", options, &index);
    if (c != '?' && c != ':' && c != 'h' && c != -1 && !exact_name(argc, argv, &options[index])) {
        c = '?'; /* an abbreviation: unknown, the whole name suggested */
        bad = argv[optind - 1 - (options[index].has_arg && optarg == argv[optind - 1])];
    } else {
        bad = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    }
    if (c == HELP_ID || c == 'h') {
        cli_help(command, stdout);
        exit(0);
    }
    if (c != '?' && c != ':')
        return c;
    if (c == ':') {
        snprintf(option_message, sizeof(option_message), "ccs %s: option \"%s\" needs a value",
                 command->name, bad);
        return '?';
    }
    if (bad[0] == '-' && bad[1] == '-' && strchr(bad, '=') && takes_no_value(bad + 2, options))
        snprintf(option_message, sizeof(option_message), "ccs %s: option \"%.*s\" takes no value",
                 command->name, (int)strcspn(bad, "="), bad);
    else if (bad[0] != '-' || bad[1] != '-') /* a short option: only -h exists */
        snprintf(option_message, sizeof(option_message), "ccs %s: unknown option \"-%c\"",
                 command->name, optopt ? optopt : '?');
    else if ((best = closest_option(bad, options)) != NULL)
        snprintf(option_message, sizeof(option_message),
                 "ccs %s: unknown option \"%.*s\" (did you mean \"--%s\"?)", command->name,
                 (int)strcspn(bad, "="), bad, best);
    else
        snprintf(option_message, sizeof(option_message), "ccs %s: unknown option \"%.*s\"",
                 command->name, (int)strcspn(bad, "="), bad);
    return '?';
}

int cli_option_error(const char *usage)
{
    fprintf(stderr, "%s\nusage: %s\n", option_message, usage);
    return EXIT_FAILED;
}

/* ---- help --------------------------------------------------------------------------------------- */

/* "  --store DIR" padded to the column, then the description (on its own line when too wide). */
static void print_option(FILE *out, const char *shown, const char *help)
{
    int n = fprintf(out, "  %s", shown);
    if (n + 2 > HELP_OPTION_COLUMN)
        fprintf(out, "\n%*s", HELP_OPTION_COLUMN, "");
    else
        fprintf(out, "%*s", HELP_OPTION_COLUMN - n, "");
    fprintf(out, "%s\n", help);
}

/* TEXT's lines, each indented by two spaces. */
static void print_indented(FILE *out, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "  %.*s\n", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

void cli_help(const struct cli_command *command, FILE *out)
{
    char shown[128];

    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", command->usage, command->summary);
    for (const struct cli_option *o = command->options; o && o->name; o++) {
        snprintf(shown, sizeof(shown), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        print_option(out, shown, o->help);
    }
    print_option(out, "-h, --help", "print this help and exit");
    fprintf(out, "\nexample%s:\n", strchr(command->examples, '\n') ? "s" : "");
    print_indented(out, command->examples);
    fprintf(out, "\nThe manual: `ccs help %s` (man %s).\n", command->name, command->man);
}

void cli_verb_help(const struct cli_verb *verb, FILE *out)
{
    if (verb->command) {
        cli_help(verb->command, out);
        return;
    }
    fprintf(out, "usage: ccs %s SUB-VERB [OPTIONS]\n\n%s\n\nsub-verbs:\n", verb->name,
            verb->summary);
    for (const struct cli_subverb *s = verb->subverbs; s->command; s++)
        print_option(out, s->command->name + strlen(verb->name) + 1, s->command->summary);
    fprintf(out, "\n`ccs %s SUB-VERB --help` describes a sub-verb's options; the manual: "
                 "`ccs help %s` (man %s).\n",
            verb->name, verb->name, verb->man);
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

/* The sub-verb of VERB named NAME, or NULL. */
static const struct cli_subverb *find_subverb(const struct cli_verb *verb, const char *name)
{
    size_t skip = strlen(verb->name) + 1; /* "store list" -> "list" */

    for (const struct cli_subverb *s = verb->subverbs; s->command; s++)
        if (strcmp(s->command->name + skip, name) == 0)
            return s;
    return NULL;
}

int cli_run_verb(const struct cli_verb *verb, int argc, char **argv)
{
    const struct cli_subverb *sub;
    struct suggestion near = {NULL, 0};
    size_t skip = strlen(verb->name) + 1;

    if (verb->command)
        return verb->run(argc, argv);
    if (argc >= 2 && is_help(argv[1])) {
        cli_verb_help(verb, stdout);
        return 0;
    }
    if (argc >= 2 && (sub = find_subverb(verb, argv[1])) != NULL)
        return sub->run(argc - 1, argv + 1);
    if (argc < 2) {
        fprintf(stderr, "ccs %s: a sub-verb is needed\n", verb->name);
    } else {
        for (const struct cli_subverb *s = verb->subverbs; s->command; s++)
            suggest_consider(&near, argv[1], s->command->name + skip);
        if (near.best)
            fprintf(stderr, "ccs %s: unknown sub-verb \"%s\" (did you mean \"%s\"?)\n",
                    verb->name, argv[1], near.best);
        else
            fprintf(stderr, "ccs %s: unknown sub-verb \"%s\"\n", verb->name, argv[1]);
    }
    cli_verb_help(verb, stderr);
    return EXIT_FAILED;
}
