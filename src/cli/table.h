/* table.h — the text tables of `ccs status`, `ccs store list`, `ccs store check` and `ccs renew`.
 *
 * Invariants:
 * - Cells are shown escaped (cli.h: cli_escape) and measured in display columns (wcwidth: 例 is
 *   two, a combining mark none), so rows line up whatever the script.
 * - On a terminal (stdout is one) every line fits its width: TIOCGWINSZ on stdout, or COLUMNS
 *   when set. Padding goes first, then the columns marked to shrink, highest `shrink` first and
 *   widest first, never below their `min`; a value cut shows an ellipsis ("…" in a UTF-8 locale,
 *   "..." otherwise) and is never cut inside a character or an escape. If the columns at their
 *   minimum still do not fit, the line itself is cut at the width, with the ellipsis.
 * - Not on a terminal (a pipe, a file, journald), nothing is cut: columns are padded to their
 *   `width` and a longer value pushes the rest of its row right, as printf("%-*s") would.
 * The JSON output (--json) never comes here. */
#ifndef CCS_CLI_TABLE_H
#define CCS_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table_column {
    const char *header; /* NULL in every column: the table has no header line */
    int width;          /* padded to at least this many columns (the last column: never padded) */
    int min;            /* on a terminal, never cut below this (0: never cut at all) */
    int shrink;         /* cut order: higher first; 0 with min 0 for a column never cut */
    int right;          /* right-aligned (numbers) */
};

struct table;

/* A table of COUNT columns; NULL when out of memory (then table_add and table_print do nothing
 * useful but are safe). */
struct table *table_new(const struct table_column *columns, size_t count);

/* One row of COUNT cells (raw text: escaped when printed). COUNT may be less than the columns:
 * its last cell then spans the rest of the line. COLOUR: an SGR sequence for the whole row
 * ("\033[1;31m"), reset at its end, or NULL. Returns -1 when out of memory. */
int table_add(struct table *t, const char *const *cells, size_t count, const char *colour);

/* Print the header (if any) and the rows to stdout, then free T. */
void table_print(struct table *t);

/* The width lines on stdout must fit: 0 (no limit) when stdout is not a terminal; else COLUMNS
 * when it is a positive number, else the terminal's width (TIOCGWINSZ), else 80. */
int cli_output_width(void);

/* S (printable UTF-8, already escaped) cut to at most WIDTH display columns into OUT, with the
 * ellipsis when it was cut. Returns the display width of OUT. */
int cli_fit(const char *s, int width, char *out, size_t out_size);

/* The display width of S (printable UTF-8, already escaped). */
int cli_text_width(const char *s);

#endif
