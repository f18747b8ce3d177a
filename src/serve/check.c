/* check.c — `ccs serve --check` (check.h). It resolves each name exactly as a handshake would
 * (store_resolve, the one served rule, through a cache of its own), so what it reports is what
 * clients get. */
#include "serve/check.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "manage/store_config.h"
#include "serve/serve.h"
#include "store/certinfo.h"
#include "store/resolve.h"
#include "util/secret.h"

#define SECONDS_PER_DAY 86400

const char *serve_check_status_name(enum check_status s)
{
    switch (s) {
    case CHECK_OK:
        return "ok";
    case CHECK_EXPIRED:
        return "EXPIRED";
    case CHECK_NOT_YET_VALID:
        return "NOT-YET-VALID";
    case CHECK_NOT_COVERED:
        return "WRONG-NAME";
    case CHECK_DEFAULT:
        return "DEFAULT";
    case CHECK_ALERT:
        return "ALERT";
    }
    return "unknown";
}

struct checker {
    const struct config *cfg;
    struct store_cache *cache;
    time_t now;
    struct serve_check_report *report;
    const char *default_host; /* NULL: reject */
    int failed;               /* out of memory */
};

static struct serve_check_row *new_row(struct checker *k, const char *host, const char *route)
{
    struct serve_check_report *r = k->report;
    struct serve_check_row *rows = realloc(r->rows, (r->count + 1) * sizeof(*rows)), *row;

    if (!rows) {
        k->failed = 1;
        return NULL;
    }
    r->rows = rows;
    row = memset(&rows[r->count++], 0, sizeof(*row));
    snprintf(row->host, sizeof(row->host), "%s", host);
    snprintf(row->route, sizeof(row->route), "%s", route);
    row->rule = "none";
    return row;
}

