/* cmd_account.c — `ccs account register|show|update|deactivate|rollover`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/account.h"
#include "acme/jws.h"
#include "cli/cli.h"
#include "cli/cli_acme.h"
#include "util/log.h"

#define ACCOUNT_ACME_USAGE "\n           " ACME_CLI_USAGE
static const char usage_register[] = "ccs account register [--only-existing]" ACCOUNT_ACME_USAGE;
static const char usage_show[] = "ccs account show" ACCOUNT_ACME_USAGE;
static const char usage_update[] = "ccs account update --contact mailto:ADDR..." ACCOUNT_ACME_USAGE;
static const char usage_deactivate[] = "ccs account deactivate" ACCOUNT_ACME_USAGE;
static const char usage_rollover[] = "ccs account rollover [--key-type T]" ACCOUNT_ACME_USAGE;

enum { OPT_KEY_TYPE = ACME_CLI_OPT_END, OPT_ONLY_EXISTING };

static int only_existing;

static const struct cli_option register_options[] = {
    {"only-existing", NULL, OPT_ONLY_EXISTING, "only find the account of the stored key; never create one"},
    ACME_CLI_OPTIONS,
    CLI_OPTION_END,
};
static const struct cli_option acme_options[] = {ACME_CLI_OPTIONS, CLI_OPTION_END};
static const struct cli_option rollover_options[] = {
    {"key-type", "T", OPT_KEY_TYPE, "the new account key's type; default ec-p256"},
    ACME_CLI_OPTIONS,
    CLI_OPTION_END,
};

#define ACCOUNT_EXAMPLE_CA "--server https://acme-staging-v02.api.letsencrypt.org/directory"
static const struct cli_command register_command = {
    .name = "account register",
    .usage = usage_register,
    .summary = "create the ACME account for a CA (exit 0), or find the existing one (exit 2)",
    .options = register_options,
    .examples = "ccs account register --agree-tos --contact mailto:admin@example.com\n"
                "ccs account register " ACCOUNT_EXAMPLE_CA " --agree-tos",
    .man = "ccs-account",
};
static const struct cli_command show_command = {
    .name = "account show",
    .usage = usage_show,
    .summary = "the account as the CA sees it: URL, status, contacts, key",
    .options = acme_options,
    .examples = "ccs account show --json",
    .man = "ccs-account",
};
static const struct cli_command update_command = {
    .name = "account update",
    .usage = usage_update,
    .summary = "replace the account's contacts with the --contact values given",
    .options = acme_options,
    .examples = "ccs account update --contact mailto:pki@example.com --contact mailto:ops@example.com",
    .man = "ccs-account",
};
static const struct cli_command deactivate_command = {
    .name = "account deactivate",
    .usage = usage_deactivate,
    .summary = "deactivate the account for good (the CA refuses it from then on)",
    .options = acme_options,
    .examples = "ccs account deactivate " ACCOUNT_EXAMPLE_CA,
    .man = "ccs-account",
};
static const struct cli_command rollover_command = {
    .name = "account rollover",
    .usage = usage_rollover,
    .summary = "change the account key (RFC 8555 section 7.3.5)",
    .options = rollover_options,
    .examples = "ccs account rollover --key-type ec-p384",
    .man = "ccs-account",
};

static int parse(int argc, char **argv, const struct cli_command *command, struct acme_cli *o,
                 enum key_type *new_key_type)
{
    int c, handled;

    acme_cli_defaults(o);
    *new_key_type = KEY_TYPE_DEFAULT;
    optind = 1;
    while ((c = cli_getopt(argc, argv, command)) != -1) {
        if ((handled = acme_cli_option(o, c, optarg)) < 0)
            return -1;
        if (handled)
            continue;
        if (c == OPT_KEY_TYPE) {
            if (key_type_parse(optarg, new_key_type) < 0)
                return cli_usage_error(command->usage, "--key-type \"%s\" is not a key type",
                                       optarg),
                       -1;
        } else if (c == OPT_ONLY_EXISTING) {
            only_existing = 1;
        } else {
            return cli_option_error(command->usage), -1;
        }
    }
    if (optind < argc)
        return cli_usage_error(command->usage, "unexpected argument \"%s\"", argv[optind]), -1;
    return cli_crypto_init();
}

static void print_account(const struct acme_cli *o, const struct acme_session *s,
                          const struct acme_account *a, const char *event)
{
    struct errbuf err;
    char *thumb = jws_thumbprint(s->account_key, &err);

    if (o->json) {
        json_t *contacts = json_array();
        for (size_t i = 0; i < a->contact_count; i++)
            json_array_append_new(contacts, json_string(a->contact[i]));
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?, s:s}", "event", event, "server",
                                 o->set.server, "url", s->client->kid, "status", a->status, "contact",
                                 contacts, "key_thumbprint", thumb, "key_file", s->paths.key));
    } else {
        printf("%s\n  server:  %s\n  account: %s\n  status:  %s\n", event, o->set.server,
               s->client->kid, a->status);
        for (size_t i = 0; i < a->contact_count; i++)
            printf("  contact: %s\n", a->contact[i]);
        printf("  key:     %s (%s, thumbprint %s)\n", s->paths.key, jws_alg(s->account_key),
               thumb ? thumb : "?");
    }
    free(thumb);
}

static int do_register(const struct acme_cli *o)
{
    struct acme_session s;
    struct acme_account a;
    struct errbuf err;
    int created = 0, rc = EXIT_FAILED;

    if (cli_session_open(o, SESSION_KEY_ONLY, &s) < 0)
        return EXIT_FAILED;
    if (cli_session_register(o, &s, only_existing, &created) < 0)
        goto out;
    if (acme_account_fetch(s.client, &a, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    print_account(o, &s, &a, created ? "registered" : "already registered");
    acme_account_free(&a);
    rc = created ? EXIT_CHANGED : EXIT_UNCHANGED;
out:
    acme_session_close(&s);
    return rc;
}

/* show, update and deactivate: one request on the existing account, then the account printed. */
enum account_op { ACCOUNT_SHOW, ACCOUNT_UPDATE, ACCOUNT_DEACTIVATE };

