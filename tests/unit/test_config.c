/* Unit tests for src/manage/config.c: ccs.conf parsed into structs, and every error reported with
 * its file and line. Configs are written into a fresh directory per test; line numbers in the
 * comments on the left of each config line are the ones the tests expect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "manage/config.h"
#include "manage/store_config.h"
#include "testcert.h"

static char *dir;
static char conf[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    dir = testcert_tmpdir();
    snprintf(conf, sizeof(conf), "%s/ccs.conf", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcert_rmdir(dir);
    return 0;
}

/* DIR/REL, creating the directories on the way. */
static void write_file(const char *rel, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void stub(const char *rel)
{
    write_file(rel, "not-a-real-secret\n", 0600);
}

static void stub_program(const char *rel)
{
    write_file(rel, "#!/bin/sh\nexit 0\n", 0755);
}

static void dump(const struct config_errors *e)
{
    for (size_t i = 0; i < e->count; i++)
        fprintf(stderr, "  %s:%d: %s\n", e->items[i].where.file, e->items[i].where.line,
                e->items[i].message);
}

static int load(const char *text, struct config *cfg, struct config_errors *e)
{
    write_file("ccs.conf", text, 0644);
    return config_load(conf, cfg, e);
}

/* TEXT loads without errors. */
static void load_ok(const char *text, struct config *cfg)
{
    struct config_errors e;
    if (load(text, cfg, &e) != 0) {
        dump(&e);
        config_errors_free(&e);
        fail_msg("config refused");
    }
    assert_int_equal(e.count, 0);
}

/* TEXT is refused with exactly COUNT errors (they are checked with expect()). */
static void load_bad(const char *text, struct config_errors *e, size_t count)
{
    struct config cfg;
    int rc = load(text, &cfg, e);
    if (rc != -1 || e->count != count) {
        dump(e);
        fail_msg("expected %zu errors, got %zu (rc %d)", count, e->count, rc);
    }
    assert_null(cfg.certificates); /* OUT is freed on failure */
}

/* An error at LINE whose message contains FRAGMENT, naming the config file. */
static void expect(const struct config_errors *e, int line, const char *fragment)
{
    for (size_t i = 0; i < e->count; i++)
        if (e->items[i].where.line == line && strstr(e->items[i].message, fragment)) {
            assert_string_equal(e->items[i].where.file, line ? conf : e->items[i].where.file);
            return;
        }
    dump(e);
    fail_msg("no error at line %d containing \"%s\"", line, fragment);
}

/* An error at LINE whose message is exactly MESSAGE. */
static void expect_exact(const struct config_errors *e, int line, const char *message)
{
    for (size_t i = 0; i < e->count; i++)
        if (e->items[i].where.line == line && strcmp(e->items[i].message, message) == 0)
            return;
    dump(e);
    fail_msg("no error at line %d reading \"%s\"", line, message);
}

static char *in_dir(const char *rel)
{
    static char path[PATH_MAX];
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    snprintf(path, sizeof(path), "%s/%s", real, rel);
    return path;
}

/* ---- valid configs ---------------------------------------------------------------------- */

static void test_empty_file_is_valid(void **state)
{
    struct config cfg;
    (void)state;

    load_ok("", &cfg);
    assert_int_equal(cfg.certificate_count, 0);
    assert_int_equal(cfg.store_count, 0);
    assert_int_equal(cfg.task_count, 0);
    assert_string_equal(cfg.path, conf);
    assert_string_equal(cfg.state_dir, CONFIG_DEFAULT_STATE_DIR);
    assert_string_equal(cfg.live_dir, CONFIG_DEFAULT_LIVE_DIR);
    assert_string_equal(cfg.server, CONFIG_DEFAULT_SERVER);
    assert_null(cfg.ca_bundle);
    assert_int_equal(cfg.http_port, CONFIG_DEFAULT_HTTP_PORT);
    assert_int_equal(cfg.key_type, KEY_TYPE_DEFAULT);
    assert_int_equal(cfg.policy.mode, RENEWAL_PERCENT_OF_LIFETIME);
    assert_true(cfg.policy.value == RENEWAL_DEFAULT_PERCENT);
    assert_int_equal(cfg.agree_tos, 0);
    config_free(&cfg);

    load_ok("# only comments\n; and blank lines\n\n   \n[ccs]\n", &cfg);
    assert_int_equal(cfg.certificate_count, 0);
    config_free(&cfg);

    load_ok("\xEF\xBB\xBF[ccs]\nagree-tos = yes\n", &cfg); /* UTF-8 BOM */
    assert_int_equal(cfg.agree_tos, 1);
    config_free(&cfg);
}

static void test_full_config(void **state)
{
    struct config cfg;
    const struct config_certificate *www, *wild;
    const struct config_store *st;
    const struct config_task *t;
    (void)state;

    stub("secrets/store.pw");
    stub("secrets/pfx.pw");
    stub("secrets/export.pw");
    stub("secrets/eab.hmac");
    stub("ca.pem");
    stub_program("bin/dns-hook");
    stub_program("bin/reload");
    load_ok("[ccs]\n"
            "state-dir = /var/lib/ccs-test\n"
            "server = https://acme.example/dir\n"
            "ca-bundle = ca.pem\n"
            "contact = mailto:a@example.com, mailto:b@example.com\n"
            "contact = mailto:c@example.com\n"
            "agree-tos = true\n"
            "eab-kid = kid-1\n"
            "eab-hmac-file = secrets/eab.hmac\n"
            "key-type = rsa-3072\n"
            "renewal-mode = days-before-expiry\n"
            "renewal-value = 21\n"
            "http-port = 8080\n"
            "live-dir = live\n"
            "\n"
            "[store \"iis\"]\n"
            "location = /srv/store\n"
            "password-file = secrets/store.pw\n"
            "format = aes256\n"
            "mode = 0600\n"
            "group = iis-readers\n"
            "\n"
            "[certificate \"www.example.com\"]\n"
            "domains = www.example.com example.com,shop.example.com\n"
            "domains = 192.0.2.1\n"
            "challenge = http-01\n"
            "webroot = /var/www\n"
            "key-type = ec-p384\n"
            "reuse-key = on\n"
            "profile = tlsserver\n"
            "preferred-chain = ISRG Root X1\n"
            "renewal-mode = percent\n"
            "renewal-value = 66.5\n"
            "deployment = store-only\n"
            "pfx-password-file = secrets/pfx.pw\n"
            "\n"
            "[certificate \"wild\"]\n"
            "domains = *.example.com\n"
            "challenge = dns-01\n"
            "hook = bin/dns-hook\n"
            "hook-timeout = 30\n"
            "\n"
            "[certificate \"responder\"]\n"
            "domains = r.example.com\n"
            "http-port = 8402\n"
            "http-listen = ::1\n"
            "\n"
            "[task \"www.example.com.iis\"]\n"
            "type = deploy-ccs\n"
            "store = iis\n"
            "phase = pre\n"
            "trigger = any\n"
            "fatal = yes\n"
            "run-if-previous-failed = 1\n"
            "\n"
            "[task \"wild.files\"]\n"
            "type = export\n"
            "cert = out/cert.pem\n"
            "chain = /etc/out/chain.pem\n"
            "fullchain = /etc/out/fullchain.pem\n"
            "key = /etc/out/key.pem\n"
            "pfx = /etc/out/wild.pfx\n"
            "pfx-password-file = secrets/export.pw\n"
            "mode = 640\n"
            "owner = root\n"
            "group = 1000\n"
            "\n"
            "[task \"www.example.com.reload\"]\n"
            "type = script\n"
            "program = bin/reload\n"
            "timeout = 15\n"
            "trigger = manual\n",
            &cfg);

    assert_string_equal(cfg.state_dir, "/var/lib/ccs-test");
    assert_string_equal(cfg.server, "https://acme.example/dir");
    assert_string_equal(cfg.ca_bundle, in_dir("ca.pem"));
    assert_int_equal(cfg.contact_count, 3);
    assert_string_equal(cfg.contact[0], "mailto:a@example.com");
    assert_string_equal(cfg.contact[1], "mailto:b@example.com");
    assert_string_equal(cfg.contact[2], "mailto:c@example.com");
    assert_int_equal(cfg.agree_tos, 1);
    assert_string_equal(cfg.eab_kid, "kid-1");
    assert_string_equal(cfg.eab_hmac_file, in_dir("secrets/eab.hmac"));
    assert_int_equal(cfg.key_type, KEY_RSA_3072);
    assert_int_equal(cfg.policy.mode, RENEWAL_DAYS_BEFORE_EXPIRY);
    assert_true(cfg.policy.value == 21);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.live_dir, in_dir("live"));

    assert_int_equal(cfg.store_count, 1);
    st = config_find_store(&cfg, "iis");
    assert_ptr_equal(st, &cfg.stores[0]);
    assert_int_equal(st->where.line, 16);
    assert_string_equal(st->where.file, conf);
    assert_string_equal(st->location, "/srv/store");
    assert_string_equal(st->password_file, in_dir("secrets/store.pw"));
    assert_int_equal(st->format, PFX_FORMAT_AES256);
    assert_int_equal(st->mode, 0600);
    assert_string_equal(st->group, "iis-readers");

    assert_int_equal(cfg.certificate_count, 3);
    www = config_find_certificate(&cfg, "www.example.com");
    assert_non_null(www);
    assert_int_equal(www->where.line, 23);
    assert_int_equal(www->domain_count, 4);
    assert_string_equal(www->domains[0], "www.example.com");
    assert_string_equal(www->domains[1], "example.com");
    assert_string_equal(www->domains[2], "shop.example.com");
    assert_string_equal(www->domains[3], "192.0.2.1");
    assert_string_equal(www->challenge, "http-01");
    assert_string_equal(www->webroot, "/var/www");
    assert_null(www->hook);
    assert_int_equal(www->hook_timeout_s, CONFIG_DEFAULT_HOOK_TIMEOUT_S);
    assert_int_equal(www->http_port, 8080); /* from [ccs] */
    assert_int_equal(www->key_type, KEY_EC_P384);
    assert_int_equal(www->reuse_key, 1);
    assert_string_equal(www->profile, "tlsserver");
    assert_string_equal(www->preferred_chain, "ISRG Root X1");
    assert_int_equal(www->policy.mode, RENEWAL_PERCENT_OF_LIFETIME);
    assert_true(www->policy.value == 66.5);
    assert_int_equal(www->deployment, DEPLOYMENT_STORE_ONLY);
    assert_string_equal(www->pfx_password_file, in_dir("secrets/pfx.pw"));

    wild = config_find_certificate(&cfg, "wild");
    assert_non_null(wild);
    assert_string_equal(wild->domains[0], "*.example.com");
    assert_string_equal(wild->challenge, "dns-01");
    assert_string_equal(wild->hook, in_dir("bin/dns-hook"));
    assert_int_equal(wild->hook_timeout_s, 30);
    assert_int_equal(wild->key_type, KEY_RSA_3072);                  /* from [ccs] */
    assert_int_equal(wild->policy.mode, RENEWAL_DAYS_BEFORE_EXPIRY); /* from [ccs] */
    assert_true(wild->policy.value == 21);
    assert_int_equal(wild->deployment, DEPLOYMENT_NONE);
    assert_null(wild->pfx_password_file);
    assert_int_equal(wild->reuse_key, 0);

    assert_int_equal(cfg.certificates[2].http_port, 8402);
    assert_string_equal(cfg.certificates[2].http_listen, "::1");
    assert_string_equal(cfg.certificates[2].challenge, "http-01");
    assert_null(config_find_certificate(&cfg, "nope"));
    assert_null(config_find_store(&cfg, "nope"));

    assert_int_equal(cfg.task_count, 4); /* the implied machine copy, then file order */
    t = &cfg.tasks[0];
    {
        char want[PATH_MAX];
        assert_string_equal(t->name, LIVE_COPY_TASK); /* www is store-only */
        assert_string_equal(t->certificate, "www.example.com");
        assert_int_equal(t->implied, 1);
        assert_int_equal(t->type, TASK_EXPORT);
        assert_int_equal(t->phase, TASK_PHASE_POST);
        assert_int_equal(t->trigger, TRIGGER_ON_SUCCESS);
        assert_int_equal(t->dir_mode, 0755);
        assert_int_equal(t->where.line, www->where.line);
        snprintf(want, sizeof(want), "%s/www.example.com/privkey.pem", cfg.live_dir);
        assert_string_equal(t->key_path, want);
        snprintf(want, sizeof(want), "%s/www.example.com/cert.pfx", cfg.live_dir);
        assert_string_equal(t->pfx_path, want);
        assert_string_equal(t->pfx_password_file, www->pfx_password_file);
        assert_int_equal(t->mode, 0); /* certificates 0644, key and PFX 0640 */
    }
    t = &cfg.tasks[1];
    assert_string_equal(t->name, "iis");
    assert_int_equal(t->implied, 0);
    assert_string_equal(t->certificate, "www.example.com");
    assert_int_equal(t->where.line, 48);
    assert_int_equal(t->type, TASK_DEPLOY_CCS);
    assert_string_equal(t->store, "iis");
    assert_int_equal(t->phase, TASK_PHASE_PRE);
    assert_int_equal(t->trigger, TRIGGER_ANY);
    assert_int_equal(t->fatal, 1);
    assert_int_equal(t->run_if_previous_failed, 1);
    t = &cfg.tasks[2];
    assert_string_equal(t->name, "files");
    assert_string_equal(t->certificate, "wild");
    assert_int_equal(t->type, TASK_EXPORT);
    assert_string_equal(t->cert_path, in_dir("out/cert.pem"));
    assert_string_equal(t->chain_path, "/etc/out/chain.pem");
    assert_string_equal(t->fullchain_path, "/etc/out/fullchain.pem");
    assert_string_equal(t->key_path, "/etc/out/key.pem");
    assert_string_equal(t->pfx_path, "/etc/out/wild.pfx");
    assert_string_equal(t->pfx_password_file, in_dir("secrets/export.pw"));
    assert_int_equal(t->mode, 0640);
    assert_string_equal(t->owner, "root");
    assert_string_equal(t->group, "1000");
    assert_int_equal(t->phase, TASK_PHASE_POST);
    assert_int_equal(t->trigger, TRIGGER_ON_SUCCESS);
    assert_int_equal(t->fatal, 0);
    t = &cfg.tasks[3];
    assert_string_equal(t->name, "reload");
    assert_int_equal(t->type, TASK_SCRIPT);
    assert_string_equal(t->program, in_dir("bin/reload"));
    assert_int_equal(t->timeout_s, 15);
    assert_int_equal(t->trigger, TRIGGER_MANUAL);
    config_free(&cfg);
}

