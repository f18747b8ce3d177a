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
#include "store/certinfo.h"
#include "store/names.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/log.h"

#define USAGE_REQUEST                                                                              \
    "ccs cert request --domain NAME... [--challenge http-01|dns-01] [--http-port P]\n"             \
    "           [--http-listen ADDR | --webroot DIR] [--hook PROG] [--hook-timeout S]\n"          \
    "           [--key-type T] [--reuse-key] [--profile P] [--preferred-chain CN]\n"               \
    "           [--replaces OLD.pem] --out DIR " ACME_CLI_USAGE
#define USAGE_REVOKE "ccs cert revoke CERT.pem [--reason R] " ACME_CLI_USAGE
#define USAGE_ARI "ccs cert ari CERT.pem " ACME_CLI_USAGE

#define MAX_DOMAINS 100
#define DEFAULT_HTTP_PORT 80
#define DEFAULT_HOOK_TIMEOUT_S 120

enum {
    OPT_DOMAIN = ACME_CLI_OPT_END, OPT_CHALLENGE, OPT_HTTP_PORT, OPT_HTTP_LISTEN, OPT_WEBROOT,
    OPT_HOOK, OPT_HOOK_TIMEOUT, OPT_KEY_TYPE, OPT_REUSE_KEY, OPT_PROFILE, OPT_PREFERRED_CHAIN,
    OPT_REPLACES, OPT_OUT, OPT_REASON,
};

static const struct cli_option request_options[] = {
    {"domain", "NAME", OPT_DOMAIN, "a name (or *.wildcard, or IP address) to certify; repeatable"},
    {"out", "DIR", OPT_OUT, "write cert.pem, chain.pem, fullchain.pem and privkey.pem here"},
    {"challenge", "http-01|dns-01", OPT_CHALLENGE, "how to prove control; default http-01"},
    {"http-port", "P", OPT_HTTP_PORT, "http-01: the built-in responder's port; default " CLI_STR(DEFAULT_HTTP_PORT)},
    {"http-listen", "ADDR", OPT_HTTP_LISTEN, "http-01: the responder's address; default every address"},
    {"webroot", "DIR", OPT_WEBROOT, "http-01: write the token under DIR/.well-known/acme-challenge/"},
    {"hook", "PROG", OPT_HOOK, "dns-01: the program publishing the TXT record (uacme's interface)"},
    {"hook-timeout", "S", OPT_HOOK_TIMEOUT, "kill the hook after S seconds; default " CLI_STR(DEFAULT_HOOK_TIMEOUT_S)},
    {"key-type", "T", OPT_KEY_TYPE, "the certificate key: ec-p256 (default), ec-p384, rsa-2048|3072|4096"},
    {"reuse-key", NULL, OPT_REUSE_KEY, "keep the key already in --out instead of making a new one"},
    {"profile", "P", OPT_PROFILE, "ask the CA for this certificate profile"},
    {"preferred-chain", "CN", OPT_PREFERRED_CHAIN, "take the chain whose top issuer has this name"},
    {"replaces", "OLD.pem", OPT_REPLACES, "the certificate this one renews (sent with ARI)"},
    ACME_CLI_OPTIONS,
    CLI_OPTION_END,
};
static const struct cli_option revoke_options[] = {
    {"reason", "R", OPT_REASON, "unspecified (default), keyCompromise, superseded, ... or a code"},
    ACME_CLI_OPTIONS,
    CLI_OPTION_END,
};
static const struct cli_option ari_options[] = {ACME_CLI_OPTIONS, CLI_OPTION_END};