static int do_account_op(const struct acme_cli *o, enum account_op op)
{
    static const char *const events[] = {"account", "updated", "deactivated"};
    struct acme_session s;
    struct acme_account a;
    struct errbuf err;
    int rc = EXIT_FAILED, got;

    if (cli_session_open(o, SESSION_ACCOUNT, &s) < 0)
        return EXIT_FAILED;
    got = op == ACCOUNT_UPDATE
              ? acme_account_update(s.client, o->set.contact, o->set.contact_count, &a, &err)
          : op == ACCOUNT_DEACTIVATE ? acme_account_deactivate(s.client, &a, &err)
                                     : acme_account_fetch(s.client, &a, &err);
    if (got < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    if (op == ACCOUNT_DEACTIVATE &&
        account_info_save(&s.paths, o->set.server, s.client->kid, a.status, &err) < 0)
        log_warning("%s", err.msg);
    print_account(o, &s, &a, events[op]);
    acme_account_free(&a);
    rc = 0;
out:
    acme_session_close(&s);
    return rc;
}

/* The new key is saved beside the old one before the CA is asked, and renamed over it after:
 * a crash between the two leaves account.key.new, which `ccs account show` can be pointed at. */
static int do_rollover(const struct acme_cli *o, enum key_type type)
{
    struct acme_session s;
    struct acme_account a;
    EVP_PKEY *new_key = NULL;
    struct errbuf err;
    int rc = EXIT_FAILED;

    if (cli_session_open(o, SESSION_ACCOUNT, &s) < 0)
        return EXIT_FAILED;
    if (key_generate(type, &new_key, &err) < 0 || key_save(new_key, s.paths.new_key, &err) < 0 ||
        acme_account_key_change(s.client, new_key, &err) < 0) {
        log_error("key rollover: %s", err.msg);
        goto out;
    }
    if (rename(s.paths.new_key, s.paths.key) < 0) {
        log_error("the CA now knows the new key, but %s could not be renamed to %s: do it by hand",
                  s.paths.new_key, s.paths.key);
        goto out;
    }
    EVP_PKEY_free(s.account_key);
    s.account_key = new_key;
    new_key = NULL;
    if (acme_account_fetch(s.client, &a, &err) < 0) {
        log_error("after rollover: %s", err.msg);
        goto out;
    }
    print_account(o, &s, &a, "rolled over");
    acme_account_free(&a);
    rc = 0;
out:
    EVP_PKEY_free(new_key);
    acme_session_close(&s);
    return rc;
}

static int account_register(int argc, char **argv)
{
    struct acme_cli o;
    enum key_type unused;
    return parse(argc, argv, &register_command, &o, &unused) < 0 ? EXIT_FAILED : do_register(&o);
}

static int account_show(int argc, char **argv)
{
    struct acme_cli o;
    enum key_type unused;
    return parse(argc, argv, &show_command, &o, &unused) < 0 ? EXIT_FAILED
                                                              : do_account_op(&o, ACCOUNT_SHOW);
}

static int account_update(int argc, char **argv)
{
    struct acme_cli o;
    enum key_type unused;
    return parse(argc, argv, &update_command, &o, &unused) < 0 ? EXIT_FAILED
                                                                : do_account_op(&o, ACCOUNT_UPDATE);
}

static int account_deactivate(int argc, char **argv)
{
    struct acme_cli o;
    enum key_type unused;
    return parse(argc, argv, &deactivate_command, &o, &unused) < 0
               ? EXIT_FAILED
               : do_account_op(&o, ACCOUNT_DEACTIVATE);
}

static int account_rollover(int argc, char **argv)
{
    struct acme_cli o;
    enum key_type type;
    return parse(argc, argv, &rollover_command, &o, &type) < 0 ? EXIT_FAILED : do_rollover(&o, type);
}

static const struct cli_subverb subverbs[] = {
    {&register_command, account_register},     {&show_command, account_show},
    {&update_command, account_update},         {&deactivate_command, account_deactivate},
    {&rollover_command, account_rollover},     {NULL, NULL},
};

const struct cli_verb cli_verb_account = {
    .name = "account",
    .summary = "the ACME account kept for a CA",
    .man = "ccs-account",
    .subverbs = subverbs,
};