static void test_defaults_and_inheritance(void **state)
{
    struct config cfg;
    (void)state;

    /* [ccs] after the certificates still gives them its defaults. */
    load_ok("[certificate \"a\"]\n"
            "domains = a.example\n"
            "[certificate \"b\"]\n"
            "domains = b.example\n"
            "renewal-value = 50\n"
            "[certificate \"c\"]\n"
            "domains = c.example\n"
            "renewal-mode = days-after-renewal\n"
            "renewal-value = 60\n"
            "[certificate \"d\"]\n"
            "domains = d.example\n"
            "renewal-mode = percent\n"
            "[task \"a.x\"]\n"
            "type = script\n"
            "program = /bin/sh\n"
            "[task \"a.y\"]\n"
            "type = export\n"
            "key = /tmp/k.pem\n"
            "[ccs]\n"
            "key-type = rsa-4096\n"
            "http-port = 8000\n",
            &cfg);
    assert_int_equal(cfg.certificates[0].key_type, KEY_RSA_4096);
    assert_int_equal(cfg.certificates[0].http_port, 8000);
    assert_string_equal(cfg.certificates[0].challenge, "http-01");
    assert_int_equal(cfg.certificates[0].policy.mode, RENEWAL_PERCENT_OF_LIFETIME);
    assert_true(cfg.certificates[0].policy.value == RENEWAL_DEFAULT_PERCENT);
    assert_int_equal(cfg.certificates[1].policy.mode, RENEWAL_PERCENT_OF_LIFETIME);
    assert_true(cfg.certificates[1].policy.value == 50);
    assert_int_equal(cfg.certificates[2].policy.mode, RENEWAL_DAYS_AFTER_RENEWAL);
    assert_true(cfg.certificates[2].policy.value == 60);
    assert_true(cfg.certificates[3].policy.value == RENEWAL_DEFAULT_PERCENT);
    assert_int_equal(cfg.tasks[0].timeout_s, CONFIG_DEFAULT_SCRIPT_TIMEOUT_S);
    assert_int_equal(cfg.tasks[0].phase, TASK_PHASE_POST);
    assert_int_equal(cfg.tasks[0].trigger, TRIGGER_ON_SUCCESS);
    assert_int_equal(cfg.tasks[1].mode, 0); /* not set: the export picks per kind of file */
    assert_null(cfg.tasks[1].owner);
    config_free(&cfg);

    /* A certificate's renewal-value alone takes [ccs]'s mode. */
    load_ok("[ccs]\n"
            "renewal-mode = days-before-expiry\n"
            "renewal-value = 30\n"
            "[certificate \"a\"]\n"
            "domains = a.example\n"
            "renewal-value = 10\n"
            "[certificate \"b\"]\n"
            "domains = b.example\n"
            "renewal-mode = days-before-expiry\n",
            &cfg);
    assert_int_equal(cfg.certificates[0].policy.mode, RENEWAL_DAYS_BEFORE_EXPIRY);
    assert_true(cfg.certificates[0].policy.value == 10);
    assert_true(cfg.certificates[1].policy.value == 30);
    config_free(&cfg);
}

static void test_booleans(void **state)
{
    static const char *const yes[] = {"yes", "true", "1", "on", "YES", "True", "On"};
    static const char *const no[] = {"no", "false", "0", "off", "NO", "Off"};
    struct config cfg;
    struct config_errors e;
    char text[128];
    (void)state;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(text, sizeof(text), "[ccs]\nagree-tos = %s\n", yes[i]);
        load_ok(text, &cfg);
        assert_int_equal(cfg.agree_tos, 1);
        config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(text, sizeof(text), "[ccs]\nagree-tos = %s\n", no[i]);
        load_ok(text, &cfg);
        assert_int_equal(cfg.agree_tos, 0);
        config_free(&cfg);
    }
    load_bad("[ccs]\n"
             "agree-tos = maybe\n"
             "[certificate \"a\"]\n"
             "domains = a.example\n"
             "reuse-key = y\n",
             &e, 2);
    expect(&e, 2, "agree-tos \"maybe\": not a boolean");
    expect(&e, 5, "reuse-key \"y\": not a boolean");
    config_errors_free(&e);
}