static void add_problem(struct checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_problem(struct checker *k, const char *fmt, ...)
{
    struct serve_check_report *r = k->report;
    char **grown = realloc(r->problems, (r->problem_count + 1) * sizeof(*grown));
    va_list ap;
    int n;

    if (!grown) {
        k->failed = 1;
        return;
    }
    r->problems = grown;
    va_start(ap, fmt);
    n = vasprintf(&grown[r->problem_count], fmt, ap);
    va_end(ap);
    if (n < 0)
        k->failed = 1;
    else
        r->problem_count++;
}

/* What clients get when HOST has nothing of its own. */
static void fall_back(struct checker *k, struct serve_check_row *row, int is_default, const char *why)
{
    if (is_default || !k->default_host) {
        row->status = CHECK_ALERT;
        snprintf(row->detail, sizeof(row->detail), "%s: clients get an alert%s", why,
                 is_default ? " whenever they would get the default certificate" : "");
    } else {
        row->status = CHECK_DEFAULT;
        snprintf(row->detail, sizeof(row->detail), "%s: clients get the default certificate (%s)",
                 why, k->default_host);
    }
}

/* CERT is served for ROW's host: judge its names and dates. COVERS: it names the host. */
static void judge(struct checker *k, struct serve_check_row *row, const struct store_cert *cert,
                  int covers, int last_good)
{
    const struct cert_summary *sum = &cert->insp.summary;
    char from[32], until[32], left[64];

    row->not_before = sum->not_before;
    row->not_after = sum->not_after;
    format_utc(sum->not_before, from, sizeof(from));
    format_utc(sum->not_after, until, sizeof(until));
    if (!covers)
        row->status = CHECK_NOT_COVERED;
    else if (k->now > sum->not_after)
        row->status = CHECK_EXPIRED;
    else if (k->now < sum->not_before)
        row->status = CHECK_NOT_YET_VALID;
    else
        row->status = CHECK_OK;
    if (k->now > sum->not_after)
        snprintf(left, sizeof(left), "expired %ld days ago",
                 (long)((k->now - sum->not_after) / SECONDS_PER_DAY));
    else
        snprintf(left, sizeof(left), "%ld days left",
                 (long)((sum->not_after - k->now) / SECONDS_PER_DAY));
    snprintf(row->detail, sizeof(row->detail), "%s; %s; valid %s to %s (%s); subject %s; issuer %s",
             last_good ? "an earlier certificate (the file now does not load)" : "opens",
             covers ? "names the host" : "DOES NOT name the host", from, until, left,
             sum->subject, sum->issuer);
}

/* "*.parent": the wildcard file serves every name under it that has no file of its own. */
static void check_pattern(struct checker *k, struct serve_check_row *row, int is_default)
{
    struct store_cache_answer a;
    struct errbuf err;
    char why[ERRBUF_SIZE + 64];

    row->rule = "wildcard";
    snprintf(row->file, sizeof(row->file), "_.%s%s", row->host + 2, STORE_FILE_SUFFIX);
    if (store_cache_get(k->cache, row->file, 0, &a, &err) < 0) {
        fall_back(k, row, is_default, err.msg);
        return;
    }
    if (a.serve) {
        judge(k, row, a.serve, 1, a.serve != a.latest); /* usable means it names *.parent */
    } else {
        snprintf(why, sizeof(why), "%s",
                 a.state == STORE_CACHE_ABSENT ? "no such file" : a.latest->why);
        fall_back(k, row, is_default, why);
    }
    store_cache_answer_release(&a);
}

static void check_host(struct checker *k, const char *host, const char *route, int is_default)
{
    struct serve_check_row *row = new_row(k, host, route);
    struct store_resolution r;
    struct errbuf err;
    char why[2 * ERRBUF_SIZE], one[ERRBUF_SIZE + 200];
    size_t used = 0;

    if (!row)
        return;
    if (strncmp(host, "*.", 2) == 0) {
        check_pattern(k, row, is_default);
        return;
    }
    if (store_resolve(k->cache, host, strlen(host), 0, &r, &err) < 0) {
        fall_back(k, row, is_default, err.msg);
        return;
    }
    row->rule = store_resolve_rule_name(r.rule);
    if (r.file)
        snprintf(row->file, sizeof(row->file), "%s", r.file);
    if (r.cert) {
        X509 *leaf = r.cert->insp.decoded.bundle.cert;
        int last_good = 0;
        for (size_t i = 0; i < r.candidate_count; i++)
            last_good |= r.candidates[i].outcome == STORE_CANDIDATE_SERVED &&
                         r.candidates[i].last_good;
        judge(k, row, r.cert, X509_check_host(leaf, host, 0, 0, NULL) == 1, last_good);
    } else {
        why[0] = '\0';
        for (size_t i = 0; i < r.candidate_count && used < sizeof(why); i++) {
            store_resolve_candidate_why(&r, i, one, sizeof(one));
            used += (size_t)snprintf(why + used, sizeof(why) - used, "%s%s: %s", i ? "; " : "",
                                     r.candidates[i].file, one);
        }
        fall_back(k, row, is_default, why);
    }
    store_resolution_release(&r);
}

static void check_hosts(struct checker *k)
{
    const struct config *cfg = k->cfg;
    char route[SERVE_LABEL_MAX + 16];

    for (size_t i = 0; i < cfg->serve->hosts.count; i++)
        check_host(k, cfg->serve->hosts.items[i], "[serve]", 0);
    for (size_t s = 0; s < cfg->site_count; s++) {
        snprintf(route, sizeof(route), "[site \"%s\"]", cfg->sites[s].name);
        for (size_t i = 0; i < cfg->sites[s].hosts.count; i++)
            check_host(k, cfg->sites[s].hosts.items[i], route, 0);
    }
    if (k->default_host)
        check_host(k, k->default_host, "default-certificate", 1);
}

/* What a start would trip on besides certificates. */
static void check_settings(struct checker *k)
{
    const struct config_serve *sv = k->cfg->serve;
    struct serve_settings *s = NULL;
    struct errbuf err;

    if (serve_settings_build(k->cfg, NULL, NULL, NULL, &s, &err) < 0)
        add_problem(k, "%s", err.msg);
    serve_settings_unref(s);
    if (sv->user && !getpwnam(sv->user) && !getpwuid((uid_t)strtoul(sv->user, NULL, 10)))
        add_problem(k, "[serve] user \"%s\": no such user", sv->user);
    if (!sv->hosts.count && !k->cfg->site_count)
        add_problem(k, "no host to check: list the names this server serves in [serve] hosts "
                       "(or in [site] sections)");
}

int serve_check(const struct config *cfg, time_t now, struct serve_check_report *out,
                struct errbuf *err)
{
    const struct config_store *store;
    struct checker k = {.cfg = cfg, .now = now, .report = out};
    struct store *st = NULL;
    struct secret password = {0};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!cfg->serve)
        return errbuf_set(err, "%s: no [serve] section", cfg->path);
    store = config_find_store(cfg, cfg->serve->store);
    if (!store)
        return errbuf_set(err, "[serve] store \"%s\": no such [store]", cfg->serve->store);
    if (cfg->serve->default_certificate &&
        strcmp(cfg->serve->default_certificate, SERVE_DEFAULT_CERTIFICATE_REJECT) != 0)
        k.default_host = cfg->serve->default_certificate;
    check_settings(&k);
    if (config_store_open(store, &st, err) < 0 ||
        serve_store_password(store->name, store->password_file, &password, err) < 0 ||
        store_cache_new(st, password.value, NULL, &k.cache, err) < 0)
        goto out;
    check_hosts(&k);
    if (k.failed) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    rc = 0;
out:
    secret_free(&password);
    store_cache_free(k.cache);
    store_close(st);
    if (rc < 0)
        serve_check_report_free(out);
    return rc;
}

void serve_check_report_free(struct serve_check_report *r)
{
    for (size_t i = 0; i < r->problem_count; i++)
        free(r->problems[i]);
    free(r->problems);
    free(r->rows);
    memset(r, 0, sizeof(*r));
}

int serve_check_failed(const struct serve_check_report *r)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->rows[i].status != CHECK_OK)
            return 1;
    return r->problem_count > 0;
}
