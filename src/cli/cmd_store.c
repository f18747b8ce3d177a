/* cmd_store.c — `ccs store list | lookup HOST | check`: what a server would serve, and why not. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/check.h"
#include "store/inspect.h"
#include "store/lookup.h"
#include "util/log.h"

static const char usage[] =
    "ccs store list --store DIR [--password-file FILE] [--json]\n"
    "       ccs store lookup HOST --store DIR [--password-file FILE] [--json]\n"
    "       ccs store check --store DIR [--password-file FILE] [--warn-days N] [--json]";

struct store_args {
    const char *store, *password_file, *host;
    int json, warn_days;
};

enum { OPT_STORE = 256, OPT_PASSWORD_FILE, OPT_JSON, OPT_WARN_DAYS, OPT_HELP };

static const struct option options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"warn-days", required_argument, NULL, OPT_WARN_DAYS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_args(int argc, char **argv, int want_host, struct store_args *a)
{
    char *end;
    int c;

    memset(a, 0, sizeof(*a));
    a->warn_days = CHECK_DEFAULT_WARN_DAYS;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case OPT_STORE: a->store = optarg; break;
        case OPT_PASSWORD_FILE: a->password_file = optarg; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_WARN_DAYS:
            a->warn_days = (int)strtol(optarg, &end, 10);
            if (!*optarg || *end || a->warn_days < 0 || a->warn_days > 3650)
                return cli_usage_error(usage, "--warn-days: \"%s\" is not a number of days",
                                       optarg);
            break;
        case OPT_HELP:
            printf("usage: %s\n", usage);
            exit(0);
        default:
            return cli_usage_error(usage, "unknown option");
        }
    }
    if (want_host) {
        if (optind >= argc)
            return cli_usage_error(usage, "lookup needs a HOST");
        a->host = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(usage, "unexpected argument \"%s\"", argv[optind]);
    if (!a->store)
        return cli_usage_error(usage, "--store is required");
    return 0;
}

/* Print S left-aligned in WIDTH columns. printf's %-Ns counts bytes; a Unicode host name
 * (bücher.example) would misalign the table, so count code points. */
static void print_column(const char *s, int width)
{
    int points = 0;
    for (const char *p = s; *p; p++)
        points += ((unsigned char)*p & 0xc0) != 0x80;
    fputs(s, stdout);
    for (; points < width; points++)
        fputc(' ', stdout);
    fputc(' ', stdout);
}

/* ---- summaries shared by list and lookup --------------------------------------------------- */

static void sans_text(const struct pfx_inspection *insp, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < insp->names.count && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "", insp->names.names[i].unicode);
    for (size_t i = 0; i < insp->names.ip_count && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%s%s", o ? "," : "", insp->names.ips[i]);
}

static json_t *summary_json(const char *file, const struct pfx_inspection *insp, time_t now)
{
    json_t *sans;
    char when[32];

    if (insp->status != PFX_OK)
        return json_pack("{s:s, s:s, s:s}", "file", file, "status", pfx_status_text(insp->status),
                         "error", insp->error);
    sans = json_array();
    for (size_t i = 0; i < insp->names.count; i++)
        json_array_append_new(sans, json_string(insp->names.names[i].unicode));
    for (size_t i = 0; i < insp->names.ip_count; i++)
        json_array_append_new(sans, json_string(insp->names.ips[i]));
    format_utc(insp->summary.not_after, when, sizeof(when));
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:s, s:s, s:s, s:b}", "file", file,
                     "status", "ok", "subject", insp->summary.subject, "names", sans, "issuer",
                     insp->summary.issuer, "not_after", when, "days_left",
                     (json_int_t)days_until(insp->summary.not_after, now), "thumbprint",
                     insp->summary.thumbprint, "format", pfx_format_name(insp->decoded.format),
                     "algorithms", insp->decoded.algorithms, "key_matches",
                     insp->decoded.key_matches);
}

static int open_store_and_password(const struct store_args *a, struct store **st,
                                   struct secret *password)
{
    struct errbuf err;