static void test_relative_paths_resolved(void **state)
{
    struct config cfg;
    struct config_errors e;
    char cwd[PATH_MAX];
    (void)state;

    stub("secrets/pw");
    write_file("ccs.conf",
               "[ccs]\n"
               "state-dir = state\n"
               "[store \"s\"]\n"
               "location = ../elsewhere/store\n"
               "password-file = secrets/pw\n",
               0644);
    /* Loaded by a relative path from another directory: still the config's directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(chdir("secrets"), 0);
    assert_int_equal(config_load("../ccs.conf", &cfg, &e), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(cfg.path, "../ccs.conf");
    assert_string_equal(cfg.state_dir, in_dir("state"));
    assert_string_equal(cfg.stores[0].location, in_dir("../elsewhere/store"));
    assert_string_equal(cfg.stores[0].password_file, in_dir("secrets/pw"));
    assert_int_equal(cfg.stores[0].password_file[0], '/');
    config_free(&cfg);
    config_errors_free(&e);
}

static void test_lists_continue_on_indented_lines(void **state)
{
    struct config cfg;
    (void)state;

    load_ok("[ccs]\n"
            "contact = mailto:a@example.com ; first\n"
            "    mailto:b@example.com, mailto:c@example.com ; more\n"
            "[certificate \"a\"]\n"
            "domains = a.example ; inline comment\n"
            "  b.example\n"
            "; a comment between\n"
            "\tc.example d.example ; and here\n"
            "key-type = ec-p256 ; comment\n"
            "profile = x#y\n",
            &cfg);
    assert_int_equal(cfg.contact_count, 3);
    assert_string_equal(cfg.contact[2], "mailto:c@example.com");
    assert_int_equal(cfg.certificates[0].domain_count, 4);
    assert_string_equal(cfg.certificates[0].domains[1], "b.example");
    assert_string_equal(cfg.certificates[0].domains[3], "d.example");
    assert_string_equal(cfg.certificates[0].profile, "x#y"); /* '#' is no inline comment */
    config_free(&cfg);
}

static void test_crlf_and_paths_not_urls(void **state)
{
    struct config cfg;
    struct config_errors e;
    (void)state;

    {
        char text[6144], comment[5000]; /* longer than a line may be (4,096) */
        memset(comment, 'c', sizeof(comment) - 1);
        comment[0] = '#';
        comment[sizeof(comment) - 1] = '\0';
        snprintf(text, sizeof(text), "%s\n[ccs]\nhttp-port = 81\n", comment);
        load_ok(text, &cfg); /* long comments are fine: only key lines meet the line limit */
        assert_int_equal(cfg.http_port, 81);
        config_free(&cfg);
    }

    load_ok("[ccs]\r\nagree-tos = yes\r\n[certificate \"a\"]\r\ndomains = a.example,\r\n"
            "  b.example\r\n",
            &cfg);
    assert_int_equal(cfg.agree_tos, 1);
    assert_int_equal(cfg.certificates[0].domain_count, 2);
    assert_string_equal(cfg.certificates[0].domains[1], "b.example");
    config_free(&cfg);

    /* A store on an SMB share: its location is kept as written, with its own keys. */
    stub("secrets/store.pw");
    stub("secrets/smb.creds");
    load_ok("[store \"share\"]\n"
            "location = \\\\fs.example\\certs\\ccs\n"
            "password-file = secrets/store.pw\n"
            "credentials-file = secrets/smb.creds\n"
            "encrypt = yes\n",
            &cfg);
    assert_string_equal(cfg.stores[0].location, "\\\\fs.example\\certs\\ccs");
    assert_non_null(strstr(cfg.stores[0].credentials_file, "secrets/smb.creds"));
    assert_int_equal(cfg.stores[0].encrypt, 1);
    assert_int_equal(cfg.stores[0].kerberos, 0);
    config_free(&cfg);

    /* Credentials in the location are refused without being repeated; password files are
     * local; mode belongs to a local directory, the share keys to a share. */
    load_bad("[store \"s\"]\n"                             /* 1 */
             "location = smb://alice:secret@fs/certs\n"    /* 2 */
             "password-file = \\\\fs\\pw\n"               /* 3 */
             "[store \"t\"]\n"                             /* 4 */
             "location = //fs/certs\n"                     /* 5 */
             "password-file = secrets/store.pw\n"          /* 6 */
             "mode = 0600\n"                               /* 7 */
             "[store \"u\"]\n"                             /* 8 */
             "location = /srv/ccs\n"                       /* 9 */
             "password-file = secrets/store.pw\n"          /* 10 */
             "kerberos = yes\n",                           /* 11 */
             &e, 4);
    expect(&e, 2, "location \"smb://fs/certs\": store smb://fs/certs: a location must not carry");
    for (size_t i = 0; i < e.count; i++) {
        assert_null(strstr(e.items[i].message, "alice"));
        assert_null(strstr(e.items[i].message, "secret"));
    }
    expect(&e, 3, "a local path is expected, not a URL or UNC name");
    expect(&e, 7, "mode applies to a local directory only");
    expect(&e, 11, "kerberos applies to an SMB share only");
    config_errors_free(&e);
}

/* A copy of a [store] outlives its configuration (ccs serve keeps one across reloads), and two
 * stores open the same way only when every key that opens it is the same. */
static void test_store_copy_and_same_opening(void **state)
{
    struct config cfg;
    struct config_store copy = {0}, other = {0};
    struct errbuf err;
    char *keep;
    (void)state;

    stub("secrets/store.pw");
    stub("secrets/smb.creds");
    load_ok("[store \"share\"]\n"
            "location = //fs.example/certs/ccs\n"
            "password-file = secrets/store.pw\n"
            "credentials-file = secrets/smb.creds\n"
            "encrypt = yes\n",
            &cfg);
    assert_int_equal(config_store_copy(&cfg.stores[0], &copy, &err), 0);
    assert_ptr_not_equal(copy.location, cfg.stores[0].location);
    assert_int_equal(config_store_copy(&copy, &other, &err), 0);
    config_free(&cfg); /* the copies are their own */
    assert_string_equal(copy.name, "share");
    assert_string_equal(copy.location, "//fs.example/certs/ccs");
    assert_non_null(strstr(copy.password_file, "secrets/store.pw"));
    assert_non_null(strstr(copy.credentials_file, "secrets/smb.creds"));
    assert_int_equal(copy.encrypt, 1);
    assert_null(copy.where.file);
    assert_true(config_store_same_opening(&copy, &other));

    /* each key that opens the store, changed alone */
    keep = other.credentials_file;
    other.credentials_file = NULL;
    assert_false(config_store_same_opening(&copy, &other));
    other.credentials_file = keep;
    other.kerberos = 1;
    assert_false(config_store_same_opening(&copy, &other));
    other.kerberos = 0;
    other.encrypt = 0;
    assert_false(config_store_same_opening(&copy, &other));
    other.encrypt = 1;
    other.guest = 1;
    assert_false(config_store_same_opening(&copy, &other));
    other.guest = 0;
    keep = other.location;
    other.location = "//fs.example/certs/other";
    assert_false(config_store_same_opening(&copy, &other));
    other.location = keep;
    keep = other.password_file;
    other.password_file = "/elsewhere/pw";
    assert_false(config_store_same_opening(&copy, &other));
    other.password_file = keep;
    other.mode = 0600; /* not how it is opened: the same */
    assert_true(config_store_same_opening(&copy, &other));

    config_store_clear(&copy);
    config_store_clear(&other);
    assert_null(copy.name);
    assert_null(other.location);
}

/* A store's mode that check calls an error is refused (issue 12, item 7). */
static void test_store_mode_check_errors(void **state)
{
    struct config_errors e;
    (void)state;

    stub("secrets/store.pw");
    load_bad("[store \"a\"]\n"                    /* 1 */
             "location = /srv/ccs\n"               /* 2 */
             "password-file = secrets/store.pw\n"  /* 3 */
             "mode = 0644\n"                       /* 4 */
             "[store \"b\"]\n"                    /* 5 */
             "location = /srv/ccs2\n"              /* 6 */
             "password-file = secrets/store.pw\n"  /* 7 */
             "mode = 0660\n",                      /* 8 */
             &e, 2);
    expect(&e, 4, "mode \"0644\": would make the store's files readable by every local user");
    expect(&e, 8, "mode \"0660\": would make the store's files writable by the group");
    config_errors_free(&e);
}

