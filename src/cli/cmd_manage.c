/* cmd_manage.c — the verbs over managed certificates: `ccs renew`, `ccs status`, `ccs task run`,
 * `ccs config check`. Parsing and printing only; the work is in src/manage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/table.h"
#include "manage/config.h"
#include "manage/policy.h"
#include "manage/renew.h"
#include "manage/state.h"
#include "manage/status.h"
#include "manage/stop.h"
#include "store/certinfo.h"
#include "util/log.h"

#define CONFIG_ENV "CCS_CONFIG"
/* `ccs renew` and `ccs task run` stopped by SIGTERM or SIGINT (manage/stop.h): what they did not
 * finish is owed to the next run. Beside cli.h's 0, 1 and 2. */
#define EXIT_STOPPED 3

static const char usage_renew[] = "ccs renew [NAME...] [--config FILE] [--force] [--dry-run] [--jobs N]";
static const char usage_status[] = "ccs status [NAME...] [--config FILE] [--json]";
static const char usage_task[] = "ccs task run CERT TASK [--config FILE] [--dry-run]";
static const char usage_config[] = "ccs config check [--config FILE]";

enum { OPT_CONFIG = 256, OPT_FORCE, OPT_DRY_RUN, OPT_JOBS, OPT_JSON };

#define CONFIG_OPTION                                                                              \
    {"config", "FILE", OPT_CONFIG,                                                                 \
     "the configuration; default $" CONFIG_ENV ", else " CONFIG_DEFAULT_PATH}

static const struct cli_option renew_options[] = {
    CONFIG_OPTION,
    {"force", NULL, OPT_FORCE, "renew now even when not due; retry tasks that are backing off"},
    {"dry-run", NULL, OPT_DRY_RUN, "say what would be renewed and run; order and write nothing"},
    {"jobs", "N", OPT_JOBS, "renew up to N certificates at once; default " CLI_STR(RENEW_DEFAULT_JOBS)},
    CLI_OPTION_END,
};
static const struct cli_option status_options[] = {
    CONFIG_OPTION,
    {"json", NULL, OPT_JSON, "print the rows as JSON"},
    CLI_OPTION_END,
};
static const struct cli_option task_options[] = {
    CONFIG_OPTION,
    {"dry-run", NULL, OPT_DRY_RUN, "say what the task would do; do nothing"},
    CLI_OPTION_END,
};
static const struct cli_option config_options[] = {CONFIG_OPTION, CLI_OPTION_END};

static const struct cli_command renew_command = {
    .name = "renew",
    .usage = usage_renew,
    .summary = "renew the managed certificates of ccs.conf that are due, and run their tasks",
    .options = renew_options,
    .examples = "ccs renew --dry-run\n"
                "ccs renew www.example.com --force --config /etc/ccs/ccs.conf",
    .man = "ccs-renew",
};
static const struct cli_command status_command = {
    .name = "status",
    .usage = usage_status,
    .summary = "one row per managed certificate: expiry, next renewal, state, failing tasks",
    .options = status_options,
    .examples = "ccs status\nccs status --json --config /etc/ccs/ccs.conf",
    .man = "ccs-status",
};
static const struct cli_command task_run_command = {
    .name = "task run",
    .usage = usage_task,
    .summary = "run one deployment task of a managed certificate by hand",
    .options = task_options,
    .examples = "ccs task run www.example.com iis-share --dry-run",
    .man = "ccs-task",
};
static const struct cli_command config_check_command = {
    .name = "config check",
    .usage = usage_config,
    .summary = "every error in the configuration, with file and line",
    .options = config_options,
    .examples = "ccs config check --config /etc/ccs/ccs.conf",
    .man = "ccs-config",
};

struct manage_args {
    const char *config;
    int force, dry_run, jobs, json;
    char **rest;
    int rest_count;
};

