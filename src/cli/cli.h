/* cli.h — shared pieces of the command-line verbs: parsing and printing only. */
#ifndef CCS_CLI_H
#define CCS_CLI_H

#include <stdio.h>

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
/* --password-file in the help of every verb that takes it. */
#define PFX_PASSWORD_FILE_HELP "the store password; else $" PFX_PASSWORD_ENV " (ccs(1), SECRETS)"

/* The verbs without sub-verbs (the others are in their struct cli_verb, below). */
int cmd_deploy(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_status(int argc, char **argv);
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

/* ---- commands, options and their help -------------------------------------------------------
 * Every command's options are one table of struct cli_option: cli_getopt() parses with it and
 * cli_help() prints it, so the help never names an option the parser refuses, and the parser
 * takes no option the help does not describe. --help and -h are every command's, added by both. */
struct cli_option {
    const char *name; /* the long option, without "--" */
    const char *arg;  /* the name of its value in the help ("FILE"); NULL for a flag */
    int id;           /* what cli_getopt() returns for it */
    const char *help; /* one line: what it does, and its default */
};
#define CLI_OPTION_END {NULL, NULL, 0, NULL}
/* A numeric macro's value as a string, for help text ("default " CLI_STR(RENEW_DEFAULT_JOBS)). */
#define CLI_STR(x) CLI_STR_(x)
#define CLI_STR_(x) #x
/* Room for the longest table (cert request: 14 of its own, 10 ACME options) and --help. */
#define CLI_OPTIONS_MAX 40

/* One command: a verb without sub-verbs ("renew"), or a verb's sub-verb ("store list"). */
struct cli_command {
    const char *name;     /* after "ccs ": "store list" */
    const char *usage;    /* synopsis lines, each starting "ccs " */
    const char *summary;  /* one line: what it does */
    const struct cli_option *options; /* ends with CLI_OPTION_END */
    const char *examples; /* one or more lines, each a command to copy */
    const char *man;      /* its page, "ccs-store" */
};

/* A verb's sub-verb and what runs it (with ARGV[0] the sub-verb). */
struct cli_subverb {
    const struct cli_command *command;
    int (*run)(int argc, char **argv);
};

/* A verb: either one command, run with ARGV[0] the verb, or sub-verbs. */
struct cli_verb {
    const char *name;    /* "store" */
    const char *summary; /* one line, for `ccs --help` */
    const char *man;     /* "ccs-store" */
    const struct cli_command *command;  /* no sub-verbs: the verb's own ... */
    int (*run)(int argc, char **argv);  /* ... and what runs it */
    const struct cli_subverb *subverbs; /* or its sub-verbs, ending with {NULL, NULL} */
};

/* Every verb, in the order `ccs --help` lists them (main.c). */
extern const struct cli_verb cli_verb_deploy, cli_verb_store, cli_verb_account, cli_verb_cert,
    cli_verb_renew, cli_verb_status, cli_verb_task, cli_verb_config, cli_verb_serve;

/* Print COMMAND's help: usage, summary, each option with its description, examples, its page. */
void cli_help(const struct cli_command *command, FILE *out);
/* Print a verb's help: its sub-verbs, each with its summary (a verb without: its command's). */
void cli_verb_help(const struct cli_verb *verb, FILE *out);
/* Run VERB with ARGV[0] the verb: its command, or the sub-verb ARGV[1] names. `VERB --help` and
 * `VERB help` print the verb's help (exit 0); a missing or unknown sub-verb is an error naming the
 * verb, with the nearest sub-verb suggested (util/suggest.h), and the verb's help on stderr. */
int cli_run_verb(const struct cli_verb *verb, int argc, char **argv);

/* getopt_long over COMMAND's options, with ccs's messages: no short options but -h; --help or -h
 * prints the command's help to stdout and exits 0; an unknown option, or one missing its value,
 * is described naming the command ("ccs store list: ...") with the closest valid option
 * suggested (the configuration checker's suggestions, util/suggest.h). Returns the option's id,
 * -1 at the end, '?' for any error; then call cli_option_error() to print it with the usage. */
int cli_getopt(int argc, char **argv, const struct cli_command *command);
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
/* The same two for text the store library has already escaped for printing (a rejected name and
 * the message quoting it: store_name_escape writes \xNN itself): a backslash is kept as it is, so
 * an escape is not shown twice; controls and bidirectional overrides are still escaped. */
void cli_escape_escaped(const char *s, char *out, size_t out_size);
void cli_print_column_escaped(const char *s, int width);

#endif