static void test_task_names_split_at_last_dot(void **state)
{
    struct config cfg;
    struct config_errors e;
    (void)state;

    load_ok("[certificate \"www.example.com\"]\n"
            "domains = www.example.com\n"
            "[task \"www.example.com.reload-web_1\"]\n"
            "type = script\n"
            "program = /bin/sh\n",
            &cfg);
    assert_string_equal(cfg.tasks[0].certificate, "www.example.com");
    assert_string_equal(cfg.tasks[0].name, "reload-web_1");
    config_free(&cfg);

    load_bad("[certificate \"a\"]\n"      /* 1 */
             "domains = a.example\n"      /* 2 */
             "[task \"nodot\"]\n"         /* 3 */
             "type = script\n"            /* 4: in a refused section: ignored */
             "[task \".x\"]\n"            /* 5 */
             "[task \"a.\"]\n"            /* 6 */
             "[task \"a.b c\"]\n"         /* 7 */
             "[certificate \"../etc\"]\n" /* 8 */
             "[store \"-x\"]\n",          /* 9 */
             &e, 6);
    expect(&e, 3, "task \"nodot\" must be named CERT.TASK");
    expect(&e, 5, "must be named CERT.TASK");
    expect(&e, 6, "must be named CERT.TASK");
    expect(&e, 7, "task name \"b c\" is not usable");
    expect(&e, 8, "certificate name \"../etc\" is not usable");
    expect(&e, 9, "store name \"-x\" is not usable");
    config_errors_free(&e);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_unknown_key_with_suggestion(void **state)
{
    struct config_errors e;
    (void)state;

    stub("pw");
    load_bad("[store \"iis\"]\n"           /* 1 */
             "location = store\n"          /* 2 */
             "password-file = pw\n"        /* 3 */
             "password = hunter2\n"        /* 4 */
             "[certificate \"www\"]\n"     /* 5 */
             "domains = www.example.com\n" /* 6 */
             "renewal-mod = percent\n"     /* 7 */
             "colour = blue\n"             /* 8 */
             "pfx-password = hunter2\n"    /* 9 */
             "Domains = x.example\n"       /* 10 */
             "[task \"www.ccs\"]\n"        /* 11 */
             "tpye = deploy-ccs\n"         /* 12 */
             "type = deploy-ccs\n"         /* 13 */
             "store = iis\n"               /* 14 */
             "trigerr = on-success\n"      /* 15 */
             "[ccs]\n"                     /* 16 */
             "eab-hmac = c2VjcmV0\n"       /* 17 */
             "secret = x\n"                /* 18 */
             "cert = x\n",                 /* 19 */
             &e, 10);
    expect_exact(&e, 4,
                 "unknown key \"password\" in [store \"iis\"] (did you mean "
                 "\"password-file\"? secrets are given as files only)");
    expect_exact(&e, 7,
                 "unknown key \"renewal-mod\" in [certificate \"www\"] (did you mean "
                 "\"renewal-mode\"?)");
    expect_exact(&e, 8, "unknown key \"colour\" in [certificate \"www\"]");
    expect(&e, 9, "(did you mean \"pfx-password-file\"? secrets are given as files only)");
    expect(&e, 10, "(did you mean \"domains\"?)");
    expect(&e, 12, "(did you mean \"type\"?)");
    expect_exact(&e, 15,
                 "unknown key \"trigerr\" in [task \"www.ccs\"] (did you mean \"trigger\"?)");
    expect(&e, 17, "(did you mean \"eab-hmac-file\"? secrets are given as files only)");
    expect(&e, 18, "unknown key \"secret\" in [ccs] (did you mean \"eab-hmac-file\"?");
    expect(&e, 19, "unknown key \"cert\" in [ccs]");
    config_errors_free(&e);
}

static void test_syntax_errors(void **state)
{
    struct config_errors e;
    char text[6144], longline[4098]; /* 4,097 characters: one more than a line may hold */
    (void)state;

    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    memcpy(longline, "domains = ", 10);
    snprintf(text, sizeof(text),
             "agree-tos = yes\n"     /* 1: before any section */
             "[ccs\n"                /* 2 */
             "just words\n"          /* 3 */
             "[certficate \"a\"]\n"  /* 4 */
             "domains = a.example\n" /* 5: in a refused section: ignored */
             "[cert \"b\"]\n"        /* 6 */
             "[store]\n"             /* 7 */
             "[ccs \"x\"]\n"         /* 8 */
             "[bogus]\n"             /* 9 */
             "[store iis]\n"         /* 10 */
             "[certificate \"c\"]\n" /* 11 */
             "domains = c.example\n" /* 12 */
             "challenge = http-01\n" /* 13 */
             "   dns-01\n"           /* 14: continues a one-value key */
             "= value\n"             /* 15 */
             "%s\n"                  /* 16: too long */
             "key-type = ec-p256\n"  /* 17: still parsed after it */
             "[]\n",                 /* 18 */
             longline);
    load_bad(text, &e, 13);
    expect(&e, 1, "key \"agree-tos\" before any section");
    expect(&e, 2, "section header without its closing ']'");
    expect(&e, 3, "expected KEY = VALUE");
    expect_exact(&e, 4, "unknown section [certficate] (did you mean [certificate]?)");
    expect(&e, 6, "unknown section [cert] (did you mean [certificate]?)");
    expect(&e, 7, "section [store] needs a name: [store \"NAME\"]");
    expect(&e, 8, "section [ccs] takes no name");
    expect(&e, 9, "unknown section [bogus]");
    expect(&e, 10, "section header must read [store \"NAME\"]");
    expect(&e, 14, "indented line continues \"challenge\"");
    expect(&e, 15, "no key before '='");
    expect(&e, 16, "line longer than 4096 characters");
    expect(&e, 18, "section header without a section kind");
    /* Every error names the file. */
    for (size_t i = 0; i < e.count; i++)
        assert_string_equal(e.items[i].where.file, conf);
    config_errors_free(&e);
}

/* The longest line: CONFIG_LINE_MAX (4,096) characters, line end not counted (LF or CR LF), is
 * read whole — no tail parsed as a line of its own; one more is refused at its line. */
static void test_line_limit(void **state)
{
    static const char head[] = "[certificate \"a\"]\ndomains = a.example ; ";
    const size_t lead = strlen("domains = a.example ; ");
    char text[2 * 4096], *pad;
    struct config cfg;
    struct config_errors e;
    (void)state;

    for (int crlf = 0; crlf <= 1; crlf++) {
        snprintf(text, sizeof(text), "%s", head);
        pad = text + strlen(text);
        memset(pad, 'x', 4096 - lead);
        snprintf(pad + 4096 - lead, 16, "%s", crlf ? "\r\n" : "\n");
        load_ok(text, &cfg);
        assert_int_equal(cfg.certificates[0].domain_count, 1);
        config_free(&cfg);
    }
    snprintf(text, sizeof(text), "%s", head);
    pad = text + strlen(text);
    memset(pad, 'x', 4097 - lead);
    snprintf(pad + 4097 - lead, 16, "\ndomains = b.example\n");
    load_bad(text, &e, 1);
    expect(&e, 2, "line longer than 4096 characters");
    config_errors_free(&e);
}

/* "Listed twice" compares names as the CA would see them (a U-label and its A-label are one
 * name), within one certificate: the same name in another certificate is no duplicate. */
static void test_domains_twice_per_certificate(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[certificate \"a\"]\n"                                        /* 1 */
             "domains = b\xc3\xbc" "cher.example\n"                         /* 2 */
             "domains = xn--bcher-kva.example\n"                            /* 3 */
             "[certificate \"b\"]\n"                                        /* 4 */
             "domains = b\xc3\xbc" "cher.example, xn--bcher-kva.example\n"  /* 5 */
             "[certificate \"c\"]\n"                                        /* 6 */
             "domains = xn--bcher-kva.example, other.example\n"             /* 7 */
             "[certificate \"a\"]\n"                                        /* 8: a second "a" */
             "domains = xn--bcher-kva.example\n",                           /* 9 */
             &e, 3);
    expect(&e, 3, "domains \"xn--bcher-kva.example\": listed twice (first at line 2)");
    expect(&e, 5, "domains \"xn--bcher-kva.example\": listed twice (first at line 5)");
    expect(&e, 8, "duplicate section [certificate \"a\"] (first at line 1)");
    config_errors_free(&e);
}

/* Hosting scale (issue 11): 20,000 certificates, three stores, one deploy-ccs task each — for odd
 * certificates written before the certificate — and every seventh store-only (an implied copy).
 * Every certificate, task and implied copy is checked against what was written, every name is
 * found by config_find_*, and a duplicate and a dangling reference at the end of the file are
 * still found, at their lines. No time is asserted (bench/config-scale measures). */
#define SCALE_CERTS 20000
#define SCALE_STORES 3
#define SCALE_LIVE_EVERY 7

static char *scale_config(const char *tail)
{
    size_t size = (size_t)SCALE_CERTS * 200 + 1024, used = 0;
    char *text = malloc(size);

    assert_non_null(text);
    for (int s = 0; s < SCALE_STORES; s++)
        used += (size_t)snprintf(text + used, size - used,
                                 "[store \"s%d\"]\nlocation = store%d\n"
                                 "password-file = secrets/s%d.pw\n",
                                 s, s, s);
    for (int i = 0; i < SCALE_CERTS; i++) {
        char cert[128], task[64];
        snprintf(cert, sizeof(cert),
                 "[certificate \"cert-%d\"]\ndomains = cert-%d.example, www.cert-%d.example\n%s",
                 i, i, i, i % SCALE_LIVE_EVERY == 0 ? "deployment = store-only\n" : "");
        snprintf(task, sizeof(task), "[task \"cert-%d.ccs\"]\ntype = deploy-ccs\nstore = s%d\n", i,
                 i % SCALE_STORES);
        used += (size_t)snprintf(text + used, size - used, "%s%s", i % 2 ? task : cert,
                                 i % 2 ? cert : task);
    }
    snprintf(text + used, size - used, "%s", tail);
    return text;
}

static void test_many_certificates(void **state)
{
    struct config cfg;
    struct config_errors e;
    size_t live = (SCALE_CERTS + SCALE_LIVE_EVERY - 1) / SCALE_LIVE_EVERY, lines;
    char *text, name[64], want[64];
    (void)state;

    for (int s = 0; s < SCALE_STORES; s++) {
        snprintf(name, sizeof(name), "secrets/s%d.pw", s);
        stub(name);
    }
    text = scale_config("");
    load_ok(text, &cfg);
    assert_int_equal(cfg.certificate_count, SCALE_CERTS);
    assert_int_equal(cfg.store_count, SCALE_STORES);
    assert_int_equal(cfg.task_count, SCALE_CERTS + live);
    for (int i = 0; i < SCALE_CERTS; i++) {
        const struct config_certificate *c = &cfg.certificates[i];
        const struct config_task *t = &cfg.tasks[live + (size_t)i];
        snprintf(name, sizeof(name), "cert-%d", i);
        assert_string_equal(c->name, name);
        assert_ptr_equal(config_find_certificate(&cfg, name), c);
        assert_int_equal(c->domain_count, 2);
        snprintf(want, sizeof(want), "cert-%d.example", i);
        assert_string_equal(c->domains[0], want);
        snprintf(want, sizeof(want), "www.cert-%d.example", i);
        assert_string_equal(c->domains[1], want);
        assert_int_equal(c->deployment,
                         i % SCALE_LIVE_EVERY ? DEPLOYMENT_NONE : DEPLOYMENT_STORE_ONLY);
        assert_string_equal(t->certificate, name);
        assert_string_equal(t->name, "ccs");
        assert_int_equal(t->type, TASK_DEPLOY_CCS);
        assert_ptr_equal(config_find_store(&cfg, t->store), &cfg.stores[i % SCALE_STORES]);
    }
    for (size_t k = 0; k < live; k++) { /* implied copies first, in certificate order */
        const struct config_task *t = &cfg.tasks[k];
        int i = (int)k * SCALE_LIVE_EVERY;
        snprintf(name, sizeof(name), "cert-%d", i);
        assert_true(t->implied);
        assert_string_equal(t->certificate, name);
        assert_string_equal(t->name, LIVE_COPY_TASK);
        /* the PFX password: the store of the certificate's deploy-ccs task */
        assert_string_equal(t->pfx_password_file, cfg.stores[i % SCALE_STORES].password_file);
    }
    assert_null(config_find_certificate(&cfg, "cert-20000"));
    assert_null(config_find_store(&cfg, "s3"));
    config_free(&cfg);
    free(text);

    /* The file's last lines: a duplicate of the first task, a store that is not there. */
    text = scale_config("[task \"cert-0.ccs\"]\ntype = deploy-ccs\nstore = s1\n"
                        "[task \"cert-1.x\"]\ntype = deploy-ccs\nstore = s9\n");
    lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    load_bad(text, &e, 2);
    expect(&e, (int)lines - 5, "duplicate section [task \"cert-0.ccs\"] (first at line 13)");
    expect(&e, (int)lines, "names store \"s9\", but there is no [store \"s9\"]");
    config_errors_free(&e);
    free(text);
}

static void test_duplicates(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[ccs]\n"                        /* 1 */
             "http-port = 80\n"               /* 2 */
             "http-port = 81\n"               /* 3 */
             "[certificate \"a\"]\n"          /* 4 */
             "domains = a.example\n"          /* 5 */
             "domains = b.example\n"          /* 6: lists accumulate */
             "challenge = http-01\n"          /* 7 */
             "challenge = http-01\n"          /* 8 */
             "[certificate \"a\"]\n"          /* 9 */
             "domains = c.example\n"          /* 10 */
             "[task \"a.t\"]\n"               /* 11 */
             "type = script\n"                /* 12 */
             "program = /bin/sh\n"            /* 13 */
             "[task \"a.t\"]\n"               /* 14 */
             "type = script\n"                /* 15 */
             "program = /bin/sh\n"            /* 16 */
             "[ccs]\n"                        /* 17 */
             "[store \"s\"]\n"                /* 18 */
             "location = /x\n"                /* 19 */
             "password-file = /etc/passwd\n"  /* 20 */
             "[store \"s\"]\n"                /* 21 */
             "location = /y\n"                /* 22 */
             "password-file = /etc/passwd\n", /* 23 */
             &e, 6);
    expect_exact(&e, 3, "duplicate key \"http-port\" in [ccs] (first at line 2)");
    expect(&e, 8, "duplicate key \"challenge\" in [certificate \"a\"] (first at line 7)");
    expect_exact(&e, 9, "duplicate section [certificate \"a\"] (first at line 4)");
    expect(&e, 14, "duplicate section [task \"a.t\"] (first at line 11)");
    expect(&e, 17, "duplicate section [ccs] (first at line 1)");
    expect(&e, 21, "duplicate section [store \"s\"] (first at line 18)");
    config_errors_free(&e);

    /* Tasks given again: against the first of that name, whether the certificate exists or not;
     * the same task name under another certificate is no duplicate. */
    load_bad("[certificate \"a\"]\ndomains = a.example\n"       /* 1-2 */
             "[task \"a.t\"]\ntype = script\nprogram = /bin/sh\n" /* 3-5 */
             "[task \"b.t\"]\ntype = script\nprogram = /bin/sh\n" /* 6-8: no [certificate "b"] */
             "[task \"a.u\"]\ntype = script\nprogram = /bin/sh\n" /* 9-11 */
             "[task \"a.t\"]\ntype = script\nprogram = /bin/sh\n" /* 12-14 */
             "[task \"b.t\"]\ntype = script\nprogram = /bin/sh\n" /* 15-17 */
             "[task \"a.t\"]\ntype = script\nprogram = /bin/sh\n" /* 18-20 */
             "[certificate \"a.b\"]\ndomains = c.example\n"     /* 21-22 */
             "[task \"a.b.t\"]\ntype = script\nprogram = /bin/sh\n", /* 23-25 */
             &e, 5);
    expect(&e, 6, "belongs to certificate \"b\", but there is no [certificate \"b\"]");
    expect_exact(&e, 12, "duplicate section [task \"a.t\"] (first at line 3)");
    expect_exact(&e, 15, "duplicate section [task \"b.t\"] (first at line 6)");
    expect(&e, 15, "belongs to certificate \"b\", but there is no [certificate \"b\"]");
    expect_exact(&e, 18, "duplicate section [task \"a.t\"] (first at line 3)");
    config_errors_free(&e);
}

