/* cmd_store.c — `ccs store list | lookup HOST | check`: what a server would serve, and why not;
 * `ccs store rekey`: change the store password. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_store.h"
#include "cli/table.h"
#include "store/check.h"
#include "store/inspect.h"
#include "store/rekey.h"
#include "store/resolve.h"
#include "util/log.h"

/* --store DIR may also be an SMB share, with the share options: the help describes them. */
static const char usage_list[] = "ccs store list --store DIR [--password-file FILE] [--json]";
static const char usage_lookup[] =
    "ccs store lookup HOST --store DIR [--password-file FILE] [--json]";
static const char usage_check[] =
    "ccs store check --store DIR [--password-file FILE] [--warn-days N] [--json]";
static const char usage_rekey[] =
    "ccs store rekey --store DIR [--password-file OLD] --new-password-file NEW\n"
    "                [--format compat|aes256] [--dry-run] [--json]";

struct store_args {
    const char *store, *password_file, *host;
    int json, warn_days;
    struct cli_smb_args smb;
    /* rekey only */
    const char *new_password_file;
    const char *format; /* NULL: keep each file's */
    int dry_run;
};

/* OPT_SMB last: the share options take OPT_SMB .. OPT_SMB + 3. */
enum { OPT_STORE = 256, OPT_PASSWORD_FILE, OPT_JSON, OPT_WARN_DAYS, OPT_NEW_PASSWORD_FILE,
       OPT_FORMAT, OPT_DRY_RUN, OPT_SMB };

/* The options of every store sub-verb. */
#define STORE_OPTIONS                                                                              \
    {"store", "DIR|SHARE", OPT_STORE,                                                              \
     "the store: a directory or \\\\server\\share\\folder, //server/..., smb://..."},          \
        {"password-file", "FILE", OPT_PASSWORD_FILE, PFX_PASSWORD_FILE_HELP},                     \
        {"json", NULL, OPT_JSON, "print the result as JSON"}, CLI_SMB_OPTIONS(OPT_SMB)

static const struct cli_option list_options[] = {STORE_OPTIONS, CLI_OPTION_END};
static const struct cli_option lookup_options[] = {STORE_OPTIONS, CLI_OPTION_END};
static const struct cli_option check_options[] = {
    STORE_OPTIONS,
    {"warn-days", "N", OPT_WARN_DAYS, "warn about certificates expiring within N days; default "
                                      CLI_STR(CHECK_DEFAULT_WARN_DAYS)},
    CLI_OPTION_END,
};
static const struct cli_option rekey_options[] = {
    STORE_OPTIONS,
    {"new-password-file", "FILE", OPT_NEW_PASSWORD_FILE, "the new store password (required)"},
    {"format", "compat|aes256", OPT_FORMAT, "write every file in this format; default: each keeps its own"},
    {"dry-run", NULL, OPT_DRY_RUN, "print the plan; write nothing"},
    CLI_OPTION_END,
};

static const struct cli_command list_command = {
    .name = "store list",
    .usage = usage_list,
    .summary = "one row per certificate file: names, issuer, expiry, thumbprint, format",
    .options = list_options,
    .examples = "ccs store list --store /srv/certs --password-file /etc/ccs/pfx-password\n"
                "ccs store list --store //fs1/certs/iis --credentials-file /etc/ccs/smb-credentials --json",
    .man = "ccs-store",
};
static const struct cli_command lookup_command = {
    .name = "store lookup",
    .usage = usage_lookup,
    .summary = "which file would serve a host, and by which rule (exit 1: none would)",
    .options = lookup_options,
    .examples = "ccs store lookup www.example.com --store /srv/certs --password-file /etc/ccs/pfx-password",
    .man = "ccs-store",
};
static const struct cli_command check_command = {
    .name = "store check",
    .usage = usage_check,
    .summary = "everything that would make a server fail, one line each (exit 1: an error)",
    .options = check_options,
    .examples = "ccs store check --store /srv/certs --password-file /etc/ccs/pfx-password --warn-days 30",
    .man = "ccs-store",
};
static const struct cli_command rekey_command = {
    .name = "store rekey",
    .usage = usage_rekey,
    .summary = "change the store password: every file re-encrypted at once",
    .options = rekey_options,
    .examples = "ccs store rekey --store /srv/certs --password-file old.pass --new-password-file "
                "new.pass --dry-run",
    .man = "ccs-store",
};

