/* cmd_serve.c — `ccs serve`: run the TLS terminator, or check what it would serve. Parsing and
 * printing only; the work is in src/serve. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "manage/config.h"
#include "serve/check.h"
#include "serve/serve.h"
#include "util/log.h"

#define CONFIG_ENV "CCS_CONFIG"

static const char usage[] = "ccs serve [--config FILE] [--check]";

enum { OPT_CONFIG = 256, OPT_CHECK };

static const struct cli_option options[] = {
    {"config", "FILE", OPT_CONFIG, "the configuration; default $" CONFIG_ENV ", else " CONFIG_DEFAULT_PATH},
    {"check", NULL, OPT_CHECK, "check what every host would be served, then exit (1: a problem)"},
    CLI_OPTION_END,
};

static const struct cli_command command = {
    .name = "serve",
    .usage = usage,
    .summary = "a TLS terminator serving each name's certificate from the store",
    .options = options,
    .examples = "ccs serve --check --config /etc/ccs/ccs.conf\n"
                "systemctl enable --now ccs-serve.service",
    .man = "ccs-serve",
};

const struct cli_verb cli_verb_serve = {
    .name = "serve", .man = "ccs-serve", .command = &command, .run = cmd_serve};

static int width(const struct serve_check_report *r, size_t field, size_t min)
{
    size_t w = min;

    for (size_t i = 0; i < r->count; i++) {
        const struct serve_check_row *row = &r->rows[i];
        const char *v = field == 0 ? row->host : field == 1 ? row->route : row->file;
        size_t n = strlen(*v ? v : "-");
        if (n > w)
            w = n;
    }
    return (int)w;
}

static void print_report(const struct serve_check_report *r)
{
    int wh = width(r, 0, 4), wr = width(r, 1, 5), wf = width(r, 2, 4);
    size_t bad = 0;

    printf("%-*s  %-*s  %-*s  %-8s  %s\n", wh, "HOST", wr, "ROUTE", wf, "FILE", "RULE", "RESULT");
    for (size_t i = 0; i < r->count; i++) {
        const struct serve_check_row *row = &r->rows[i];
        printf("%-*s  %-*s  %-*s  %-8s  %s\n", wh, row->host, wr, row->route, wf,
               row->file[0] ? row->file : "-", row->rule, serve_check_status_name(row->status));
        printf("    %s\n", row->detail);
        bad += row->status != CHECK_OK;
    }
    for (size_t i = 0; i < r->problem_count; i++)
        printf("problem: %s\n", r->problems[i]);
    if (bad)
        printf("%zu of %zu host%s would not get a good certificate of its own\n", bad, r->count,
               r->count == 1 ? "" : "s");
    else if (r->count)
        printf("all %zu host%s get a valid certificate of their own\n", r->count,
               r->count == 1 ? "" : "s");
}

static int check(const char *path)
{
    struct serve_check_report report;
    struct config cfg;
    struct errbuf err;
    int rc;

    if (cli_crypto_init() < 0 || serve_config_load(path, &cfg) < 0)
        return EXIT_FAILED;
    rc = serve_check(&cfg, time(NULL), &report, &err);
    config_free(&cfg);
    if (rc < 0) {
        log_error("%s", err.msg);
        return EXIT_FAILED;
    }
    print_report(&report);
    rc = serve_check_failed(&report) ? EXIT_FAILED : 0;
    serve_check_report_free(&report);
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    const char *config = getenv(CONFIG_ENV) ? getenv(CONFIG_ENV) : CONFIG_DEFAULT_PATH;
    int c, check_only = 0;

    optind = 1;
    while ((c = cli_getopt(argc, argv, &command)) != -1) {
        switch (c) {
        case OPT_CONFIG:
            config = optarg;
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        default:
            return cli_option_error(usage);
        }
    }
    if (optind < argc)
        return cli_usage_error(usage, "unexpected argument \"%s\"", argv[optind]);
    if (check_only)
        return check(config);
    return serve_run(config) == 0 ? 0 : EXIT_FAILED;
}