static int parse(int argc, char **argv, const struct cli_command *command, struct manage_args *a)
{
    const char *usage = command->usage;
    char *end;
    int c;

    memset(a, 0, sizeof(*a));
    a->config = getenv(CONFIG_ENV) ? getenv(CONFIG_ENV) : CONFIG_DEFAULT_PATH;
    a->jobs = RENEW_DEFAULT_JOBS;
    optind = 1;
    while ((c = cli_getopt(argc, argv, command)) != -1) {
        switch (c) {
        case OPT_CONFIG: a->config = optarg; break;
        case OPT_FORCE: a->force = 1; break;
        case OPT_DRY_RUN: a->dry_run = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_JOBS:
            a->jobs = (int)strtol(optarg, &end, 10);
            if (!*optarg || *end || a->jobs < 1 || a->jobs > RENEW_MAX_JOBS)
                return cli_usage_error(usage, "--jobs \"%s\": 1 to %d", optarg, RENEW_MAX_JOBS);
            break;
        default:
            return cli_option_error(usage);
        }
    }
    a->rest = argv + optind;
    a->rest_count = argc - optind;
    return 0;
}

/* Load the configuration, printing every error as FILE:LINE: message. */
static int load_config(const char *path, struct config *cfg)
{
    struct config_errors errors = {0};

    if (config_load(path, cfg, &errors) == 0)
        return 0;
    for (size_t i = 0; i < errors.count; i++) {
        const struct config_error *e = &errors.items[i];
        if (e->where.line > 0)
            fprintf(stderr, "%s:%d: %s\n", e->where.file, e->where.line, e->message);
        else
            fprintf(stderr, "%s: %s\n", e->where.file[0] ? e->where.file : path, e->message);
    }
    fprintf(stderr, "ccs: %zu error%s in the configuration\n", errors.count,
            errors.count == 1 ? "" : "s");
    config_errors_free(&errors);
    return -1;
}

/* The RESULT column: the renewal's result, unless a task's is the news. */
static const char *status_word(const struct renew_outcome *o)
{
    switch (o->status) {
    case RENEW_RENEWED:
        return o->tasks_failed ? "task FAILED" : "renewed";
    case RENEW_FAILED:
        return "FAILED";
    case RENEW_WOULD_RENEW:
        return "would renew";
    case RENEW_STOPPED:
        return "stopped";
    case RENEW_NOT_DUE:
        break;
    }
    if (o->tasks_failed)
        return "task FAILED";
    return o->tasks_delivered ? "delivered" : "not due";
}

/* The DETAIL column: what happened, and what is still owed. */
static void detail_of(const struct renew_outcome *o, char *out, size_t size)
{
    snprintf(out, size, "%s", o->status == RENEW_NOT_DUE ? o->why : o->message);
    if (o->tasks_owed) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "; %zu task%s owed the live certificate", o->tasks_owed,
                 o->tasks_owed == 1 ? "" : "s");
    }
}

/* Exit status of `ccs renew` (ccs-renew(1)): 3 stopped by a signal, 1 a renewal or a task failed,
 * 0 something renewed or delivered, 2 nothing to do. A dry run: 1 failed, else 0. */
static int renew_exit(const struct renew_summary *s, int dry_run)
{
    if (s->stop_signal)
        return EXIT_STOPPED;
    if (s->failed || s->tasks_failed)
        return EXIT_FAILED;
    if (dry_run)
        return 0;
    return s->renewed || s->tasks_delivered ? EXIT_CHANGED : EXIT_UNCHANGED;
}

/* The tables of renew and status: on a narrow terminal (table.h) the free text gives way first,
 * then the domains; the name and the dates keep their minimum. */
static const struct table_column renew_columns[] = {
    {"CERTIFICATE", 24, 12, 1, 0}, {"RESULT", 12, 0, 0, 0}, {"EXPIRES", 20, 11, 1, 0},
    {"DETAIL", 0, 10, 3, 0},
};
static const struct table_column status_columns[] = {
    {"NAME", 20, 12, 1, 0},         {"DOMAINS", 32, 10, 2, 0}, {"NOT-AFTER", 20, 11, 1, 0},
    {"DAYS", 5, 0, 0, 1},           {"NEXT RENEWAL", 20, 11, 1, 0}, {"STATE", 8, 0, 0, 0},
    {"OWED / FAILING TASKS / WHY", 0, 10, 3, 0},
};