static void test_missing_references(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[store \"iis\"]\n"             /* 1 */
             "location = /srv/store\n"       /* 2 */
             "password-file = /etc/passwd\n" /* 3 */
             "[certificate \"www\"]\n"       /* 4 */
             "domains = www.example\n"       /* 5 */
             "[task \"ww.deploy\"]\n"        /* 6: no such certificate */
             "type = script\n"               /* 7 */
             "program = /bin/sh\n"           /* 8 */
             "[task \"www.deploy\"]\n"       /* 9 */
             "type = deploy-ccs\n"           /* 10 */
             "store = iiss\n"                /* 11: no such store */
             "[task \"mail.x\"]\n"           /* 12 */
             "type = deploy-ccs\n"           /* 13 */
             "store = iis\n",                /* 14 */
             &e, 3);
    expect_exact(&e, 6,
                 "[task \"ww.deploy\"] belongs to certificate \"ww\", but there is no "
                 "[certificate \"ww\"] (did you mean \"www\"?)");
    expect_exact(&e, 11,
                 "[task \"www.deploy\"] names store \"iiss\", but there is no [store "
                 "\"iiss\"] (did you mean \"iis\"?)");
    expect(&e, 12, "no [certificate \"mail\"]");
    config_errors_free(&e);
}

static void test_bad_domains(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[certificate \"a\"]\n"                      /* 1 */
             "domains = good.example, bad!name.example\n" /* 2 */
             "domains = with/slash.example\n"             /* 3 */
             "domains = GOOD.example.\n"                  /* 4: same as line 2's */
             "domains = a..example\n"                     /* 5 */
             "domains = 2001:db8::1, 198.51.100.7\n"      /* 6: IP literals are fine */
             "domains = *.*.example\n",                   /* 7 */
             &e, 5);
    expect(&e, 2, "domains: name \"bad!name.example\"");
    expect(&e, 3, "domains: name \"with/slash.example\": contains a path separator");
    expect(&e, 4, "domains \"GOOD.example.\": listed twice (first at line 2)");
    expect(&e, 5, "empty label");
    expect(&e, 7, "'*' is allowed only as the whole first label");
    config_errors_free(&e);
}

static void test_challenge_rules(void **state)
{
    struct config_errors e;
    (void)state;

    stub_program("hook");
    load_bad("[certificate \"a\"]\n"              /* 1 */
             "domains = a.example,\n"             /* 2 */
             "          *.a.example\n"            /* 3: wildcard, http-01 */
             "hook = hook\n"                      /* 4: dns-01 key */
             "[certificate \"b\"]\n"              /* 5 */
             "domains = *.b.example, 192.0.2.1\n" /* 6: IP with dns-01 */
             "challenge = dns-01\n"               /* 7 */
             "hook = hook\n"                      /* 8 */
             "webroot = /var/www\n"               /* 9: http-01 key */
             "[certificate \"c\"]\n"              /* 10: dns-01 without hook */
             "domains = c.example\n"              /* 11 */
             "challenge = dns-01\n"               /* 12 */
             "[certificate \"d\"]\n"              /* 13 */
             "domains = d.example\n"              /* 14 */
             "webroot = /var/www\n"               /* 15 */
             "http-port = 8080\n"                 /* 16: moot with webroot */
             "[certificate \"e\"]\n"              /* 17 */
             "domains = e.example\n"              /* 18 */
             "challenge = tls-alpn-01\n",         /* 19 */
             &e, 7);
    expect_exact(&e, 3,
                 "domain \"*.a.example\" is a wildcard, which only dns-01 can prove: set "
                 "challenge = dns-01 and a hook");
    expect(&e, 4, "hook applies to challenge dns-01; [certificate \"a\"] uses http-01");
    expect(&e, 6, "domain \"192.0.2.1\" is an IP address, which dns-01 cannot prove");
    expect(&e, 9, "webroot applies to challenge http-01; [certificate \"b\"] uses dns-01");
    expect(&e, 10, "missing key \"hook\" in [certificate \"c\"] (dns-01 needs a hook)");
    expect(&e, 16, "http-port configures the built-in http-01 responder, which webroot");
    expect(&e, 19, "challenge \"tls-alpn-01\": not one of http-01, dns-01");
    config_errors_free(&e);
}