static const struct cli_command request_command = {
    .name = "cert request",
    .usage = USAGE_REQUEST,
    .summary = "order a certificate from an ACME CA into a directory of PEM files",
    .options = request_options,
    .examples = "ccs cert request --domain www.example.com --domain example.com --out /root/www "
                "--agree-tos\n"
                "ccs cert request --domain '*.example.com' --challenge dns-01 --hook "
                "/usr/local/bin/dns-hook --out /root/wild",
    .man = "ccs-cert",
};
static const struct cli_command revoke_command = {
    .name = "cert revoke",
    .usage = USAGE_REVOKE,
    .summary = "revoke a certificate, signed with the account key",
    .options = revoke_options,
    .examples = "ccs cert revoke /root/www/cert.pem --reason superseded",
    .man = "ccs-cert",
};
static const struct cli_command ari_command = {
    .name = "cert ari",
    .usage = USAGE_ARI,
    .summary = "ask the CA when to renew a certificate (ACME Renewal Information)",
    .options = ari_options,
    .examples = "ccs cert ari /root/www/cert.pem --json",
    .man = "ccs-cert",
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
        cli_usage_error(USAGE_REQUEST, "%s \"%s\": expected a number from %d to %d", opt, arg, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse(int argc, char **argv, const struct cli_command *command, struct cert_args *a)
{
    int c, handled;

    memset(a, 0, sizeof(*a));
    acme_cli_defaults(&a->acme);
    a->challenge = "http-01";
    a->http_port = DEFAULT_HTTP_PORT;
    a->hook_timeout_s = DEFAULT_HOOK_TIMEOUT_S;
    a->key_type = KEY_TYPE_DEFAULT;
    optind = 1;
    while ((c = cli_getopt(argc, argv, command)) != -1) {
        if ((handled = acme_cli_option(&a->acme, c, optarg)) < 0)
            return -1;
        if (handled)
            continue;
        switch (c) {
        case OPT_DOMAIN:
            if (a->domain_count == MAX_DOMAINS)
                return cli_usage_error(command->usage, "at most %d --domain", MAX_DOMAINS), -1;
            a->domains[a->domain_count++] = optarg;
            break;
        case OPT_CHALLENGE:
            if (strcmp(optarg, "http-01") && strcmp(optarg, "dns-01"))
                return cli_usage_error(command->usage, "--challenge: http-01 or dns-01"), -1;
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
                return cli_usage_error(command->usage, "--key-type \"%s\": use ec-p256, ec-p384, "
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
        default:
            return cli_option_error(command->usage), -1;
        }
    }
    if (optind < argc)
        a->positional = argv[optind++];
    if (optind < argc)
        return cli_usage_error(command->usage, "unexpected argument \"%s\"", argv[optind]), -1;
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
    struct errbuf err;
    X509 *cert;

    if (cert_read_pem_file(path, &cert, NULL, &err) < 0) {
        log_error("%s: %s", what, err.msg);
        return NULL;
    }
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
        return cli_usage_error(USAGE_REQUEST, "give at least one --domain");
    if (!a->out)
        return cli_usage_error(USAGE_REQUEST, "--out DIR is required");
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
        return cli_usage_error(USAGE_REVOKE, "revoke needs the certificate file");
    if (a->reason && acme_revoke_reason_parse(a->reason, &reason) < 0)
        return cli_usage_error(USAGE_REVOKE, "--reason \"%s\": use unspecified, keyCompromise, "
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
        return cli_usage_error(USAGE_ARI, "ari needs the certificate file");
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

/* Parse, then RUN: with a certificate file for revoke and ari, without one for request. */
static int run(int argc, char **argv, const struct cli_command *command,
               int (*run_parsed)(struct cert_args *a))
{
    struct cert_args a;

    if (parse(argc, argv, command, &a) < 0)
        return EXIT_FAILED;
    if (command == &request_command && a.positional)
        return cli_usage_error(command->usage, "unexpected argument \"%s\"", a.positional);
    if (cli_crypto_init() < 0)
        return EXIT_FAILED;
    return run_parsed(&a);
}

static int cert_request(int argc, char **argv)
{
    return run(argc, argv, &request_command, do_request);
}

static int cert_revoke(int argc, char **argv)
{
    return run(argc, argv, &revoke_command, do_revoke);
}

static int cert_ari(int argc, char **argv)
{
    return run(argc, argv, &ari_command, do_ari);
}

static const struct cli_subverb subverbs[] = {
    {&request_command, cert_request},
    {&revoke_command, cert_revoke},
    {&ari_command, cert_ari},
    {NULL, NULL},
};

const struct cli_verb cli_verb_cert = {
    .name = "cert",
    .summary = "certificates from an ACME CA: request, revoke, renewal information",
    .man = "ccs-cert",
    .subverbs = subverbs,
};
