/* cmd_cert.c — `ccs cert request` (issue a certificate into a directory of PEM files) and
 * `ccs cert revoke`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "acme/ari.h"
#include "acme/order.h"
#include "acme/revoke.h"
#include "cli/cli.h"
#include "cli/cli_acme.h"
#include "store/names.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/log.h"

static const char usage[] =
    "ccs cert request --domain NAME... [--challenge http-01|dns-01] [--http-port P]\n"
    "           [--http-listen ADDR | --webroot DIR] [--hook PROG] [--hook-timeout S]\n"
    "           [--key-type T] [--reuse-key] [--profile P] [--preferred-chain CN]\n"
    "           [--replaces OLD.pem] --out DIR " ACME_CLI_USAGE "\n"
    "       ccs cert revoke CERT.pem [--reason R] " ACME_CLI_USAGE "\n"
    "       ccs cert ari CERT.pem " ACME_CLI_USAGE;

#define MAX_DOMAINS 100
#define DEFAULT_HTTP_PORT 80
#define DEFAULT_HOOK_TIMEOUT_S 120

enum {
    OPT_DOMAIN = ACME_CLI_OPT_END, OPT_CHALLENGE, OPT_HTTP_PORT, OPT_HTTP_LISTEN, OPT_WEBROOT,
    OPT_HOOK, OPT_HOOK_TIMEOUT, OPT_KEY_TYPE, OPT_REUSE_KEY, OPT_PROFILE, OPT_PREFERRED_CHAIN,
    OPT_REPLACES, OPT_OUT, OPT_REASON, OPT_HELP,
};

static const struct option options[] = {
    ACME_CLI_LONG_OPTIONS,
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"challenge", required_argument, NULL, OPT_CHALLENGE},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"http-listen", required_argument, NULL, OPT_HTTP_LISTEN},
    {"webroot", required_argument, NULL, OPT_WEBROOT},
    {"hook", required_argument, NULL, OPT_HOOK},
    {"hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT},
    {"key-type", required_argument, NULL, OPT_KEY_TYPE},
    {"reuse-key", no_argument, NULL, OPT_REUSE_KEY},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"preferred-chain", required_argument, NULL, OPT_PREFERRED_CHAIN},
    {"replaces", required_argument, NULL, OPT_REPLACES},
    {"out", required_argument, NULL, OPT_OUT},
    {"reason", required_argument, NULL, OPT_REASON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct cert_args {
    struct acme_cli acme;
    const char *domains[MAX_DOMAINS];
    size_t domain_count;
    const char *challenge, *http_listen, *webroot, *hook, *profile, *preferred_chain, *replaces;
    const char *out, *reason;
    int http_port, hook_timeout_s, reuse_key;
    enum key_type key_type;
    const char *positional;
};

static int parse_int(const char *opt, const char *arg, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        cli_usage_error(usage, "%s \"%s\": expected a number from %d to %d", opt, arg, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse(int argc, char **argv, struct cert_args *a)
{
    int c, handled;

    memset(a, 0, sizeof(*a));
    acme_cli_defaults(&a->acme);
    a->challenge = "http-01";
    a->http_port = DEFAULT_HTTP_PORT;
    a->hook_timeout_s = DEFAULT_HOOK_TIMEOUT_S;
    a->key_type = KEY_TYPE_DEFAULT;
    optind = 1;
    while ((c = cli_getopt(argc, argv, "ccs cert", options)) != -1) {
        if ((handled = acme_cli_option(&a->acme, c, optarg)) < 0)
            return -1;
        if (handled)
            continue;
        switch (c) {
        case OPT_DOMAIN:
            if (a->domain_count == MAX_DOMAINS)
                return cli_usage_error(usage, "at most %d --domain", MAX_DOMAINS), -1;
            a->domains[a->domain_count++] = optarg;
            break;
        case OPT_CHALLENGE:
            if (strcmp(optarg, "http-01") && strcmp(optarg, "dns-01"))
                return cli_usage_error(usage, "--challenge: http-01 or dns-01"), -1;
            a->challenge = optarg;
            break;
        case OPT_HTTP_PORT:
            if (parse_int("--http-port", optarg, 1, 65535, &a->http_port) < 0)
                return -1;
            break;
        case OPT_HOOK_TIMEOUT:
            if (parse_int("--hook-timeout", optarg, 1, 3600, &a->hook_timeout_s) < 0)
                return -1;
            break;
        case OPT_KEY_TYPE:
            if (key_type_parse(optarg, &a->key_type) < 0)
                return cli_usage_error(usage, "--key-type \"%s\": use ec-p256, ec-p384, "
                                              "rsa-2048, rsa-3072 or rsa-4096", optarg), -1;
            break;
        case OPT_HTTP_LISTEN: a->http_listen = optarg; break;
        case OPT_WEBROOT: a->webroot = optarg; break;
        case OPT_HOOK: a->hook = optarg; break;
        case OPT_REUSE_KEY: a->reuse_key = 1; break;
        case OPT_PROFILE: a->profile = optarg; break;
        case OPT_PREFERRED_CHAIN: a->preferred_chain = optarg; break;
        case OPT_REPLACES: a->replaces = optarg; break;
        case OPT_OUT: a->out = optarg; break;
        case OPT_REASON: a->reason = optarg; break;
        case OPT_HELP:
            printf("usage: %s\n", usage);
            exit(0);
        default:
            return cli_option_error(usage), -1;
        }
    }
    if (optind < argc)
        a->positional = argv[optind++];
    if (optind < argc)
        return cli_usage_error(usage, "unexpected argument \"%s\"", argv[optind]), -1;
    return 0;
}

/* --domain values become ACME identifiers: IP literals as "ip", names normalised (the A-label form
 * goes to the CA), a leading "*." kept. Invalid names are refused before anything is sent. */