static void test_missing_required_keys(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[store \"s\"]\n"                     /* 1: no location, no password-file */
             "format = compat\n"                   /* 2 */
             "[certificate \"c\"]\n"               /* 3: no domains */
             "key-type = ec-p256\n"                /* 4 */
             "[certificate \"d\"]\n"               /* 5 */
             "domains = d.example\n"               /* 6 */
             "renewal-mode = days-before-expiry\n" /* 7: no renewal-value */
             "[task \"d.t1\"]\n"                   /* 8: no type */
             "phase = post\n"                      /* 9 */
             "[task \"d.t2\"]\n"                   /* 10: deploy-ccs without store */
             "type = deploy-ccs\n"                 /* 11 */
             "[task \"d.t3\"]\n"                   /* 12: export without paths */
             "type = export\n"                     /* 13 */
             "[task \"d.t4\"]\n"                   /* 14: script without program */
             "type = script\n"                     /* 15 */
             "[ccs]\n"                             /* 16 */
             "eab-kid = k\n",                      /* 17: without eab-hmac-file */
             &e, 9);
    expect_exact(&e, 1, "missing key \"location\" in [store \"s\"]");
    expect_exact(&e, 1, "missing key \"password-file\" in [store \"s\"]");
    expect(&e, 3, "missing key \"domains\" in [certificate \"c\"]");
    expect(&e, 7, "renewal-mode days-before-expiry needs a renewal-value");
    expect(&e, 8, "missing key \"type\" in [task \"d.t1\"]");
    expect(&e, 10, "missing key \"store\" in [task \"d.t2\"]");
    expect(&e, 12,
           "without anything to export: set at least one of cert, chain, fullchain, "
           "key, pfx");
    expect(&e, 14, "missing key \"program\" in [task \"d.t4\"]");
    expect(&e, 17, "eab-kid needs eab-hmac-file");
    config_errors_free(&e);
}

static void test_values_checked(void **state)
{
    struct config_errors e;
    (void)state;

    stub("pw");
    load_bad("[ccs]\n"                              /* 1 */
             "http-port = 70000\n"                  /* 2 */
             "server = http://acme.example/dir\n"   /* 3 */
             "contact = admin@example.com\n"        /* 4 */
             "contact = mailto:nobody\n"            /* 5 */
             "key-type = ec-p265\n"                 /* 6 */
             "renewal-value = 100\n"                /* 7: percent: below 100 */
             "[store \"s\"]\n"                      /* 8 */
             "location = /srv/s\n"                  /* 9 */
             "password-file = pw\n"                 /* 10 */
             "mode = 4755\n"                        /* 11 */
             "format = legacy\n"                    /* 12 */
             "group = bad group\n"                  /* 13 */
             "[certificate \"a\"]\n"                /* 14 */
             "domains = a.example\n"                /* 15 */
             "renewal-mode = days-before-expiry\n"  /* 16 */
             "renewal-value = 3650\n"               /* 17 */
             "http-listen = localhost\n"            /* 18 */
             "preferred-chain = \"ISRG Root X1\"\n" /* 19 */
             "profile =\n"                          /* 20 */
             "http-port = eighty\n"                 /* 21 */
             "deployment = store\n"                 /* 22 */
             "[task \"a.t\"]\n"                     /* 23 */
             "type = script\n"                      /* 24 */
             "program = /bin/sh\n"                  /* 25 */
             "timeout = 0\n"                        /* 26 */
             "trigger = on-sucess\n"                /* 27 */
             "[task \"a.u\"]\n"                     /* 28 */
             "type = export\n"                      /* 29 */
             "key = /tmp/key.pem\n"                 /* 30 */
             "mode = 999\n"                         /* 31 */
             "owner = -root\n"                      /* 32 */
             "[task \"a.v\"]\n"                     /* 33 */
             "type = export\n"                      /* 34 */
             "cert = /tmp/cert.pem\n"               /* 35 */
             "mode = 0000\n",                       /* 36 */
             &e, 20);
    expect_exact(&e, 2, "http-port \"70000\": out of range (1 to 65535)");
    expect(&e, 3, "not an https:// URL");
    expect(&e, 4, "contact \"admin@example.com\": not a mailto: URL");
    expect(&e, 5, "contact \"mailto:nobody\": not an e-mail address");
    expect(&e, 6,
           "key-type \"ec-p265\": not one of ec-p256, ec-p384, rsa-2048, rsa-3072, "
           "rsa-4096 (did you mean \"ec-p256\"?)");
    expect(&e, 7, "renewal-value 100 is out of range for renewal-mode percent");
    expect(&e, 11, "mode \"4755\": set-id and sticky bits are not allowed");
    expect(&e, 12, "format \"legacy\": not one of compat, aes256");
    expect(&e, 13, "group \"bad group\": not a user or group name");
    expect(&e, 17, "renewal-value 3650 is out of range for renewal-mode days-before-expiry");
    expect(&e, 18, "http-listen \"localhost\": not an IPv4 or IPv6 address");
    expect(&e, 19, "values are written without quotes");
    expect(&e, 20, "profile \"\": empty value");
    expect(&e, 21, "http-port \"eighty\": not a whole number");
    expect(&e, 22, "deployment \"store\": not one of no-deployment, store-only");
    expect(&e, 26, "timeout \"0\": out of range (1 to 86400)");
    expect(&e, 27,
           "trigger \"on-sucess\": not one of on-success, on-error, any, manual (did you "
           "mean \"on-success\"?)");
    expect(&e, 31, "mode \"999\": not an octal mode");
    expect(&e, 32, "owner \"-root\": not a user or group name");
    expect(&e, 36, "mode \"0000\": no one could read the file");
    config_errors_free(&e);
}

static void test_files_checked_not_read(void **state)
{
    struct config_errors e;
    (void)state;

    stub("secrets/readable");
    write_file("not-exec", "#!/bin/sh\n", 0644);
    write_file("secrets/unreadable", "x\n", 0000); /* exists: it is not read, so that is fine */
    mkdir(in_dir("adir"), 0700);
    load_bad("[ccs]\n"                                /* 1 */
             "ca-bundle = missing.pem\n"              /* 2 */
             "eab-kid = k\n"                          /* 3 */
             "eab-hmac-file = secrets/unreadable\n"   /* 4: fine */
             "[store \"s\"]\n"                        /* 5 */
             "location = /srv/s\n"                    /* 6 */
             "password-file = adir\n"                 /* 7 */
             "[certificate \"a\"]\n"                  /* 8 */
             "domains = *.a.example\n"                /* 9 */
             "challenge = dns-01\n"                   /* 10 */
             "hook = not-exec\n"                      /* 11 */
             "pfx-password-file = secrets/readable\n" /* 12: fine */
             "[task \"a.t\"]\n"                       /* 13 */
             "type = script\n"                        /* 14 */
             "program = /nonexistent/program\n",      /* 15 */
             &e, 4);
    expect(&e, 2, "\": does not exist");
    expect(&e, 2, "/missing.pem");
    expect(&e, 7, "password-file \"");
    expect(&e, 7, "adir\": not a regular file");
    expect(&e, 11, "not-exec\": not executable");
    expect_exact(&e, 15, "program \"/nonexistent/program\": does not exist");
    config_errors_free(&e);
}

static void test_task_keys_by_type(void **state)
{
    struct config_errors e;
    (void)state;

    load_bad("[store \"s\"]\n"               /* 1 */
             "location = /srv/s\n"           /* 2 */
             "password-file = /etc/passwd\n" /* 3 */
             "[certificate \"a\"]\n"         /* 4 */
             "domains = a.example\n"         /* 5 */
             "[task \"a.e\"]\n"              /* 6 */
             "store = s\n"                   /* 7 */
             "type = export\n"               /* 8 */
             "fullchain = /tmp/f.pem\n"      /* 9 */
             "timeout = 5\n"                 /* 10 */
             "[task \"a.d\"]\n"              /* 11 */
             "type = deploy-ccs\n"           /* 12 */
             "store = s\n"                   /* 13 */
             "program = /bin/sh\n"           /* 14 */
             "[task \"a.p\"]\n"              /* 15: a PFX without a password */
             "type = export\n"               /* 16 */
             "pfx = /tmp/a.pfx\n"            /* 17 */
             "[certificate \"b\"]\n"         /* 18 */
             "domains = b.example\n"         /* 19 */
             "[task \"b.p\"]\n"              /* 20 */
             "type = export\n"               /* 21 */
             "pfx = /tmp/b.pfx\n",           /* 22 */
             &e, 4);
    expect_exact(&e, 7, "key \"store\" in [task \"a.e\"] applies to deploy-ccs tasks, not export");
    expect(&e, 10, "key \"timeout\" in [task \"a.e\"] applies to script tasks, not export");
    expect(&e, 14, "key \"program\" in [task \"a.d\"] applies to script tasks, not deploy-ccs");
    /* a.p is fine: certificate a has a deploy-ccs task, whose store gives the password. */
    expect(&e, 22, "pfx in [task \"b.p\"] needs a password");
    config_errors_free(&e);
}

static void test_several_errors_in_file_order(void **state)
{
    struct config_errors e;
    static const int lines[] = {2, 4, 5, 7, 9};
    (void)state;

    load_bad("[certificate \"a\"]\n"         /* 1 */
             "domains = *.a.example\n"       /* 2: wildcard with http-01 */
             "[task \"a.t\"]\n"              /* 3 */
             "type = scrpt\n"                /* 4 */
             "trigerr = any\n"               /* 5 */
             "[store \"s\"]\n"               /* 6 */
             "location = \n"                 /* 7 */
             "password-file = /etc/passwd\n" /* 8 */
             "[nope]\n",                     /* 9 */
             &e, 5);
    /* Sorted by line, whatever stage found them. */
    for (size_t i = 0; i < e.count; i++)
        assert_int_equal(e.items[i].where.line, lines[i]);
    expect(&e, 4,
           "type \"scrpt\": not one of deploy-ccs, export, script (did you mean "
           "\"script\"?)");
    config_errors_free(&e);
}