int cmd_renew(int argc, char **argv)
{
    struct manage_args a;
    struct config cfg;
    struct renew_summary sum;
    struct renew_options opts;
    struct table *table;
    struct errbuf err;
    int rc = EXIT_FAILED, tty = isatty(STDOUT_FILENO), ran;

    if (parse(argc, argv, &renew_command, &a) != 0)
        return EXIT_FAILED;
    if (cli_crypto_init() < 0 || load_config(a.config, &cfg) < 0)
        return EXIT_FAILED;
    opts = (struct renew_options){.names = (const char *const *)a.rest,
                                  .name_count = (size_t)a.rest_count,
                                  .force = a.force,
                                  .dry_run = a.dry_run,
                                  .jobs = a.jobs,
                                  .terminal = tty,
                                  .progress = progress_event};
    /* The progress line on stderr when it is a terminal (cli/progress.h); one line per
     * certificate on stdout in any case. */
    progress_start(a.rest_count ? (size_t)a.rest_count : cfg.certificate_count);
    opts.out = progress_stdout();
    ran = renew_run(&cfg, &opts, &sum, &err);
    progress_end();
    if (ran < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    printf("\n");
    table = table_new(renew_columns, sizeof(renew_columns) / sizeof(renew_columns[0]));
    for (size_t i = 0; i < sum.count; i++) {
        const struct renew_outcome *o = &sum.items[i];
        char when[32] = "-", detail[ERRBUF_SIZE + 64];
        int failed = tty && (o->status == RENEW_FAILED || o->tasks_failed);
        if (o->not_after)
            format_utc(o->not_after, when, sizeof(when));
        detail_of(o, detail, sizeof(detail));
        table_add(table, (const char *const[]){o->cert->name, status_word(o), when, detail}, 4,
                  failed ? "\033[1;31m" : NULL);
    }
    table_print(table);
    printf("%zu renewed, %zu failed, %zu not due", sum.renewed, sum.failed, sum.not_due);
    if (sum.tasks_delivered)
        printf(", %zu task run%s delivered", sum.tasks_delivered,
               sum.tasks_delivered == 1 ? "" : "s");
    if (sum.tasks_failed)
        printf(", %zu task%s failed", sum.tasks_failed, sum.tasks_failed == 1 ? "" : "s");
    if (sum.tasks_owed)
        printf(", %zu task%s owed (the next run retries)", sum.tasks_owed,
               sum.tasks_owed == 1 ? "" : "s");
    if (sum.stopped || sum.stop_signal)
        printf(", %zu stopped", sum.stopped);
    printf("%s\n", a.dry_run ? " (dry run: nothing written)" : "");
    if (sum.stop_signal)
        log_warning("stopped by %s: what was not done is owed to the next run",
                    strsignal(sum.stop_signal));
    rc = renew_exit(&sum, a.dry_run);
    renew_summary_free(&sum);
out:
    config_free(&cfg);
    return rc;
}

/* The headline of a certificate: "failed" (its last renewal failed), "owed" (a task still owes
 * the live certificate: some target holds an older one), "never" (not issued), else "ok". */
static const char *state_word(const struct status_view *v)
{
    if (v->last_ok == 0)
        return "failed";
    if (v->owed_count)
        return "owed";
    return v->live ? "ok" : "never";
}

/* The DOMAINS column and field: the names, comma-separated. */
static void domain_list(const struct config_certificate *cert, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < cert->domain_count && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "", cert->domains[i]);
}

/* NEXT RENEWAL: now when due, else the later of the policy's point and the backoff. */
static void next_renewal(const struct policy_decision *d, time_t now, char *out, size_t size)
{
    format_utc(d->due ? now : (d->not_before > d->renew_at ? d->not_before : d->renew_at), out,
               size);
}