    if (cli_crypto_init() < 0)
        return -1;
    if (store_open(a->store, NULL, st, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return cli_load_store_password(a->password_file, password);
}

/* ---- list ------------------------------------------------------------------------------------ */

static void inspect_entry(struct store *st, const struct store_entry *e, const char *password,
                          struct pfx_inspection *insp)
{
    struct bytes data = {0};
    struct errbuf err;
    int missing = 0;

    memset(insp, 0, sizeof(*insp));
    if (e->type != STORE_ENTRY_FILE ||
        store_read(st, e->name, CERT_INPUT_MAX, &data, &missing, &err) < 0 || missing) {
        insp->status = PFX_DAMAGED;
        snprintf(insp->error, sizeof(insp->error), "%s",
                 e->type == STORE_ENTRY_SYMLINK ? "symbolic link (not followed)"
                 : e->type != STORE_ENTRY_FILE  ? "not a regular file"
                 : missing                      ? "removed while listing"
                                                : err.msg);
        return;
    }
    store_inspect_bytes(data.data, data.len, password, insp);
    bytes_free(&data);
}

static int cmd_list(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct secret password = {0};
    struct store_entries entries = {0};
    json_t *rows = NULL;
    struct errbuf err;
    time_t now = time(NULL);
    int rc = EXIT_FAILED;

    if (parse_args(argc, argv, 0, &a) != 0)
        return EXIT_FAILED;
    if (open_store_and_password(&a, &st, &password) < 0)
        goto out;
    if (store_list(st, &entries, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (a.json)
        rows = json_array();
    else
        printf("%-32s %-32s %-40s %-24s %-20s %5s %-40s %s\n", "FILE", "SUBJECT", "NAMES", "ISSUER",
               "NOT-AFTER", "DAYS", "THUMBPRINT", "FORMAT");
    for (size_t i = 0; i < entries.count; i++) {
        const struct store_entry *e = &entries.items[i];
        struct pfx_inspection insp;
        char sans[2048], when[32];

        if (!store_is_pfx_name(e->name))
            continue;
        inspect_entry(st, e, password.value, &insp);
        if (a.json) {
            json_array_append_new(rows, summary_json(e->name, &insp, now));
        } else if (insp.status != PFX_OK) {
            print_column(e->name, 32);
            printf("(%s: %s)\n", pfx_status_text(insp.status), insp.error);
        } else {
            sans_text(&insp, sans, sizeof(sans));
            format_utc(insp.summary.not_after, when, sizeof(when));
            print_column(e->name, 32);
            print_column(insp.summary.subject, 32);
            print_column(sans, 40);
            print_column(insp.summary.issuer, 24);
            printf("%-20s %5ld %-40s %s\n", when, days_until(insp.summary.not_after, now),
                   insp.summary.thumbprint, pfx_format_name(insp.decoded.format));
        }
        pfx_inspection_free(&insp);
    }
    if (a.json)
        cli_print_json(json_pack("{s:s, s:o}", "store", store_display_name(st), "files", rows));
    rc = 0;
out:
    store_entries_free(&entries);
    secret_free(&password);
    store_close(st);
    return rc;
}

/* ---- lookup ---------------------------------------------------------------------------------- */

static int cmd_lookup(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct secret password = {0};
    struct store_lookup_result res = {0};
    struct store_lookup_plan plan;
    struct pfx_inspection insp = {0};
    struct errbuf err;
    int covers = 0, rc = EXIT_FAILED;
    char when[32], sans[2048];

    if (parse_args(argc, argv, 1, &a) != 0)
        return EXIT_FAILED;
    /* Validate the host before anything touches the store, as a server must. */
    if (store_lookup_plan(a.host, strlen(a.host), &plan, &err) < 0) {
        log_error("lookup %s", err.msg);
        return EXIT_FAILED;
    }
    if (open_store_and_password(&a, &st, &password) < 0)
        goto out;
    if (store_lookup(st, a.host, &res, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (res.rule != STORE_LOOKUP_NONE) {
        store_inspect_bytes(res.data.data, res.data.len, password.value, &insp);
        covers = insp.status == PFX_OK && cert_names_find_file(&insp.names, res.file) != NULL;
    }
    if (a.json) {
        json_t *tried = json_pack("[s]", res.plan.exact_file);
        if (res.plan.wildcard_file[0])
            json_array_append_new(tried, json_string(res.plan.wildcard_file));
        cli_print_json(json_pack("{s:s, s:s, s:s?, s:o, s:o, s:b}", "host",
                                 res.plan.host.unicode, "rule", store_lookup_rule_name(res.rule),
                                 "file", res.file, "tried", tried,
                                 "certificate",
                                 res.file ? summary_json(res.file, &insp, time(NULL)) : json_null(),
                                 "served", res.file && insp.status == PFX_OK && covers));
    } else {
        printf("host:   %s\n", res.plan.host.unicode);
        printf("tried:  %s%s%s\n", res.plan.exact_file, res.plan.wildcard_file[0] ? ", " : "",
               res.plan.wildcard_file);
        printf("rule:   %s\n", store_lookup_rule_name(res.rule));
        if (res.file) {
            printf("file:   %s\n", res.file);
            if (insp.status != PFX_OK) {
                printf("status: %s: %s\n", pfx_status_text(insp.status), insp.error);
            } else {
                sans_text(&insp, sans, sizeof(sans));
                format_utc(insp.summary.not_after, when, sizeof(when));
                printf("subject: %s\nnames:  %s\nissuer: %s\nexpires: %s (%ld days)\n"
                       "thumbprint: %s\nformat: %s (%s)\n",
                       insp.summary.subject, sans, insp.summary.issuer, when,
                       days_until(insp.summary.not_after, time(NULL)), insp.summary.thumbprint,
                       pfx_format_name(insp.decoded.format), insp.decoded.algorithms);
                if (!covers)
                    printf("warning: the certificate in %s does not name it\n", res.file);
            }
        } else {
            printf("no file serves %s\n", res.plan.host.unicode);
        }
    }
    rc = res.file && insp.status == PFX_OK && covers ? 0 : EXIT_FAILED;
out:
    pfx_inspection_free(&insp);
    store_lookup_result_free(&res);
    secret_free(&password);
    store_close(st);
    return rc;
}

/* ---- check ----------------------------------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct secret password = {0};
    struct check_report report = {0};
    struct check_options opts;
    struct errbuf err;
    int rc = EXIT_FAILED;

    if (parse_args(argc, argv, 0, &a) != 0)
        return EXIT_FAILED;
    if (open_store_and_password(&a, &st, &password) < 0)
        goto out;
    opts = (struct check_options){.password = password.value, .warn_days = a.warn_days,
                                  .now = time(NULL)};
    if (store_check(st, &opts, &report, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (a.json) {
        json_t *items = json_array();
        for (size_t i = 0; i < report.count; i++) {
            const struct check_finding *f = &report.items[i];
            json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s}", "file", f->file,
                                                   "severity",
                                                   f->severity == CHECK_ERROR ? "error" : "warning",
                                                   "code", f->code, "message", f->message));
        }
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:o}", "store", store_display_name(st), "pfx_files",
                                 (json_int_t)report.pfx_files, "errors", (json_int_t)report.errors,
                                 "warnings", (json_int_t)report.warnings, "findings", items));
    } else {
        for (size_t i = 0; i < report.count; i++) {
            const struct check_finding *f = &report.items[i];
            printf("%-7s %-32s %-16s %s\n", f->severity == CHECK_ERROR ? "error" : "warning",
                   f->file, f->code, f->message);
        }
        printf("%s: %zu .pfx file%s checked, %zu error%s, %zu warning%s\n", store_display_name(st),
               report.pfx_files, report.pfx_files == 1 ? "" : "s", report.errors,
               report.errors == 1 ? "" : "s", report.warnings, report.warnings == 1 ? "" : "s");
    }
    rc = report.errors ? EXIT_FAILED : 0;
out:
    check_report_free(&report);
    secret_free(&password);
    store_close(st);
    return rc;
}

int cmd_store(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(usage, "store needs a verb: list, lookup or check");
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "lookup") == 0)
        return cmd_lookup(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\n", usage);
        return 0;
    }
    return cli_usage_error(usage, "unknown store verb \"%s\"", argv[1]);
}