static int build_identifiers(const struct cert_args *a, struct acme_identifier *ids,
                             char (*values)[DNS_NAME_MAX + 1])
{
    for (size_t i = 0; i < a->domain_count; i++) {
        const char *d = a->domains[i];
        struct store_name n;
        struct errbuf err;

        if (store_name_is_ip_literal(d, strlen(d))) {
            snprintf(values[i], DNS_NAME_MAX + 1, "%s", d);
            ids[i].type = "ip";
        } else if (store_name_normalise(d, strlen(d), &n, &err) < 0) {
            log_error("--domain %s", err.msg);
            return -1;
        } else {
            snprintf(values[i], DNS_NAME_MAX + 1, "%s", n.ace);
            ids[i].type = "dns";
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(values[j], values[i]) == 0) {
                log_error("--domain %s is given twice", d);
                return -1;
            }
        ids[i].value = values[i];
    }
    return 0;
}

static int make_solver(const struct cert_args *a, struct challenge_solver *s)
{
    struct errbuf err;
    int rc;

    if (strcmp(a->challenge, "dns-01") == 0) {
        if (!a->hook) {
            log_error("--challenge dns-01 needs --hook PROG (uacme's hook interface)");
            return -1;
        }
        rc = challenge_dns01_hook_new(a->hook, a->hook_timeout_s, s, &err);
    } else if (a->webroot) {
        rc = challenge_http01_webroot_new(a->webroot, s, &err);
    } else {
        rc = challenge_http01_responder_new(a->http_listen, a->http_port, s, &err);
    }
    if (rc < 0)
        log_error("%s", err.msg);
    return rc;
}