static void test_unopenable(void **state)
{
    struct config cfg;
    struct config_errors e;
    char path[PATH_MAX];
    (void)state;

    snprintf(path, sizeof(path), "%s/none.conf", dir);
    assert_int_equal(config_load(path, &cfg, &e), -1);
    assert_int_equal(e.count, 1);
    assert_int_equal(e.items[0].where.line, 0);
    assert_string_equal(e.items[0].where.file, path);
    assert_non_null(strstr(e.items[0].message, "cannot open"));
    config_errors_free(&e);

    assert_int_equal(config_load(dir, &cfg, &e), -1);
    assert_int_equal(e.count, 1);
    assert_non_null(strstr(e.items[0].message, "not a regular file"));
    config_errors_free(&e);
}

/* A FIFO nobody writes to is refused at once, not waited on (fopen would block); so is a device,
 * without being opened. */
static void test_config_fifo_and_device_refused(void **state)
{
    struct config cfg;
    struct config_errors e;
    char path[PATH_MAX];
    time_t start = time(NULL);
    (void)state;

    snprintf(path, sizeof(path), "%s/fifo.conf", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(config_load(path, &cfg, &e), -1);
    assert_true(time(NULL) - start < 5);
    assert_int_equal(e.count, 1);
    assert_non_null(strstr(e.items[0].message, "not a regular file (a FIFO): refused"));
    config_errors_free(&e);
    unlink(path);
    assert_int_equal(config_load("/dev/null", &cfg, &e), -1);
    assert_int_equal(e.count, 1);
    assert_non_null(strstr(e.items[0].message, "(a character device)"));
    config_errors_free(&e);
}

/* A store-only certificate's machine copy is a task of its own name; one of the file by that name
 * is an error. Without a PFX password the copy has no cert.pfx; a no-deployment certificate has
 * no copy. */
static void test_live_copy(void **state)
{
    struct config cfg;
    struct config_errors e;
    (void)state;

    load_ok("[ccs]\nlive-dir = /srv/live\n"
            "[certificate \"a\"]\ndomains = a.example\ndeployment = store-only\n"
            "[certificate \"b\"]\ndomains = b.example\n"
            "[task \"a.notify\"]\ntype = script\nprogram = /bin/sh\n",
            &cfg);
    assert_int_equal(cfg.task_count, 2);
    assert_string_equal(cfg.tasks[0].name, LIVE_COPY_TASK);
    assert_string_equal(cfg.tasks[0].certificate, "a");
    assert_string_equal(cfg.tasks[0].cert_path, "/srv/live/a/cert.pem");
    assert_string_equal(cfg.tasks[0].fullchain_path, "/srv/live/a/fullchain.pem");
    assert_null(cfg.tasks[0].pfx_path);
    assert_string_equal(cfg.tasks[1].name, "notify");
    config_free(&cfg);
    load_bad("[certificate \"a\"]\ndomains = a.example\ndeployment = store-only\n"
             "[task \"a.live-dir\"]\ntype = script\nprogram = /bin/sh\n",
             &e, 1);
    expect(&e, 4, "the name live-dir is taken by the machine copy");
    config_errors_free(&e);
}

static void test_error_flood_is_capped(void **state)
{
    struct config_errors e;
    size_t size = 1000 * 8 + 1;
    char *text = malloc(size);
    (void)state;

    assert_non_null(text);
    text[0] = '\0';
    for (int i = 0; i < 1000; i++)
        strcat(text, "garbage\n");
    assert_int_equal(load(text, &(struct config){0}, &e), -1);
    assert_int_equal(e.count, 201);
    expect(&e, 0, "more than 200 errors");
    expect(&e, 200, "expected KEY = VALUE");
    config_errors_free(&e);
    free(text);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(renewal_mode_name(RENEWAL_PERCENT_OF_LIFETIME), "percent");
    assert_string_equal(renewal_mode_name(RENEWAL_DAYS_BEFORE_EXPIRY), "days-before-expiry");
    assert_string_equal(renewal_mode_name(RENEWAL_DAYS_AFTER_RENEWAL), "days-after-renewal");
    assert_string_equal(deployment_mode_name(DEPLOYMENT_NONE), "no-deployment");
    assert_string_equal(deployment_mode_name(DEPLOYMENT_STORE_ONLY), "store-only");
    assert_string_equal(task_type_name(TASK_DEPLOY_CCS), "deploy-ccs");
    assert_string_equal(task_type_name(TASK_EXPORT), "export");
    assert_string_equal(task_type_name(TASK_SCRIPT), "script");
    assert_string_equal(task_phase_name(TASK_PHASE_PRE), "pre");
    assert_string_equal(task_phase_name(TASK_PHASE_POST), "post");
    assert_string_equal(task_trigger_name(TRIGGER_ON_SUCCESS), "on-success");
    assert_string_equal(task_trigger_name(TRIGGER_ON_ERROR), "on-error");
    assert_string_equal(task_trigger_name(TRIGGER_ANY), "any");
    assert_string_equal(task_trigger_name(TRIGGER_MANUAL), "manual");
    assert_string_equal(task_trigger_name((enum task_trigger)42), "unknown");
    assert_null(config_find_store(NULL, "x"));
    assert_null(config_find_certificate(NULL, "x"));
}

/* ---- the shipped example ------------------------------------------------------------------ */

static char *read_example(void)
{
    char path[PATH_MAX];
    const char *slash = strrchr(__FILE__, '/');
    FILE *f;
    char *text;
    long size;

    /* tests/unit/test_config.c -> etc/ccs.conf.example */
    snprintf(path, sizeof(path), "%.*s/../../etc/ccs.conf.example",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* Lines "#key = value" (a '#' right before a key) are optional settings: turn them on. */
static void uncomment_settings(char *text)
{
    for (char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z')
            memmove(line, line + 1, strlen(line)); /* not ' ': that would continue a key */
}

static void test_example_config_loads(void **state)
{
    struct config cfg;
    char *text = read_example();
    const struct config_certificate *www;
    (void)state;

    /* The files it names, relative to its directory. */
    stub("secrets/iis-store.password");
    stub("secrets/pfx.password");
    stub("secrets/export-pfx.password");
    stub("secrets/eab.hmac");
    stub("ca/acme-server-ca.pem");
    stub_program("hooks/reload-web.sh");
    stub_program("hooks/dns-01.sh");

    load_ok(text, &cfg);
    assert_int_equal(cfg.store_count, 1);
    assert_int_equal(cfg.certificate_count, 3);
    assert_int_equal(cfg.task_count, 4); /* and the machine copy of the store-only one */
    assert_int_equal(cfg.tasks[0].implied, 1);
    assert_int_equal(cfg.contact_count, 3);
    www = config_find_certificate(&cfg, "www.example.com");
    assert_non_null(www);
    assert_int_equal(www->domain_count, 4);
    assert_string_equal(www->domains[3], "blog.example.com");
    assert_string_equal(config_find_certificate(&cfg, "wildcard.example.com")->challenge, "dns-01");
    assert_null(cfg.eab_kid);
    config_free(&cfg);

    uncomment_settings(text);
    load_ok(text, &cfg);
    assert_string_equal(cfg.eab_kid, "kid-1234");
    assert_string_equal(cfg.eab_hmac_file, in_dir("secrets/eab.hmac"));
    assert_string_equal(cfg.ca_bundle, in_dir("ca/acme-server-ca.pem"));
    config_free(&cfg);
    free(text);
}

/* ---- [serve] and [site] (issue 13) --------------------------------------------------------- */

static void test_serve_sections(void **state)
{
    struct config cfg;
    const struct config_serve *sv;
    (void)state;
    stub("store.pass");
    load_ok("[store \"main\"]\n"
            "location = /srv/ccs\n"
            "password-file = store.pass\n"
            "[serve]\n"
            "listen = 0.0.0.0:443, [::]:443\n"
            "listen = 127.0.0.1:8443\n"
            "store = main\n"
            "backend = 127.0.0.1:8080\n"
            "default-certificate = WWW.Example.com.\n"
            "hosts = www.example.com, *.example.org\n"
            "  bücher.example\n"
            "alpn = h2, http/1.1\n"
            "min-tls-version = 1.3\n"
            "proxy-protocol = v2\n"
            "workers = auto\n"
            "user = ccs\n"
            "admin = [::1]:9100\n"
            "[site \"api\"]\n"
            "hosts = api.example.com *.api.example.com\n"
            "backend = /run/api.sock\n"
            "[site \"legacy\"]\n"
            "hosts = old.example.com\n"
            "backend = legacy.internal:80\n"
            "proxy-protocol = off\n",
            &cfg);
    sv = cfg.serve;
    assert_non_null(sv);
    assert_int_equal(sv->listen.count, 3);
    assert_string_equal(sv->listen.items[1], "[::]:443");
    assert_string_equal(sv->default_certificate, "www.example.com");
    assert_int_equal(sv->hosts.count, 3);
    assert_string_equal(sv->hosts.items[1], "*.example.org");
    assert_string_equal(sv->hosts.items[2], "xn--bcher-kva.example"); /* SNI's form */
    assert_int_equal(sv->alpn.count, 2);
    assert_int_equal(sv->min_tls_version, 0x0304);
    assert_int_equal(sv->proxy_protocol, PROXY_PROTOCOL_V2);
    assert_int_equal(sv->workers, 0);
    assert_int_equal(sv->handshake_timeout_s, SERVE_DEFAULT_HANDSHAKE_TIMEOUT_S);
    assert_int_equal(sv->idle_timeout_s, SERVE_DEFAULT_IDLE_TIMEOUT_S);
    assert_int_equal(sv->max_connections, SERVE_DEFAULT_MAX_CONNECTIONS);
    assert_null(sv->ciphers);
    assert_int_equal(cfg.site_count, 2);
    assert_string_equal(cfg.sites[0].backend, "/run/api.sock");
    assert_int_equal(cfg.sites[0].proxy_protocol, PROXY_PROTOCOL_V2); /* [serve]'s */
    assert_int_equal(cfg.sites[0].proxy_protocol_set, 0);
    assert_int_equal(cfg.sites[1].proxy_protocol, PROXY_PROTOCOL_OFF); /* its own */
    config_free(&cfg);
}

static void test_serve_defaults(void **state)
{
    struct config cfg;
    (void)state;
    stub("p");
    load_ok("[store \"s\"]\nlocation = /x\npassword-file = p\n"
            "[serve]\nlisten = 127.0.0.1:443\nstore = s\nbackend = [::1]:80\n",
            &cfg);
    assert_null(cfg.serve->default_certificate); /* reject */
    assert_int_equal(cfg.serve->min_tls_version, 0x0303);
    assert_int_equal(cfg.serve->proxy_protocol, PROXY_PROTOCOL_OFF);
    assert_int_equal(cfg.serve->alpn.count, 0);
    assert_int_equal(cfg.site_count, 0);
    config_free(&cfg);
    load_ok("[ccs]\n", &cfg);
    assert_null(cfg.serve);
    config_free(&cfg);
}

static void test_serve_errors(void **state)
{
    struct config_errors e;
    (void)state;
    stub("p");
    load_bad("[store \"main\"]\n"                      /* 1 */
             "location = /x\n"                          /* 2 */
             "password-file = p\n"                      /* 3 */
             "[serve]\n"                                /* 4 */
             "listen = 127.0.0.1:443, 1.2.3.4\n"        /* 5 */
             "listen = ::1:443 127.0.0.1:443\n"         /* 6 */
             "store = mian\n"                           /* 7 */
             "default-certificate = *.example.com\n"    /* 8 */
             "hosts = 10.0.0.1, a..b, ok.example\n"     /* 9 */
             "alpn = h2 h2\n"                           /* 10 */
             "ciphers = NOTHING-KNOWN\n"                /* 11 */
             "proxy-protocol = v3\n"                    /* 12 */
             "min-tls-version = 1.1\n"                  /* 13 */
             "workers = 0\n"                            /* 14 */
             "max-connections = many\n"                 /* 15 */
             "admin = localhost:9100\n"                 /* 16 */
             "[serve]\n"                                /* 17 */
             "[site \"api\"]\n"                         /* 18 */
             "hosts = ok.example\n"                     /* 19 */
             "backend = [::1:80\n"                      /* 20 */
             "[site \"x\"]\n"                           /* 21 */
             "backend = 127.0.0.1:99999\n",             /* 22 */
             &e, 20);
    expect(&e, 4, "missing key \"backend\" in [serve]");
    expect(&e, 5, "listen \"1.2.3.4\": expected ADDR:PORT");
    expect(&e, 6, "listen \"::1:443\": an IPv6 address is written in brackets");
    expect(&e, 6, "listen \"127.0.0.1:443\": listed twice (first at line 5)");
    expect(&e, 7, "no [store \"mian\"] (did you mean \"main\"?)");
    expect(&e, 8, "a wildcard; name one host");
    expect(&e, 9, "an IP address");
    expect(&e, 9, "hosts:");
    expect(&e, 10, "alpn \"h2\": listed twice");
    expect(&e, 11, "selects no TLS 1.2 cipher");
    expect(&e, 12, "not one of off, v1, v2");
    expect(&e, 13, "not one of 1.2, 1.3");
    expect(&e, 14, "out of range (1 to 256)");
    expect(&e, 15, "not a whole number");
    expect(&e, 16, "not an IPv4 address");
    expect(&e, 17, "duplicate section [serve] (first at line 4)");
    expect(&e, 19, "host \"ok.example\" in [site \"api\"] is already listed in [serve] (line 9)");
    expect(&e, 20, "an IPv6 address is written [ADDR]:PORT");
    expect(&e, 21, "missing key \"hosts\" in [site \"x\"]");
    expect(&e, 22, "the port is not a number from 1 to 65535");
    config_errors_free(&e);

    load_bad("[site \"a\"]\nhosts = a.example\nbackend = /run/a.sock\n", &e, 1);
    expect(&e, 1, "[site \"a\"] needs a [serve] section");
    config_errors_free(&e);
}

/* A host is routed by one section: each later listing is reported against every earlier one, in
 * file order; a [site] name is given once. Many sites load, each host found where it was put. */
static void test_sites_hosts_routed_once(void **state)
{
    struct config cfg;
    struct config_errors e;
    size_t size = 2000 * 96 + 256, used;
    char *text;
    (void)state;

    stub("p");
    load_bad("[store \"main\"]\nlocation = /x\npassword-file = p\n" /* 1-3 */
             "[serve]\n"                                            /* 4 */
             "listen = 127.0.0.1:443\nstore = main\nbackend = /run/b.sock\n" /* 5-7 */
             "hosts = a.example\n"                                  /* 8 */
             "[site \"one\"]\n"                                     /* 9 */
             "hosts = b.example, a.example\nbackend = /run/1.sock\n" /* 10-11 */
             "[site \"two\"]\n"                                     /* 12 */
             "hosts = a.example b.example c.example\n"              /* 13 */
             "backend = /run/2.sock\n"                              /* 14 */
             "[site \"one\"]\n"                                     /* 15 */
             "hosts = c.example\nbackend = /run/3.sock\n",          /* 16-17 */
             &e, 6);
    expect_exact(&e, 10,
                 "host \"a.example\" in [site \"one\"] is already listed in [serve] (line 8)");
    expect_exact(&e, 13,
                 "host \"a.example\" in [site \"two\"] is already listed in [serve] (line 8)");
    expect_exact(&e, 13, "host \"a.example\" in [site \"two\"] is already listed in "
                         "[site \"one\"] (line 10)");
    expect_exact(&e, 13, "host \"b.example\" in [site \"two\"] is already listed in "
                         "[site \"one\"] (line 10)");
    expect(&e, 15, "duplicate section [site \"one\"] (first at line 9)");
    expect_exact(&e, 16, "host \"c.example\" in [site \"one\"] is already listed in "
                         "[site \"two\"] (line 13)");
    config_errors_free(&e);

    text = malloc(size);
    assert_non_null(text);
    used = (size_t)snprintf(text, size, "[store \"main\"]\nlocation = /x\npassword-file = p\n"
                                        "[serve]\nlisten = 127.0.0.1:443\nstore = main\n"
                                        "backend = /run/b.sock\n");
    for (int i = 0; i < 2000; i++)
        used += (size_t)snprintf(text + used, size - used,
                                 "[site \"s%d\"]\nhosts = s%d.example, www.s%d.example\n"
                                 "backend = /run/%d.sock\n",
                                 i, i, i, i);
    load_ok(text, &cfg);
    assert_int_equal(cfg.site_count, 2000);
    for (int i = 0; i < 2000; i++) {
        char want[64];
        snprintf(want, sizeof(want), "www.s%d.example", i);
        assert_int_equal(cfg.sites[i].hosts.count, 2);
        assert_string_equal(cfg.sites[i].hosts.items[1], want);
    }
    config_free(&cfg);
    free(text);
}

/* [serve] hosts of 20,000 names, ten to a line, with an alpn line in between (so that the lists
 * are added to in turn): every name kept in order at its line, and a name and a protocol given
 * again at the end reported against their first lines. */
static void test_serve_many_hosts(void **state)
{
    struct config cfg;
    struct config_errors e;
    size_t size = 20000 * 24 + 1024, used, end;
    char *text;
    (void)state;

    stub("p");
    text = malloc(size);
    assert_non_null(text);
    used = (size_t)snprintf(text, size, "[store \"main\"]\nlocation = /x\npassword-file = p\n"
                                        "[serve]\nlisten = 127.0.0.1:443\nstore = main\n"
                                        "backend = /run/b.sock\n"); /* lines 1-7 */
    for (int i = 0; i < 20000; i++) /* lines 8-1007, alpn at 1008, then 1009-2008 */
        used += (size_t)snprintf(text + used, size - used, "%sh%d.example%s%s",
                                 i % 10 ? "" : "hosts =", i, i % 10 == 9 ? "\n" : " ",
                                 i == 9999 ? "alpn = h2\n" : "");
    end = used;
    load_ok(text, &cfg);
    assert_int_equal(cfg.serve->hosts.count, 20000);
    for (int i = 0; i < 20000; i++) {
        char want[32];
        snprintf(want, sizeof(want), "h%d.example", i);
        assert_string_equal(cfg.serve->hosts.items[i], want);
        assert_int_equal(cfg.serve->hosts.lines[i], 8 + i / 10 + (i >= 10000));
    }
    config_free(&cfg);
    snprintf(text + end, size - end, "hosts = h12345.example\nalpn = h2\n"); /* 2009, 2010 */
    load_bad(text, &e, 2);
    expect_exact(&e, 2009, "hosts \"h12345.example\": listed twice (first at line 1243)");
    expect_exact(&e, 2010, "alpn \"h2\": listed twice (first at line 1008)");
    config_errors_free(&e);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_file_is_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_copy_and_same_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_continue_on_indented_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_and_paths_not_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_mode_check_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_names_split_at_last_dot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_with_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domains_twice_per_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_certificates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sites_hosts_routed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_many_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_challenge_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_required_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_checked_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_keys_by_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_errors_in_file_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unopenable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_fifo_and_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_flood_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_config_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