/* One certificate as JSON (a row of `ccs status --json`). */
static json_t *status_json(const struct status_view *v, time_t now)
{
    const struct policy_decision *d = &v->decision;
    char domains[1024], expires[32] = "-", next[32];
    json_t *failing = json_array(), *owed = json_array(), *runs = json_array();

    domain_list(v->cert, domains, sizeof(domains));
    for (size_t i = 0; i < v->failing_count; i++)
        json_array_append_new(failing, json_string(v->failing[i]));
    for (size_t i = 0; i < v->owed_count; i++) {
        const struct status_owed *t = &v->owed[i];
        char last[32] = "", retry[32];
        if (t->last_attempt)
            format_utc(t->last_attempt, last, sizeof(last));
        format_utc(t->retry_at > now ? t->retry_at : now, retry, sizeof(retry));
        json_array_append_new(owed, json_pack("{s:s, s:i, s:s?, s:s, s:s}", "task", t->task->name,
                                              "failures", t->failure_count, "last_attempt",
                                              t->last_attempt ? last : NULL, "next_attempt", retry,
                                              "last_message", t->last_message));
    }
    for (size_t i = 0; i < v->run_count; i++) {
        char when[32];
        format_utc(v->runs[i].when, when, sizeof(when));
        json_array_append_new(runs, json_pack("{s:s, s:s, s:b, s:s}", "task", v->runs[i].task,
                                              "time", when, "ok", v->runs[i].ok, "message",
                                              v->runs[i].message));
    }
    if (v->live)
        format_utc(v->not_after, expires, sizeof(expires));
    next_renewal(d, now, next, sizeof(next));
    return json_pack("{s:s, s:s, s:s, s:s?, s:I, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "name",
                     v->cert->name, "state", state_word(v), "domains", domains, "not_after",
                     v->live ? expires : NULL, "days_left",
                     (json_int_t)(v->live ? days_until(v->not_after, now) : 0), "next_renewal",
                     next, "why", d->why, "last_result",
                     v->last_ok == 1 ? "ok" : v->last_ok == 0 ? "failed" : "never",
                     "last_message", v->last_message, "failures", v->failure_count, "owed_tasks",
                     owed, "failing_tasks", failing, "recent_task_runs", runs);
}

struct status_out {
    time_t now;
    int json, tty;
    size_t rows;
    struct table *table; /* the text output (table.h); NULL with --json */
};

/* A row of `ccs status --json`, written as it comes: the whole output is what cli_print_json
 * prints of {"certificates": [rows]} (JSON_INDENT(2)), without every row in memory at once. */
static int print_json_row(struct status_out *out, json_t *row)
{
    char *text = row ? json_dumps(row, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

    json_decref(row);
    if (!text) {
        log_error("out of memory building JSON output");
        return -1;
    }
    fputs(out->rows++ ? ",\n    " : "{\n  \"certificates\": [\n    ", stdout);
    for (const char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) {
            fputs(p, stdout);
            break;
        }
        fwrite(p, 1, (size_t)(nl - p) + 1, stdout);
        fputs("    ", stdout);
    }
    free(text);
    return 0;
}

static void add_text_row(struct status_out *out, const struct status_view *v)
{
    char domains[1024], expires[32] = "-", next[32], tasks[512] = "", days_text[24], last[1024];
    long days = v->live ? days_until(v->not_after, out->now) : 0;
    int failing = v->last_ok == 0 || v->owed_count || v->failing_count;
    size_t o = 0;

    domain_list(v->cert, domains, sizeof(domains));
    for (size_t k = 0; k < v->owed_count; k++)
        o += (size_t)snprintf(tasks + o, o < sizeof(tasks) ? sizeof(tasks) - o : 0, "%s%s",
                              k ? "," : "owed: ", v->owed[k].task->name);
    for (size_t k = 0; k < v->failing_count; k++)
        o += (size_t)snprintf(tasks + o, o < sizeof(tasks) ? sizeof(tasks) - o : 0, "%s%s",
                              k ? "," : o ? "; failing: " : "failing: ", v->failing[k]);
    if (v->live)
        format_utc(v->not_after, expires, sizeof(expires));
    next_renewal(&v->decision, out->now, next, sizeof(next));
    snprintf(days_text, sizeof(days_text), "%ld", days);
    snprintf(last, sizeof(last), "%s%s%s", tasks, tasks[0] ? "; " : "", v->decision.why);
    table_add(out->table,
              (const char *const[]){v->cert->name, domains, expires, days_text, next,
                                    state_word(v), last},
              7, out->tty && ((v->live && days < 0) || failing) ? "\033[1;31m" : NULL);
}

static int status_print(void *ctx, const struct status_view *v)
{
    struct status_out *out = ctx;

    if (out->json)
        return print_json_row(out, status_json(v, out->now));
    add_text_row(out, v);
    return 0;
}

