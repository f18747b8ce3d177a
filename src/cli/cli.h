/* cli.h — shared pieces of the command-line verbs: parsing and printing only. */
#ifndef CCS_CLI_H
#define CCS_CLI_H

#include <jansson.h>

#include "util/secret.h"

/* Exit codes, as OpenBSD acme-client: scripts can tell "changed" from "nothing to do". */
#define EXIT_CHANGED 0
#define EXIT_FAILED 1
#define EXIT_UNCHANGED 2

/* Where the store-wide PFX password comes from (never argv): --password-file, then the environment
 * variable, then the systemd credential. */
#define PFX_PASSWORD_ENV "CCS_PFX_PASSWORD_FILE"
#define PFX_PASSWORD_CREDENTIAL "ccs-pfx-password"

int cmd_deploy(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_account(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Load the store password; warns when it is empty (IIS allows that, but anyone holding a file then
 * holds the key). Returns -1 after printing the error. */
int cli_load_store_password(const char *path_option, struct secret *out);

/* Initialise crypto or print why not. */
int cli_crypto_init(void);

/* Print J to stdout, indented, with a newline; frees J. */
void cli_print_json(json_t *j);

/* Print "ccs VERB: message" for a usage error, the usage line, and return EXIT_FAILED. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long with ccs's messages, for every verb: no short options; an unknown option, or one
 * missing its value, is described naming the command — PREFIX and ARGV[0], e.g. "ccs store" +
 * "list" — with the closest valid option suggested (the configuration checker's suggestions,
 * util/suggest.h). Returns what getopt_long returns, '?' for any error; then call
 * cli_option_error() to print it with the usage. */
struct option;
int cli_getopt(int argc, char **argv, const char *prefix, const struct option *options);
/* Print the message of the last failed cli_getopt() and USAGE; returns EXIT_FAILED. */
int cli_option_error(const char *usage);

/* Parse an octal file mode ("0640") or a group (name or number). */
int cli_parse_mode(const char *text, unsigned *out);
int cli_parse_group(const char *text, long *out);

/* Nonzero when stdout is a terminal (for colour and alignment choices). */
int cli_stdout_is_tty(void);

/* ---- text for terminals ----------------------------------------------------------------------
 * File names and certificate fields come from whoever wrote the store: printed raw, an escape
 * sequence in a file name could recolour the terminal or fake whole lines. Text output shows them
 * escaped: C0 and C1 controls, DEL, bytes that are not UTF-8 as \xNN; bidirectional controls and
 * other non-printable code points as \u{XXXX}; a backslash as \\. Everything else (bücher, 例え)
 * is printed as is. Columns are padded by display width (wcwidth), not bytes or code points. */

/* S escaped into OUT (always NUL-terminated, cut at a character boundary when too long). */
void cli_escape(const char *s, char *out, size_t out_size);
/* Print S escaped, left-aligned in WIDTH columns, then one space. */
void cli_print_column(const char *s, int width);

#endif