static int cert_key_for(const struct cert_args *a, const char *key_path, EVP_PKEY **key)
{
    struct errbuf err;
    int missing;

    if (a->reuse_key && key_load(key_path, key, &missing, &err) == 0)
        return 0;
    if (a->reuse_key && !missing) {
        log_error("--reuse-key: %s", err.msg);
        return -1;
    }
    if (key_generate(a->key_type, key, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

static X509 *load_cert(const char *path, const char *what)
{
    struct bytes data = {0};
    struct errbuf err;
    BIO *bio;
    X509 *cert = NULL;

    if (bytes_read_file(path, 1024 * 1024, &data, &err) < 0) {
        log_error("%s: %s", what, err.msg);
        return NULL;
    }
    bio = BIO_new_mem_buf(data.data, (int)data.len);
    if (bio)
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    bytes_free(&data);
    if (!cert)
        log_error("%s %s: no PEM certificate found", what, path);
    return cert;
}

/* Write the four PEM files: the key 0600, the rest 0644; each atomically. */
static int write_outputs(const char *dir, EVP_PKEY *key, const struct acme_issued *issued)
{
    char path[PATH_MAX];
    struct errbuf err;
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    int rc = -1;

    if (dir_create(dir, 0755, &err) < 0)
        goto fail;
    if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
        errbuf_set(&err, "cannot encode the key");
        goto fail;
    }
    len = BIO_get_mem_data(mem, &pem);
    snprintf(path, sizeof(path), "%s/privkey.pem", dir);
    if (file_write_atomic(path, (unsigned char *)pem, (size_t)len, 0600, &err) < 0)
        goto fail;
    const struct {
        const char *name, *data;
    } files[] = {{"cert.pem", issued->cert_pem},
                 {"chain.pem", issued->chain_pem},
                 {"fullchain.pem", issued->fullchain_pem}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if (file_write_atomic(path, (const unsigned char *)files[i].data, strlen(files[i].data),
                              0644, &err) < 0)
            goto fail;
    }
    rc = 0;
    goto out;
fail:
    log_error("--out %s: %s", dir, err.msg);
out:
    BIO_free(mem);
    return rc;
}

static int do_request(struct cert_args *a)
{
    struct acme_identifier ids[MAX_DOMAINS];
    char values[MAX_DOMAINS][DNS_NAME_MAX + 1];
    struct challenge_solver solver = {0};
    struct challenge_solver *solvers[1] = {&solver};
    struct acme_session s = {0};
    struct acme_issued issued = {0};
    EVP_PKEY *key = NULL;
    X509 *old = NULL;
    char *replaces = NULL, key_path[PATH_MAX];
    struct errbuf err;
    int rc = EXIT_FAILED;

    if (a->domain_count == 0)
        return cli_usage_error(usage, "give at least one --domain");
    if (!a->out)
        return cli_usage_error(usage, "--out DIR is required");
    if (build_identifiers(a, ids, values) < 0)
        return EXIT_FAILED;
    if (a->replaces) {
        if (!(old = load_cert(a->replaces, "--replaces")))
            return EXIT_FAILED;
        if (!(replaces = acme_ari_cert_id(old, &err))) {
            log_error("--replaces %s: %s", a->replaces, err.msg);
            goto out;
        }
    }
    snprintf(key_path, sizeof(key_path), "%s/privkey.pem", a->out);
    if (cert_key_for(a, key_path, &key) < 0 || make_solver(a, &solver) < 0)
        goto out;
    if (cli_session_open(&a->acme, SESSION_AUTO_REGISTER, &s) < 0)
        goto out;
    struct acme_issue_request req = {
        .identifiers = ids,
        .identifier_count = a->domain_count,
        .profile = a->profile,
        .replaces = s.client->dir.renewal_info ? replaces : NULL,
        .cert_key = key,
        .solvers = solvers,
        .solver_count = 1,
        .preferred_chain = a->preferred_chain,
    };
    if (acme_issue(s.client, &req, &issued, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (write_outputs(a->out, key, &issued) < 0)
        goto out;
    if (a->acme.json)
        cli_print_json(json_pack("{s:s, s:s, s:s, s:I}", "order", issued.order_url, "out", a->out,
                                 "chain_top", issued.chain_top, "chains_offered",
                                 (json_int_t)issued.chains_offered));
    else
        printf("issued: %s -> %s (chain to \"%s\", %zu chain%s offered)\n", issued.order_url,
               a->out, issued.chain_top, issued.chains_offered,
               issued.chains_offered == 1 ? "" : "s");
    rc = EXIT_CHANGED;
out:
    if (solver.ops)
        solver.ops->destroy(&solver);
    acme_issued_free(&issued);
    acme_session_close(&s);
    EVP_PKEY_free(key);
    X509_free(old);
    free(replaces);
    return rc;
}

static int do_revoke(struct cert_args *a)
{
    struct acme_session s;
    X509 *cert;
    struct errbuf err;
    int reason = 0, rc = EXIT_FAILED;

    if (!a->positional)
        return cli_usage_error(usage, "revoke needs the certificate file");
    if (a->reason && acme_revoke_reason_parse(a->reason, &reason) < 0)
        return cli_usage_error(usage, "--reason \"%s\": use unspecified, keyCompromise, "
                                      "affiliationChanged, superseded, cessationOfOperation or "
                                      "a code",
                               a->reason);
    if (!(cert = load_cert(a->positional, "certificate")))
        return EXIT_FAILED;
    if (cli_session_open(&a->acme, SESSION_ACCOUNT, &s) < 0)
        goto out;
    if (acme_revoke(s.client, cert, reason, &err) < 0)
        log_error("%s: %s", a->positional, err.msg);
    else {
        printf("revoked: %s (reason %d)\n", a->positional, reason);
        rc = EXIT_CHANGED;
    }
    acme_session_close(&s);
out:
    X509_free(cert);
    return rc;
}

/* The CA's suggested renewal window (ARI) for a certificate, and when to ask again. */
static int do_ari(struct cert_args *a)
{
    struct acme_options opts = {.directory_url = a->acme.set.server, .ca_bundle = a->acme.set.ca_bundle};
    struct acme_suggested_window w;
    struct acme_client *c = NULL;
    struct errbuf err;
    char start[32], end[32], *id = NULL;
    X509 *cert;
    int rc = EXIT_FAILED;

    if (!a->positional)
        return cli_usage_error(usage, "ari needs the certificate file");
    if (!(cert = load_cert(a->positional, "certificate")))
        return EXIT_FAILED;
    if (!(id = acme_ari_cert_id(cert, &err)) || acme_client_open(&opts, &c, &err) < 0 ||
        acme_ari_fetch(c, cert, &w, &err) < 0) {
        log_error("%s: %s", a->positional, err.msg);
        goto out;
    }
    strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime(&w.start));
    strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", gmtime(&w.end));
    if (a->acme.json)
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s?, s:I}", "certificate_id", id,
                                 "window_start", start, "window_end", end, "explanation",
                                 w.explanation_url, "retry_after_s",
                                 (json_int_t)w.retry_after_s));
    else
        printf("certificate id: %s\nsuggested window: %s .. %s\n%s%s%sask again after: %ld s\n", id,
               start, end, w.explanation_url ? "explanation: " : "",
               w.explanation_url ? w.explanation_url : "", w.explanation_url ? "\n" : "",
               w.retry_after_s);
    acme_suggested_window_free(&w);
    rc = 0;
out:
    acme_client_close(c);
    free(id);
    X509_free(cert);
    return rc;
}

int cmd_cert(int argc, char **argv)
{
    struct cert_args a;
    const char *verb;

    if (argc < 2)
        return cli_usage_error(usage, "cert needs a verb: request or revoke");
    verb = argv[1];
    if (parse(argc - 1, argv + 1, &a) < 0)
        return EXIT_FAILED;
    if (cli_crypto_init() < 0)
        return EXIT_FAILED;
    if (strcmp(verb, "request") == 0)
        return a.positional ? cli_usage_error(usage, "unexpected argument \"%s\"", a.positional)
                            : do_request(&a);
    if (strcmp(verb, "revoke") == 0)
        return do_revoke(&a);
    if (strcmp(verb, "ari") == 0)
        return do_ari(&a);
    return cli_usage_error(usage, "unknown cert verb \"%s\"", verb);
}
