/* cmd_deploy.c — `ccs deploy`: parse options, open the PFX input, call store_deploy_source (which
 * reads the PEM inputs and the previous certificate, as the deploy-ccs task does), print the
 * report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "cli/cli.h"
#include "cli/cli_store.h"
#include "store/deploy.h"
#include "util/log.h"

static const char usage[] =
    "ccs deploy --store DIR|\\\\SERVER\\SHARE\\FOLDER (--cert FILE --key FILE [--chain FILE] | "
    "--pfx FILE --pfx-password-file FILE)\n"
    "                  " CLI_SMB_USAGE "\n"
    "                  [--password-file FILE] [--format compat|aes256] [--previous OLD.pem]\n"
    "                  [--mode OCTAL] [--group GROUP] [--force] [--dry-run] [--json]";

struct deploy_args {
    const char *store, *cert, *key, *chain, *pfx, *pfx_password_file, *password_file, *previous;
    enum pfx_format format;
    unsigned mode;
    long gid;
    int force, dry_run, json;
    struct cli_smb_args smb;
};

enum { OPT_STORE = 256, OPT_CERT, OPT_KEY, OPT_CHAIN, OPT_PFX, OPT_PFX_PASSWORD_FILE,
       OPT_PASSWORD_FILE, OPT_FORMAT, OPT_PREVIOUS, OPT_MODE, OPT_GROUP, OPT_FORCE, OPT_DRY_RUN,
       OPT_JSON, OPT_SMB };

static const struct cli_option options[] = {
    {"store", "DIR|SHARE", OPT_STORE,
     "the store: a directory or \\\\server\\share\\folder, //server/..., smb://..."},
    {"cert", "FILE", OPT_CERT, "the PEM certificate (a full chain is split)"},
    {"key", "FILE", OPT_KEY, "the PEM private key of --cert, unencrypted"},
    {"chain", "FILE", OPT_CHAIN, "PEM issuer certificates to include"},
    {"pfx", "FILE", OPT_PFX, "take certificate, key and chain from this PFX instead"},
    {"pfx-password-file", "FILE", OPT_PFX_PASSWORD_FILE, "the password of --pfx (required with it)"},
    {"password-file", "FILE", OPT_PASSWORD_FILE, PFX_PASSWORD_FILE_HELP},
    {"format", "compat|aes256", OPT_FORMAT, "the PFX protection to write; default compat"},
    {"previous", "OLD.pem", OPT_PREVIOUS, "the certificate this one renews: its dropped names are removed"},
    {"mode", "OCTAL", OPT_MODE, "the mode of the files written; default 0640"},
    {"group", "GROUP", OPT_GROUP, "the group of the files written (name or number)"},
    {"force", NULL, OPT_FORCE, "replace even a later-expiring certificate; allow a risky --mode"},
    {"dry-run", NULL, OPT_DRY_RUN, "print the plan; write nothing"},
    {"json", NULL, OPT_JSON, "print the report as JSON"},
    CLI_SMB_OPTIONS(OPT_SMB),
    CLI_OPTION_END,
};

static const struct cli_command command = {
    .name = "deploy",
    .usage = usage,
    .summary = "put a certificate into a store: one PFX file per host name, never rolled back",
    .options = options,
    .examples = "ccs deploy --store /srv/certs --cert fullchain.pem --key privkey.pem "
                "--password-file /etc/ccs/pfx-password\n"
                "ccs deploy --store //fs1/certs/iis --credentials-file /etc/ccs/smb-credentials "
                "--pfx site.pfx --pfx-password-file site.pass --dry-run",
    .man = "ccs-deploy",
};

const struct cli_verb cli_verb_deploy = {
    .name = "deploy", .man = "ccs-deploy", .command = &command, .run = cmd_deploy};

static int parse_args(int argc, char **argv, struct deploy_args *a)
{
    int c;

    memset(a, 0, sizeof(*a));
    a->format = PFX_FORMAT_COMPAT;
    a->mode = 0; /* the backend's default: 0640 in a local store */
    a->gid = -1;
    optind = 1;
    while ((c = cli_getopt(argc, argv, &command)) != -1) {
        switch (c) {
        case OPT_STORE: a->store = optarg; break;
        case OPT_CERT: a->cert = optarg; break;
        case OPT_KEY: a->key = optarg; break;
        case OPT_CHAIN: a->chain = optarg; break;
        case OPT_PFX: a->pfx = optarg; break;
        case OPT_PFX_PASSWORD_FILE: a->pfx_password_file = optarg; break;
        case OPT_PASSWORD_FILE: a->password_file = optarg; break;
        case OPT_PREVIOUS: a->previous = optarg; break;
        case OPT_FORCE: a->force = 1; break;
        case OPT_DRY_RUN: a->dry_run = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_FORMAT:
            if (pfx_format_parse(optarg, &a->format) < 0)
                return cli_usage_error(usage, "--format: \"%s\" is not compat or aes256", optarg);
            break;
        case OPT_MODE:
            if (cli_parse_mode(optarg, &a->mode) < 0)
                return cli_usage_error(usage, "--mode: \"%s\" is not an octal mode such as 0640",
                                       optarg);
            break;
        case OPT_GROUP:
            if (cli_parse_group(optarg, &a->gid) < 0)
                return cli_usage_error(usage, "--group: no group \"%s\"", optarg);
            break;
        default:
            if (cli_smb_option(c, OPT_SMB, &a->smb))
                break;
            return cli_option_error(usage);
        }
    }
    if (optind < argc)
        return cli_usage_error(usage, "unexpected argument \"%s\"", argv[optind]);
    if (!a->store)
        return cli_usage_error(usage, "--store is required");
    if (a->pfx && (a->cert || a->key || a->chain))
        return cli_usage_error(usage, "give either --pfx or --cert/--key, not both");
    if (!a->pfx && !(a->cert && a->key))
        return cli_usage_error(usage, "give --cert and --key (or --pfx)");
    if (a->pfx && !a->pfx_password_file)
        return cli_usage_error(usage, "--pfx needs --pfx-password-file (its own password)");
    return 0;
}