/* Parse COMMAND's options (its table lets in only its own: rekey's are refused elsewhere). */
static int parse_args(int argc, char **argv, const struct cli_command *command,
                      struct store_args *a)
{
    const char *usage = command->usage;
    int want_host = command == &lookup_command, rekey = command == &rekey_command;
    enum pfx_format format;
    char *end;
    int c;

    memset(a, 0, sizeof(*a));
    a->warn_days = CHECK_DEFAULT_WARN_DAYS;
    optind = 1;
    while ((c = cli_getopt(argc, argv, command)) != -1) {
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
        case OPT_NEW_PASSWORD_FILE: a->new_password_file = optarg; break;
        case OPT_DRY_RUN: a->dry_run = 1; break;
        case OPT_FORMAT:
            if (pfx_format_parse(optarg, &format) < 0)
                return cli_usage_error(usage, "--format: \"%s\" is not compat or aes256", optarg);
            a->format = optarg;
            break;
        default:
            if (cli_smb_option(c, OPT_SMB, &a->smb))
                break;
            return cli_option_error(usage);
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
    if (rekey && !a->new_password_file)
        return cli_usage_error(usage, "rekey needs --new-password-file (the new store password)");
    return 0;
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

/* "wrong password: ...": the status, unless the error starts with it already (pfx.c's mostly
 * do: "truncated (100 bytes, ...)"), so it is not said twice. */
static void problem_text(const struct pfx_inspection *insp, char *out, size_t size)
{
    const char *status = pfx_status_text(insp->status);

    if (strncmp(insp->error, status, strlen(status)) == 0)
        snprintf(out, size, "%s", insp->error);
    else
        snprintf(out, size, "%s: %s", status, insp->error);
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
    if (cli_crypto_init() < 0)
        return -1;
    if (cli_store_open(a->store, &a->smb, st) < 0)
        return -1;
    return cli_load_store_password(a->password_file, password);
}

/* ---- list ------------------------------------------------------------------------------------ */

/* On a narrow terminal (table.h) the subject and issuer give way first, then the names, then the
 * thumbprint (its first hex digits still tell files apart); the file name and the date last. */
static const struct table_column list_columns[] = {
    {"FILE", 32, 24, 1, 0},       {"SUBJECT", 32, 6, 4, 0},    {"NAMES", 40, 8, 3, 0},
    {"ISSUER", 24, 6, 4, 0},      {"NOT-AFTER", 20, 11, 1, 0}, {"DAYS", 5, 0, 0, 1},
    {"THUMBPRINT", 40, 9, 2, 0}, {"FORMAT", 0, 0, 0, 0},
};

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
    struct table *table = NULL;
    struct errbuf err;
    time_t now = time(NULL);
    int rc = EXIT_FAILED;

    if (parse_args(argc, argv, &list_command, &a) != 0)
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
        table = table_new(list_columns, sizeof(list_columns) / sizeof(list_columns[0]));
    for (size_t i = 0; i < entries.count; i++) {
        const struct store_entry *e = &entries.items[i];
        struct pfx_inspection insp;
        char sans[2048], when[32], days[24], reason[ERRBUF_SIZE + 64], problem[ERRBUF_SIZE + 66];

        if (!store_is_pfx_name(e->name))
            continue;
        inspect_entry(st, e, password.value, &insp);
        if (a.json) {
            json_array_append_new(rows, summary_json(e->name, &insp, now));
        } else if (insp.status != PFX_OK) {
            problem_text(&insp, reason, sizeof(reason));
            snprintf(problem, sizeof(problem), "(%s)", reason);
            table_add(table, (const char *const[]){e->name, problem}, 2, NULL);
        } else {
            sans_text(&insp, sans, sizeof(sans));
            format_utc(insp.summary.not_after, when, sizeof(when));
            snprintf(days, sizeof(days), "%ld", days_until(insp.summary.not_after, now));
            table_add(table,
                      (const char *const[]){e->name, insp.summary.subject, sans,
                                            insp.summary.issuer, when, days,
                                            insp.summary.thumbprint,
                                            pfx_format_name(insp.decoded.format)},
                      8, NULL);
        }
        pfx_inspection_free(&insp);
    }
    table_print(table);
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

/* The certificate a lookup shows: the one served, else what the deciding file holds now. */
static const struct store_cert *shown_cert(const struct store_resolution *r)
{
    for (size_t i = 0; !r->cert && i < r->candidate_count; i++)
        if (r->candidates[i].latest)
            return r->candidates[i].latest;
    return r->cert;
}

/* CERT's inspection with the names filled in again: the cache keeps none (cache.h). Free NAMES. */
static struct pfx_inspection with_names(const struct store_cert *cert, struct cert_names *names)
{
    struct pfx_inspection insp = cert->insp;
    struct errbuf err;

    memset(names, 0, sizeof(*names));
    if (insp.status == PFX_OK && cert_names_collect(insp.decoded.bundle.cert, names, &err) < 0)
        log_warning("%s: cannot list the certificate's names: %s", cert->file, err.msg);
    insp.names = *names;
    return insp;
}

static json_t *lookup_certificate_json(const struct store_cert *cert)
{
    struct cert_names names;
    struct pfx_inspection insp;
    json_t *j;

    if (cert->verdict == STORE_CERT_UNREADABLE)
        return json_pack("{s:s, s:s, s:s}", "file", cert->file, "status", "unreadable", "error",
                         cert->why);
    insp = with_names(cert, &names);
    j = summary_json(cert->file, &insp, time(NULL));
    cert_names_free(&names);
    return j;
}

static const char *outcome_name(enum store_candidate_outcome outcome)
{
    switch (outcome) {
    case STORE_CANDIDATE_ABSENT:
        return "absent";
    case STORE_CANDIDATE_SERVED:
        return "served";
    case STORE_CANDIDATE_UNUSABLE:
        return "not-served";
    case STORE_CANDIDATE_NOT_LOADED:
        return "not-loaded";
    case STORE_CANDIDATE_NOT_TRIED:
        break;
    }
    return "not-tried";
}

static void print_lookup_json(const struct store_resolution *r)
{
    const struct store_cert *cert = shown_cert(r);
    json_t *tried = json_array(), *candidates = json_array();
    char why[2 * ERRBUF_SIZE];

    for (size_t i = 0; i < r->candidate_count; i++) {
        const struct store_resolve_candidate *c = &r->candidates[i];
        json_array_append_new(tried, json_string(c->file));
        store_resolve_candidate_why(r, i, why, sizeof(why));
        json_array_append_new(
            candidates,
            json_pack("{s:s, s:s, s:s?, s:s}", "file", c->file, "outcome", outcome_name(c->outcome),
                      "verdict", c->latest ? store_cert_verdict_name(c->latest->verdict) : NULL,
                      "why", why));
    }
    cli_print_json(json_pack("{s:s, s:s, s:s?, s:o, s:o, s:b, s:o}", "host", r->plan.host.unicode,
                             "rule", store_resolve_rule_name(r->rule), "file", r->file, "tried",
                             tried, "certificate",
                             cert ? lookup_certificate_json(cert) : json_null(), "served",
                             r->cert != NULL, "candidates", candidates));
}

/* LABEL then VALUE escaped (cli.h), on a line of its own. */
static void print_field(const char *label, const char *value)
{
    char shown[4 * ERRBUF_SIZE];
    cli_escape(value, shown, sizeof(shown));
    printf("%s%s\n", label, shown);
}

static void print_certificate_text(const struct store_cert *cert)
{
    struct cert_names names;
    struct pfx_inspection insp;
    char when[32], sans[2048], problem[ERRBUF_SIZE + 64];

    if (cert->verdict == STORE_CERT_UNREADABLE) {
        print_field("status: unreadable: ", cert->why);
        return;
    }
    if (cert->insp.status != PFX_OK) {
        problem_text(&cert->insp, problem, sizeof(problem));
        print_field("status: ", problem);
        return;
    }
    insp = with_names(cert, &names);
    sans_text(&insp, sans, sizeof(sans));
    format_utc(insp.summary.not_after, when, sizeof(when));
    print_field("subject: ", insp.summary.subject);
    print_field("names:  ", sans);
    print_field("issuer: ", insp.summary.issuer);
    printf("expires: %s (%ld days)\nthumbprint: %s\nformat: %s (%s)\n", when,
           days_until(insp.summary.not_after, time(NULL)), insp.summary.thumbprint,
           pfx_format_name(insp.decoded.format), insp.decoded.algorithms);
    cert_names_free(&names);
    if (cert->verdict == STORE_CERT_WRONG_NAME)
        printf("warning: the certificate in %s does not name it\n", cert->file);
    else if (cert->verdict != STORE_CERT_USABLE)
        print_field("not served: ", cert->why);
}

static void print_lookup_text(const struct store_resolution *r)
{
    const struct store_cert *cert = shown_cert(r);
    char why[2 * ERRBUF_SIZE];

    printf("host:   %s\n", r->plan.host.unicode);
    printf("tried:  %s%s%s\n", r->plan.exact_file, r->plan.wildcard_file[0] ? ", " : "",
           r->plan.wildcard_file);
    printf("rule:   %s\n", store_resolve_rule_name(r->rule));
    if (r->file) {
        printf("file:   %s\n", r->file);
        if (cert)
            print_certificate_text(cert);
    } else {
        printf("no file serves %s\n", r->plan.host.unicode);
    }
    for (size_t i = 0; i < r->candidate_count; i++) {
        store_resolve_candidate_why(r, i, why, sizeof(why));
        printf("%s %s: ", i ? "       " : "why:   ", r->candidates[i].file);
        print_field("", why);
    }
}

static int cmd_lookup(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct store_cache *cache = NULL;
    struct secret password = {0};
    struct store_resolution res;
    struct errbuf err;
    int resolved = 0, rc = EXIT_FAILED;

    if (parse_args(argc, argv, &lookup_command, &a) != 0)
        return EXIT_FAILED;
    /* Validate the host before anything touches the store, as a server must. */
    if (store_resolve_plan(a.host, strlen(a.host), &res.plan, &err) < 0) {
        log_error("lookup %s", err.msg);
        return EXIT_FAILED;
    }
    if (open_store_and_password(&a, &st, &password) < 0)
        goto out;
    if (store_cache_new(st, password.value, NULL, &cache, &err) < 0 ||
        store_resolve_planned(cache, &res.plan, 0, &res, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    resolved = 1;
    if (a.json)
        print_lookup_json(&res);
    else
        print_lookup_text(&res);
    rc = res.cert ? 0 : EXIT_FAILED;
out:
    if (resolved)
        store_resolution_release(&res);
    store_cache_free(cache);
    secret_free(&password);
    store_close(st);
    return rc;
}

/* ---- check ----------------------------------------------------------------------------------- */

/* On a narrow terminal the message gives way first, then the code, the file name last. */
static const struct table_column check_columns[] = {
    {NULL, 7, 0, 0, 0}, {NULL, 32, 24, 1, 0}, {NULL, 16, 8, 2, 0}, {NULL, 0, 10, 3, 0},
};

static int cmd_check(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct secret password = {0};
    struct check_report report = {0};
    struct check_options opts;
    struct errbuf err;
    int rc = EXIT_FAILED;

    if (parse_args(argc, argv, &check_command, &a) != 0)
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
        /* File names and messages are escaped (table.h): a file name is anyone's text. */
        struct table *table =
            table_new(check_columns, sizeof(check_columns) / sizeof(check_columns[0]));
        for (size_t i = 0; i < report.count; i++) {
            const struct check_finding *f = &report.items[i];
            table_add(table,
                      (const char *const[]){f->severity == CHECK_ERROR ? "error" : "warning",
                                            f->file, f->code, f->message},
                      4, NULL);
        }
        table_print(table);
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

/* ---- rekey ---------------------------------------------------------------------------------- */

static json_t *rekey_json(const struct rekey_report *r)
{
    json_t *files = json_array();

    for (size_t i = 0; i < r->count; i++)
        json_array_append_new(files, json_pack("{s:s, s:s, s:s}", "file", r->entries[i].file,
                                               "action", rekey_action_name(r->entries[i].action),
                                               "detail", r->entries[i].detail));
    return json_pack("{s:s, s:b, s:o, s:I, s:I, s:I, s:I}", "store", r->store, "dry_run",
                     r->dry_run, "files", files, "rewritten",
                     (json_int_t)r->counts[REKEY_REWRITTEN], "done",
                     (json_int_t)r->counts[REKEY_DONE], "left", (json_int_t)r->counts[REKEY_LEFT],
                     "failed", (json_int_t)r->counts[REKEY_FAILED]);
}

static void rekey_text(const struct rekey_report *r, const char *new_password_origin)
{
    char store[4 * sizeof(r->store)], detail[4 * ERRBUF_SIZE];

    cli_escape(r->store, store, sizeof(store));
    printf("%srekey %s\n", r->dry_run ? "plan (dry run, nothing written): " : "", store);
    for (size_t i = 0; i < r->count; i++) {
        printf("  ");
        cli_print_column(rekey_action_name(r->entries[i].action), 9);
        cli_print_column(r->entries[i].file, 40);
        cli_escape(r->entries[i].detail, detail, sizeof(detail));
        printf("%s\n", detail);
    }
    printf("%s%zu rewritten, %zu already done, %zu left alone, %zu failed\n",
           r->dry_run ? "would be: " : "", r->counts[REKEY_REWRITTEN], r->counts[REKEY_DONE],
           r->counts[REKEY_LEFT], r->counts[REKEY_FAILED]);
    if (r->dry_run || r->counts[REKEY_LEFT] || r->counts[REKEY_FAILED])
        return;
    /* IIS reads every file with the one password it is configured with (field notes §1). */
    printf("every file now opens with the new password (%s). On every server that reads this "
           "store, set it:\n"
           "  IIS: Set-IISCentralCertProvider -PrivateKeyPassword <new password> (or IIS Manager,\n"
           "       Centralized Certificates, Edit Feature Settings)\n"
           "  ccs (ccs.conf [store] password-file, ccs serve, the renewer): write the new password\n"
           "       into the file the configuration names, or point password-file at the new file\n",
           new_password_origin);
}

static int cmd_rekey(int argc, char **argv)
{
    struct store_args a;
    struct store *st = NULL;
    struct secret old_pw = {0}, new_pw = {0};
    struct secret_source new_src = {.what = "new PFX password", .option = "--new-password-file"};
    struct rekey_report report = {0};
    struct rekey_options opts;
    struct errbuf err;
    int rc = EXIT_FAILED, ran;

    if (parse_args(argc, argv, &rekey_command, &a) != 0)
        return EXIT_FAILED;
    if (open_store_and_password(&a, &st, &old_pw) < 0)
        goto out;
    new_src.path = a.new_password_file;
    if (secret_load(&new_src, &new_pw, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (new_pw.len == 0)
        log_warning("the new store password (from %s) is empty: anyone who can read a store file "
                    "then holds its private key",
                    new_pw.origin);
    opts = (struct rekey_options){.old_password = old_pw.value, .new_password = new_pw.value,
                                  .keep_format = a.format == NULL, .dry_run = a.dry_run};
    if (a.format)
        pfx_format_parse(a.format, &opts.format);
    ran = store_rekey(st, &opts, &report, &err) == 0;
    if (!ran)
        log_error("%s", err.msg);
    for (size_t i = 0; i < report.count; i++) {
        const struct rekey_entry *e = &report.entries[i];
        char file[4 * sizeof(e->file)], detail[4 * ERRBUF_SIZE];
        if (e->action != REKEY_LEFT && e->action != REKEY_FAILED)
            continue;
        cli_escape(e->file, file, sizeof(file));
        cli_escape(e->detail, detail, sizeof(detail));
        if (e->action == REKEY_FAILED)
            log_error("%s: %s", file, detail);
        else
            log_warning("%s: %s (servers using the new password will not open it)", file, detail);
    }
    if (report.count || ran) {
        if (a.json)
            cli_print_json(rekey_json(&report));
        else
            rekey_text(&report, new_pw.origin);
    }
    /* 0: files rewritten; 2: nothing to do; 1: a file left under another password, or a failure. */
    if (ran && !report.counts[REKEY_LEFT] && !report.counts[REKEY_FAILED])
        rc = report.counts[REKEY_REWRITTEN] ? EXIT_CHANGED : EXIT_UNCHANGED;
out:
    rekey_report_free(&report);
    secret_free(&old_pw);
    secret_free(&new_pw);
    store_close(st);
    return rc;
}

static const struct cli_subverb subverbs[] = {
    {&list_command, cmd_list},   {&lookup_command, cmd_lookup},
    {&check_command, cmd_check}, {&rekey_command, cmd_rekey},
    {NULL, NULL},
};

const struct cli_verb cli_verb_store = {
    .name = "store",
    .summary = "what a server would serve from a store, and why it would fail; its password",
    .man = "ccs-store",
    .subverbs = subverbs,
};