int cmd_status(int argc, char **argv)
{
    struct manage_args a;
    struct config cfg;
    struct state_db *db = NULL;
    struct errbuf err;
    struct status_out out = {.now = time(NULL), .tty = isatty(STDOUT_FILENO)};
    struct status_request req;
    char db_path[4200];
    int rc = EXIT_FAILED;

    if (parse(argc, argv, &status_command, &a) != 0)
        return EXIT_FAILED;
    if (cli_crypto_init() < 0 || load_config(a.config, &cfg) < 0)
        return EXIT_FAILED;
    for (int i = 0; i < a.rest_count; i++)
        if (!config_find_certificate(&cfg, a.rest[i])) {
            log_error("no certificate \"%s\" in %s", a.rest[i], cfg.path);
            goto out;
        }
    /* No database: ccs renew never ran here, and every certificate shows "never". A database
     * that cannot be read (corrupt, or 0 bytes: its history lost) is an error, not "never". */
    snprintf(db_path, sizeof(db_path), "%s/%s", cfg.state_dir, STATE_DB_FILE);
    if (access(db_path, F_OK) == 0 &&
        state_open(cfg.state_dir, STATE_OPEN_EXISTING, NULL, &db, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    /* The rows come from manage/status.h one at a time: JSON is printed as they come; the table
     * (table.h) keeps only its cells. */
    out.json = a.json;
    if (!a.json)
        out.table = table_new(status_columns, sizeof(status_columns) / sizeof(status_columns[0]));
    req = (struct status_request){.names = (const char *const *)a.rest,
                                  .name_count = (size_t)a.rest_count,
                                  .now = out.now,
                                  .with_runs = a.json};
    if (status_each(&cfg, db, &req, status_print, &out, &err) != 0) {
        if (out.rows)
            fputs("\n  ]\n}\n", stdout); /* what was printed stays valid JSON */
        if (out.table)
            table_print(out.table);
        fflush(stdout);
        log_error("%s", err.msg);
        goto out;
    }
    if (a.json)
        fputs(out.rows ? "\n  ]\n}\n" : "{\n  \"certificates\": []\n}\n", stdout);
    else
        table_print(out.table);
    rc = 0;
out:
    state_close(db);
    config_free(&cfg);
    return rc;
}

static int task_run(int argc, char **argv)
{
    struct manage_args a;
    struct config cfg;
    struct errbuf err;
    int rc;

    if (parse(argc, argv, &task_run_command, &a) != 0)
        return EXIT_FAILED;
    if (a.rest_count != 2)
        return cli_usage_error(usage_task, "give the certificate and the task");
    if (cli_crypto_init() < 0 || load_config(a.config, &cfg) < 0)
        return EXIT_FAILED;
    rc = renew_task_run(&cfg, a.rest[0], a.rest[1], a.dry_run, stdout, &err);
    if (rc < 0)
        log_error("%s", err.msg);
    config_free(&cfg);
    if (stop_requested())
        return EXIT_STOPPED;
    return rc < 0 ? EXIT_FAILED : 0;
}

static int config_check(int argc, char **argv)
{
    struct manage_args a;
    struct config cfg;
    size_t implied = 0;

    if (parse(argc, argv, &config_check_command, &a) != 0)
        return EXIT_FAILED;
    if (load_config(a.config, &cfg) < 0)
        return EXIT_FAILED;
    for (size_t i = 0; i < cfg.task_count; i++)
        implied += cfg.tasks[i].implied;
    printf("%s: ok (%zu certificate%s, %zu store%s, %zu task%s", a.config, cfg.certificate_count,
           cfg.certificate_count == 1 ? "" : "s", cfg.store_count, cfg.store_count == 1 ? "" : "s",
           cfg.task_count - implied, cfg.task_count - implied == 1 ? "" : "s");
    if (implied)
        printf(", and %zu machine cop%s under %s that deployment = store-only implies", implied,
               implied == 1 ? "y" : "ies", cfg.live_dir);
    printf(")\n");
    config_free(&cfg);
    return 0;
}

/* ---- the verbs ------------------------------------------------------------------------------- */

static const struct cli_subverb task_subverbs[] = {{&task_run_command, task_run}, {NULL, NULL}};
static const struct cli_subverb config_subverbs[] = {{&config_check_command, config_check},
                                                     {NULL, NULL}};

const struct cli_verb cli_verb_renew = {
    .name = "renew", .man = "ccs-renew", .command = &renew_command, .run = cmd_renew};
const struct cli_verb cli_verb_status = {
    .name = "status", .man = "ccs-status", .command = &status_command, .run = cmd_status};
const struct cli_verb cli_verb_task = {
    .name = "task",
    .summary = "the deployment tasks of managed certificates",
    .man = "ccs-task",
    .subverbs = task_subverbs,
};
const struct cli_verb cli_verb_config = {
    .name = "config",
    .summary = "the configuration, ccs.conf",
    .man = "ccs-config",
    .subverbs = config_subverbs,
};