static int read_input(const char *path, const char *what, struct bytes *out)
{
    struct errbuf err;
    if (bytes_read_file(path, CERT_INPUT_MAX, out, &err) < 0) {
        log_error("%s: %s", what, err.msg);
        return -1;
    }
    return 0;
}

static int load_from_pfx(const struct deploy_args *a, struct pfx_bundle *bundle)
{
    struct secret_source src = {.what = "input PFX password", .option = "--pfx-password-file",
                                .path = a->pfx_password_file};
    struct secret pass = {0};
    struct bytes data = {0};
    struct pfx_decoded dec;
    struct errbuf err;
    int rc = -1;

    if (secret_load(&src, &pass, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    if (read_input(a->pfx, "--pfx", &data) < 0)
        goto out;
    switch (pfx_decode(data.data, data.len, pass.value, &dec, &err)) {
    case PFX_OK:
        break;
    case PFX_WRONG_PASSWORD:
        log_error("--pfx %s: wrong password: it does not open with the password in "
                  "--pfx-password-file %s",
                  a->pfx, pass.origin);
        goto out;
    default:
        log_error("--pfx %s: %s", a->pfx, err.msg);
        goto out;
    }
    if (!dec.bundle.key || !dec.key_matches) {
        log_error("--pfx %s: %s", a->pfx,
                  dec.bundle.key ? "the private key does not match the certificate"
                                 : "holds no private key");
        pfx_decoded_free(&dec);
        goto out;
    }
    *bundle = dec.bundle; /* take ownership */
    rc = 0;
out:
    bytes_free(&data);
    secret_free(&pass);
    return rc;
}

static json_t *report_json(const struct deploy_report *r)
{
    json_t *entries = json_array(), *warnings = json_array(), *j;
    char when[32];

    format_utc(r->cert.not_after, when, sizeof(when));
    for (size_t i = 0; i < r->warning_count; i++)
        json_array_append_new(warnings, json_string(r->warnings[i].text));
    for (size_t i = 0; i < r->count; i++) {
        const struct deploy_entry *e = &r->entries[i];
        json_array_append_new(entries, json_pack("{s:s, s:s?, s:s, s:s}", "name", e->name, "file",
                                                 e->file[0] ? e->file : NULL, "action",
                                                 deploy_action_name(e->action), "detail", e->detail));
    }
    j = json_pack("{s:s, s:b, s:s, s:{s:s, s:s, s:s, s:s}, s:o, s:I, s:I}", "store", r->store,
                  "dry_run", r->dry_run, "format", pfx_format_name(r->format), "certificate",
                  "subject", r->cert.subject, "issuer", r->cert.issuer, "thumbprint",
                  r->cert.thumbprint, "not_after", when, "entries", entries, "changed",
                  (json_int_t)r->changed, "failed", (json_int_t)r->failed);
    /* chain_complete: false when the file lacks the leaf's issuer (check: chain-incomplete) */
    json_object_set_new(j, "chain_complete", json_boolean(r->chain_complete));
    json_object_set_new(j, "warnings", warnings);
    return j;
}

/* A rejected name, and the detail quoting it, come escaped from the library (certinfo.c: the raw
 * SAN may hold anything, NULs included): shown as they are, controls still escaped, so the escape
 * is not shown twice. Everything else is escaped here. */
static int came_escaped(const struct deploy_entry *e)
{
    return e->action == DEPLOY_REJECTED;
}

static void escape_detail(const struct deploy_entry *e, char *out, size_t size)
{
    if (came_escaped(e))
        cli_escape_escaped(e->detail, out, size);
    else
        cli_escape(e->detail, out, size);
}

/* Text output escapes what came from the certificate and the store (cli.h). */
static void report_text(const struct deploy_report *r)
{
    size_t counts[DEPLOY_FAILED + 1] = {0};
    char when[32], subject[4 * sizeof(r->cert.subject)], store[4 * sizeof(r->store)],
        detail[4 * ERRBUF_SIZE];

    format_utc(r->cert.not_after, when, sizeof(when));
    cli_escape(r->cert.subject, subject, sizeof(subject));
    cli_escape(r->store, store, sizeof(store));
    printf("%s%s -> %s (%s)\n", r->dry_run ? "plan (dry run, nothing written): " : "", subject,
           store, pfx_format_name(r->format));
    printf("  thumbprint %s, expires %s\n", r->cert.thumbprint, when);
    for (size_t i = 0; i < r->count; i++) {
        const struct deploy_entry *e = &r->entries[i];
        counts[e->action]++;
        printf("  ");
        cli_print_column(deploy_action_name(e->action), 9);
        if (e->file[0])
            cli_print_column(e->file, 40);
        else if (came_escaped(e))
            cli_print_column_escaped(e->name, 40);
        else
            cli_print_column(e->name, 40);
        escape_detail(e, detail, sizeof(detail));
        printf("%s\n", detail);
    }
    for (size_t i = 0; i < r->warning_count; i++) {
        cli_escape(r->warnings[i].text, detail, sizeof(detail));
        printf("  warning   %s\n", detail);
    }
    printf("%s%zu written, %zu unchanged, %zu skipped, %zu removed, %zu kept, %zu rejected, "
           "%zu failed%s\n",
           r->dry_run ? "would be: " : "", counts[DEPLOY_WRITTEN], counts[DEPLOY_UNCHANGED],
           counts[DEPLOY_SKIPPED], counts[DEPLOY_REMOVED], counts[DEPLOY_KEPT],
           counts[DEPLOY_REJECTED], counts[DEPLOY_FAILED],
           r->chain_complete ? "" : "; the chain lacks the issuer");
}

static void warn_about(const struct deploy_report *r)
{
    char file[4 * sizeof(r->entries->file)], detail[4 * ERRBUF_SIZE];

    for (size_t i = 0; i < r->count; i++) {
        const struct deploy_entry *e = &r->entries[i];
        if (e->action != DEPLOY_SKIPPED && e->action != DEPLOY_REJECTED &&
            e->action != DEPLOY_KEPT && e->action != DEPLOY_FAILED)
            continue;
        if (e->file[0])
            cli_escape(e->file, file, sizeof(file));
        else if (came_escaped(e))
            cli_escape_escaped(e->name, file, sizeof(file));
        else
            cli_escape(e->name, file, sizeof(file));
        escape_detail(e, detail, sizeof(detail));
        if (e->action == DEPLOY_FAILED)
            log_error("%s: %s", file, detail);
        else
            log_warning("%s: %s %s%s", file, deploy_action_name(e->action), detail,
                        e->action == DEPLOY_SKIPPED ? "; --force replaces it" : "");
    }
    for (size_t i = 0; i < r->warning_count; i++) {
        cli_escape(r->warnings[i].text, detail, sizeof(detail));
        log_warning("%s", detail);
    }
    if (!r->chain_complete)
        log_warning("give the certificate's issuers with --chain (or in a full-chain --cert)");
}

int cmd_deploy(int argc, char **argv)
{
    struct deploy_args a;
    struct pfx_bundle bundle = {0};
    struct secret password = {0};
    struct store *st = NULL;
    struct deploy_report report = {0};
    struct deploy_options opts;
    struct deploy_source source;
    struct errbuf err;
    int exit_code = EXIT_FAILED;

    if (parse_args(argc, argv, &a) != 0)
        return EXIT_FAILED;
    source = (struct deploy_source){.cert = a.cert, .key = a.key, .chain = a.chain,
                                    .bundle = a.pfx ? &bundle : NULL, .previous = a.previous};
    if (cli_crypto_init() < 0)
        return EXIT_FAILED;
    if (cli_store_open(a.store, &a.smb, &st) < 0)
        goto out;
    if (cli_load_store_password(a.password_file, &password) < 0)
        goto out;
    if (a.pfx && load_from_pfx(&a, &bundle) < 0)
        goto out;
    opts = (struct deploy_options){
        .password = password.value,
        .format = a.format,
        .write = {.mode = a.mode, .gid = a.gid},
        .force = a.force,
        .dry_run = a.dry_run,
        .now = time(NULL),
    };
    /* the same reading and deploying as the deploy-ccs task's (store/deploy.h) */
    if (store_deploy_source(st, &source, &opts, &report, &err) < 0) {
        /* The library says what is wrong; how to override it is this command's to say. */
        log_error("%s%s", err.msg, report.refused_unless_forced ? "; --force deploys it anyway" : "");
        goto out;
    }
    warn_about(&report);
    if (a.json)
        cli_print_json(report_json(&report));
    else
        report_text(&report);
    exit_code = report.failed ? EXIT_FAILED : report.changed ? EXIT_CHANGED : EXIT_UNCHANGED;
out:
    deploy_report_free(&report);
    pfx_bundle_free(&bundle);
    secret_free(&password);
    store_close(st);
    return exit_code;
}
