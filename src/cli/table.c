/* table.c — tables that fit the terminal (table.h). */
#include "cli/table.h"

#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "cli/cli.h"

/* When the terminal's width cannot be read (TIOCGWINSZ fails or says 0): the VT100's. */
#define DEFAULT_TERMINAL_WIDTH 80
/* The last column is shown on a terminal only if this many columns are left for it ("ab…"). */
#define MIN_REST_WIDTH 3
/* One cell escaped takes at most 4 octets per octet ("\xNN"; "\u{0085}" for a 2-octet C1). */
#define ESCAPED_MAX(len) (4 * (len) + 1)

struct row {
    char **cells; /* escaped */
    size_t count;
    const char *colour;
};

struct table {
    const struct table_column *columns;
    size_t column_count;
    struct row *rows;
    size_t row_count, row_cap;
    /* Not on a terminal nothing depends on the other rows (table.h): each row is printed as it is
     * added, the header before the first, and none is kept — `ccs status` of 100,000
     * certificates to a pipe holds one row, not all of them (issue 11). */
    int streaming, header_done;
};

/* ---- display width ------------------------------------------------------------------------- */

static locale_t utf8_locale(void)
{
    static locale_t utf8 = (locale_t)0;
    static int tried;
    if (!tried) {
        tried = 1;
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    return utf8;
}

/* The ellipsis of the user's locale (LC_ALL, LC_CTYPE, LANG): "…" where it is UTF-8. */
static const char *ellipsis(int *width)
{
    static const char *text;
    static int text_width;

    if (!text) {
        locale_t user = newlocale(LC_CTYPE_MASK, "", (locale_t)0);
        int utf8 = user && strcmp(nl_langinfo_l(CODESET, user), "UTF-8") == 0;
        if (user)
            freelocale(user);
        text = utf8 ? "\xe2\x80\xa6" : "...";
        text_width = utf8 ? 1 : 3;
    }
    *width = text_width;
    return text;
}

/* The unit at S that must not be split: one character, or one escape of cli_escape ("\\",
 * "\x1b", "\u{202E}": every backslash in escaped text starts one). Returns its length in octets
 * (0 at the end) and sets *WIDTH to its display columns. */
static size_t next_unit(const char *s, int *width)
{
    mbstate_t ps;
    wchar_t wc;
    size_t len;
    locale_t old, utf8 = utf8_locale();

    if (!*s)
        return 0;
    if (s[0] == '\\') {
        len = s[1] == 'u' && s[2] == '{' ? strcspn(s, "}") + (s[strcspn(s, "}")] == '}')
              : s[1] == 'x'              ? strnlen(s, 4)
                                         : strnlen(s, 2);
        *width = (int)len;
        return len;
    }
    if ((unsigned char)s[0] < 0x80) { /* ASCII: escaped text has no controls left, so printable */
        *width = 1;
        return 1;
    }
    if (!utf8) { /* no C.UTF-8: one column per code point, as cli_common.c counts */
        len = 1;
        while (((unsigned char)s[len] & 0xc0) == 0x80)
            len++;
        *width = 1;
        return len;
    }
    memset(&ps, 0, sizeof(ps));
    old = uselocale(utf8);
    len = mbrtowc(&wc, s, strlen(s), &ps);
    if (len == (size_t)-1 || len == (size_t)-2 || len == 0) {
        len = 1; /* cannot happen in escaped text; one octet, one column */
        *width = 1;
    } else {
        int w = wcwidth(wc);
        *width = w < 0 ? 1 : w;
    }
    uselocale(old);
    return len;
}

int cli_text_width(const char *s)
{
    int total = 0, w;
    size_t len;

    while ((len = next_unit(s, &w)) > 0) {
        total += w;
        s += len;
    }
    return total;
}

int cli_fit(const char *s, int width, char *out, size_t out_size)
{
    int ell_width, shown = 0, w, cut = cli_text_width(s) > width;
    const char *ell = ellipsis(&ell_width);
    size_t o = 0, len, ell_len = strlen(ell);

    if (out_size == 0)
        return 0;
    if (!cut) {
        ell_len = 0;
        ell_width = 0;
    } else if (width < ell_width) { /* no room for the ellipsis: as much of it as fits */
        ell = "...";
        ell_width = width > 0 ? width : 0;
        ell_len = (size_t)ell_width;
    }
    /* Whole units only, also when OUT is what runs out: never half a character. */
    while ((len = next_unit(s, &w)) > 0 && shown + w + ell_width <= width &&
           o + len + ell_len < out_size) {
        memcpy(out + o, s, len);
        o += len;
        shown += w;
        s += len;
    }
    if (o + ell_len < out_size) {
        memcpy(out + o, ell, ell_len);
        o += ell_len;
        shown += ell_width;
    }
    out[o] = '\0';
    return shown;
}

int cli_output_width(void)
{
    struct winsize ws;
    const char *columns = getenv("COLUMNS");
    char *end;
    long n;

    if (!isatty(STDOUT_FILENO))
        return 0;
    if (columns && *columns) {
        n = strtol(columns, &end, 10);
        if (!*end && n > 0 && n < INT_MAX)
            return (int)n;
    }
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return DEFAULT_TERMINAL_WIDTH;
}

/* ---- the table ------------------------------------------------------------------------------- */

struct table *table_new(const struct table_column *columns, size_t count)
{
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->columns = columns;
    t->column_count = count;
    t->streaming = cli_output_width() == 0;
    return t;
}

static void print_row(const struct table *t, char *const *cells, size_t count, const char *colour,
                      const int *widths, int limit, char *line, size_t line_size, char *cell,
                      size_t cell_size);

/* Octets enough for a line of T's header or of CELLS (escaped): the cells, headers, padding. */
static size_t row_line_size(const struct table *t, char *const *cells, size_t count)
{
    size_t size = 1;

    for (size_t c = 0; c < t->column_count; c++) {
        const char *h = t->columns[c].header;
        size +=
            strlen(h ? h : "") + (size_t)(t->columns[c].width > 0 ? t->columns[c].width : 0) + 1;
    }
    for (size_t c = 0; c < count; c++)
        size += strlen(cells[c]) + 1;
    return size;
}

/* Streaming (not on a terminal): print the header once, then CELLS (escaped) if COUNT, as
 * table_print would with no width limit. */
static void print_now(struct table *t, char *const *cells, size_t count, const char *colour)
{
    size_t n = t->column_count, size = row_line_size(t, cells, count);
    char *line = malloc(size), *cell = malloc(size);

    if (line && cell && n > 0) {
        int widths[n];
        char *headers[n];
        for (size_t c = 0; c < n; c++) {
            widths[c] = t->columns[c].width;
            headers[c] = (char *)(t->columns[c].header ? t->columns[c].header : "");
        }
        if (!t->header_done && t->columns[0].header)
            print_row(t, headers, n, NULL, widths, 0, line, size, cell, size);
        t->header_done = 1;
        if (count)
            print_row(t, cells, count, colour, widths, 0, line, size, cell, size);
    }
    free(line);
    free(cell);
}

int table_add(struct table *t, const char *const *cells, size_t count, const char *colour)
{
    struct row *row;

    if (!t || count == 0 || count > t->column_count)
        return -1;
    if (t->streaming) {
        char *escaped[count];
        int rc = 0;
        for (size_t i = 0; i < count; i++) {
            size_t size = ESCAPED_MAX(strlen(cells[i] ? cells[i] : ""));
            escaped[i] = malloc(size);
            if (escaped[i])
                cli_escape(cells[i] ? cells[i] : "", escaped[i], size);
            else
                rc = -1;
        }
        if (rc == 0)
            print_now(t, escaped, count, colour);
        for (size_t i = 0; i < count; i++)
            free(escaped[i]);
        return rc;
    }
    if (t->row_count == t->row_cap) {
        size_t cap = t->row_cap ? 2 * t->row_cap : 16;
        struct row *grown = realloc(t->rows, cap * sizeof(*grown));
        if (!grown)
            return -1;
        t->rows = grown;
        t->row_cap = cap;
    }
    row = &t->rows[t->row_count];
    row->cells = calloc(count, sizeof(*row->cells));
    if (!row->cells)
        return -1;
    row->count = count;
    row->colour = colour;
    t->row_count++;
    for (size_t i = 0; i < count; i++) {
        size_t size = ESCAPED_MAX(strlen(cells[i] ? cells[i] : ""));
        row->cells[i] = malloc(size);
        if (!row->cells[i])
            return -1;
        cli_escape(cells[i] ? cells[i] : "", row->cells[i], size);
    }
    return 0;
}

static int total_width(const int *widths, size_t n)
{
    int total = (int)n - 1; /* one space between columns */
    for (size_t i = 0; i < n; i++)
        total += widths[i];
    return total;
}

/* The widths of the columns on a terminal of LIMIT columns (table.h: padding first, then the
 * shrinking columns, highest `shrink` first, widest first, down to their `min`). */
static void fit_widths(const struct table *t, int limit, int *widths)
{
    size_t n = t->column_count;
    int natural[n], highest = 0;

    for (size_t c = 0; c < n; c++) {
        const struct table_column *col = &t->columns[c];
        natural[c] = col->header ? cli_text_width(col->header) : 0;
        for (size_t r = 0; r < t->row_count; r++) {
            const struct row *row = &t->rows[r];
            int w;
            if (c >= row->count || (c + 1 == row->count && row->count < n))
                continue; /* absent, or spanning the rest */
            w = cli_text_width(row->cells[c]);
            if (w > natural[c])
                natural[c] = w;
        }
        widths[c] = c + 1 < n && col->width > natural[c] ? col->width : natural[c];
        if (col->shrink > highest)
            highest = col->shrink;
    }
    if (total_width(widths, n) <= limit)
        return;
    memcpy(widths, natural, sizeof(natural)); /* the padding goes first */
    for (int level = highest; level > 0; level--) {
        int excess = total_width(widths, n) - limit;
        while (excess > 0) {
            size_t widest = n;
            for (size_t c = 0; c < n; c++)
                if (t->columns[c].shrink == level && widths[c] > t->columns[c].min &&
                    (widest == n || widths[c] > widths[widest]))
                    widest = c;
            if (widest == n)
                break;
            widths[widest]--;
            excess--;
        }
    }
}

/* Append S to LINE (size SIZE, used *O). */
static void put(char *line, size_t size, size_t *o, const char *s, size_t len)
{
    if (*o + len >= size)
        len = *o < size - 1 ? size - 1 - *o : 0;
    memcpy(line + *o, s, len);
    *o += len;
    line[*o] = '\0';
}

static void put_spaces(char *line, size_t size, size_t *o, int count)
{
    for (int i = 0; i < count; i++)
        put(line, size, o, " ", 1);
}

/* Print CELLS (COUNT of them) in the columns of WIDTHS; LIMIT 0: nothing is cut. */
static void print_row(const struct table *t, char *const *cells, size_t count, const char *colour,
                      const int *widths, int limit, char *line, size_t line_size, char *cell,
                      size_t cell_size)
{
    size_t o = 0;
    int at = 0;

    line[0] = '\0';
    for (size_t c = 0; c < count; c++) {
        const struct table_column *col = &t->columns[c];
        int last = c + 1 == count, spans = last && count < t->column_count;
        int rest = spans || c + 1 == t->column_count;
        int room = rest ? (limit ? limit - at : INT_MAX) : widths[c];
        int w, pad;
        const char *text;

        /* Columns that do not fit even at their minimum are left out, from the right: the header
         * says which are shown. The first is always shown (cut with the line, below). */
        if (limit && c > 0 && (rest ? room < MIN_REST_WIDTH : at + widths[c] > limit))
            break;
        w = limit ? cli_fit(cells[c], room, cell, cell_size) : cli_text_width(cells[c]);
        text = limit ? cell : cells[c];
        pad = last ? 0 : widths[c] - w;

        if (col->right)
            put_spaces(line, line_size, &o, pad);
        put(line, line_size, &o, text, strlen(text));
        if (!col->right)
            put_spaces(line, line_size, &o, pad);
        at += w + (pad > 0 ? pad : 0);
        if (!last) {
            put(line, line_size, &o, " ", 1);
            at++;
        }
    }
    while (limit && o > 0 && line[o - 1] == ' ') /* a column left out leaves its separator */
        line[--o] = '\0';
    if (limit && at > limit) /* the first column alone does not fit: cut the line */
        cli_fit(line, limit, cell, cell_size);
    else
        snprintf(cell, cell_size, "%s", line);
    if (colour)
        printf("%s%s\033[0m\n", colour, cell);
    else
        printf("%s\n", cell);
}

/* Octets enough for any line of T: every cell, header and padding of it. */
static size_t line_size_for(const struct table *t)
{
    size_t size = row_line_size(t, NULL, 0);

    for (size_t r = 0; r < t->row_count; r++)
        for (size_t c = 0; c < t->rows[r].count; c++)
            size += strlen(t->rows[r].cells[c]) + 1;
    return size;
}

static void table_free(struct table *t)
{
    for (size_t r = 0; r < t->row_count; r++) {
        for (size_t c = 0; c < t->rows[r].count; c++)
            free(t->rows[r].cells[c]);
        free(t->rows[r].cells);
    }
    free(t->rows);
    free(t);
}

void table_print(struct table *t)
{
    size_t n, size;
    int limit = cli_output_width();
    char *line, *cell;

    if (!t)
        return;
    if (t->streaming) {
        if (!t->header_done)
            print_now(t, NULL, 0, NULL);
        table_free(t);
        return;
    }
    n = t->column_count;
    size = line_size_for(t);
    line = malloc(size);
    cell = malloc(size);
    if (line && cell && n > 0) {
        int widths[n];
        char *headers[n];
        if (limit)
            fit_widths(t, limit, widths);
        for (size_t c = 0; c < n; c++) {
            if (!limit)
                widths[c] = t->columns[c].width;
            headers[c] = (char *)(t->columns[c].header ? t->columns[c].header : "");
        }
        if (t->columns[0].header) /* the headers are ours: plain ASCII, nothing to escape */
            print_row(t, headers, n, NULL, widths, limit, line, size, cell, size);
        for (size_t r = 0; r < t->row_count; r++)
            print_row(t, t->rows[r].cells, t->rows[r].count, t->rows[r].colour, widths, limit, line,
                      size, cell, size);
    }
    free(line);
    free(cell);
    table_free(t);
}
