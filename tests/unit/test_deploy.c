/* Unit tests for src/store/deploy.c against a local store in a temp directory. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include <signal.h>

#include "pfxforge.h"
#include "store/deploy.h"
#include "store/inspect.h"
#include "teststore.h"

#define PASSWORD "store-pw"

struct fixture {
    struct test_store s; /* the scratch store, its CA and "now" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f || teststore_open(&f->s, "Deploy Test CA") < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    teststore_close(&f->s);
    free(f);
    return 0;
}

static struct deploy_options opts_for(struct fixture *f)
{
    return (struct deploy_options){.password = PASSWORD, .format = PFX_FORMAT_COMPAT,
                                   .write = {.mode = 0640, .gid = -1}, .now = f->s.now};
}

static void leaf(struct fixture *f, struct pfx_bundle *b, const char *sans, int days)
{
    testcert_leaf(b, &f->s.ca, "deploy test", sans, f->s.now - 3600, f->s.now + days * 86400L);
}

static void deploy_ok(struct fixture *f, struct pfx_bundle *b, const struct deploy_options *o,
                      struct deploy_report *r)
{
    struct errbuf err = {""};
    if (store_deploy(f->s.st, b, o, r, &err) != 0)
        fail_msg("deploy: %s", err.msg);
}

static const struct deploy_entry *entry(const struct deploy_report *r, const char *file)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->entries[i].file, file) == 0 || strcmp(r->entries[i].name, file) == 0)
            return &r->entries[i];
    fail_msg("no report entry for %s", file);
    return NULL;
}

/* The action for FILE, or -1 (no cmocka: usable in a forked child). */
static int entry_action(const struct deploy_report *r, const char *file)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->entries[i].file, file) == 0)
            return (int)r->entries[i].action;
    return -1;
}

/* Thumbprint of the certificate in FILE, or "" when missing or unreadable. */
static void file_thumbprint(struct fixture *f, const char *file, char *out)
{
    char path[4400];
    struct bytes data;
    struct errbuf err;
    struct pfx_inspection insp;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", f->s.dir, file);
    if (bytes_read_file(path, CERT_INPUT_MAX, &data, &err) < 0)
        return;
    store_inspect_bytes(data.data, data.len, PASSWORD, &insp);
    if (insp.status == PFX_OK)
        strcpy(out, insp.summary.thumbprint);
    pfx_inspection_free(&insp);
    bytes_free(&data);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.' ? strncmp(de->d_name, prefix, strlen(prefix)) == 0
                                  : strncmp(de->d_name, ".ccs-tmp-", 9) == 0 && *prefix == '.';
    closedir(d);
    return n;
}

static void test_fresh_then_unchanged(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct cert_summary s;
    char tp[64];
    struct stat st;
    char path[4400];

    leaf(f, &b, "DNS:www.example.com,DNS:Example.com.,DNS:*.example.com,IP:10.0.0.1,DNS:a..b", 90);
    cert_summarise(b.cert, &s, NULL);
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(r.changed, 3);
    assert_int_equal(r.failed, 0);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(entry(&r, "example.com.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(entry(&r, "_.example.com.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(entry(&r, "10.0.0.1")->action, DEPLOY_NO_FILE);
    assert_int_equal(entry(&r, "a..b")->action, DEPLOY_REJECTED);
    file_thumbprint(f, "_.example.com.pfx", tp);
    assert_string_equal(tp, s.thumbprint);
    snprintf(path, sizeof(path), "%s/www.example.com.pfx", f->s.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(count_entries(f->s.dir, ""), 3);
    assert_int_equal(count_entries(f->s.dir, "."), 0); /* no temp files */
    deploy_report_free(&r);

    deploy_ok(f, &b, &o, &r);
    assert_int_equal(r.changed, 0);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_UNCHANGED);
    deploy_report_free(&r);

    /* A format change rewrites even the same certificate. */
    o.format = PFX_FORMAT_AES256;
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(r.changed, 3);
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

static void test_newer_only_and_force(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle newer, older;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct cert_summary sn, so;
    char tp[64];

    leaf(f, &newer, "DNS:www.example.com", 90);
    leaf(f, &older, "DNS:www.example.com", 30);
    cert_summarise(newer.cert, &sn, NULL);
    cert_summarise(older.cert, &so, NULL);
    deploy_ok(f, &newer, &o, &r);
    deploy_report_free(&r);

    deploy_ok(f, &older, &o, &r);
    assert_int_equal(r.changed, 0);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_SKIPPED);
    assert_non_null(strstr(entry(&r, "www.example.com.pfx")->detail, sn.thumbprint));
    deploy_report_free(&r);
    file_thumbprint(f, "www.example.com.pfx", tp);
    assert_string_equal(tp, sn.thumbprint);

    o.force = 1;
    deploy_ok(f, &older, &o, &r);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_WRITTEN);
    deploy_report_free(&r);
    file_thumbprint(f, "www.example.com.pfx", tp);
    assert_string_equal(tp, so.thumbprint);
    pfx_bundle_free(&newer);
    pfx_bundle_free(&older);
}

static void test_unreadable_is_replaced(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    char path[4400];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/www.example.com.pfx", f->s.dir);
    fp = fopen(path, "w");
    fputs("garbage", fp);
    fclose(fp);
    leaf(f, &b, "DNS:www.example.com", 90);
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_WRITTEN);
    assert_non_null(strstr(entry(&r, "www.example.com.pfx")->detail, "could not be opened"));
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

static void test_prune_by_thumbprint(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle old, other, renewed;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct cert_summary s_other;
    char tp[64], path[4400];

    leaf(f, &old, "DNS:a.example,DNS:b.example,DNS:c.example,DNS:d.example", 60);
    leaf(f, &other, "DNS:c.example", 80);
    leaf(f, &renewed, "DNS:a.example", 90);
    cert_summarise(other.cert, &s_other, NULL);
    deploy_ok(f, &old, &o, &r);
    deploy_report_free(&r);
    deploy_ok(f, &other, &o, &r); /* c.example now belongs to another certificate */
    deploy_report_free(&r);
    snprintf(path, sizeof(path), "%s/d.example.pfx", f->s.dir);
    unlink(path); /* already gone: nothing to report */

    o.previous = old.cert;
    deploy_ok(f, &renewed, &o, &r);
    assert_int_equal(entry(&r, "a.example.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(entry(&r, "b.example.pfx")->action, DEPLOY_REMOVED);
    assert_int_equal(entry(&r, "c.example.pfx")->action, DEPLOY_KEPT);
    assert_non_null(strstr(entry(&r, "c.example.pfx")->detail, s_other.thumbprint));
    for (size_t i = 0; i < r.count; i++)
        assert_string_not_equal(r.entries[i].file, "d.example.pfx");
    deploy_report_free(&r);
    snprintf(path, sizeof(path), "%s/b.example.pfx", f->s.dir);
    assert_int_equal(access(path, F_OK), -1);
    file_thumbprint(f, "c.example.pfx", tp);
    assert_string_equal(tp, s_other.thumbprint);
    pfx_bundle_free(&old);
    pfx_bundle_free(&other);
    pfx_bundle_free(&renewed);
}

static void test_dry_run_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;

    leaf(f, &b, "DNS:www.example.com,DNS:api.example.com", 90);
    o.dry_run = 1;
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(r.changed, 2);
    assert_true(r.dry_run);
    assert_int_equal(count_entries(f->s.dir, ""), 0);
    assert_int_equal(count_entries(f->s.dir, "."), 0);
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle expired, mismatched, ip_only;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct errbuf err = {""};
    EVP_PKEY *other_key = testcert_key(0);

    testcert_leaf(&expired, &f->s.ca, "old cert", "DNS:old.example", f->s.now - 90 * 86400L,
                  f->s.now - 86400);
    assert_int_equal(store_deploy(f->s.st, &expired, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "expired"));
    o.force = 1;
    deploy_ok(f, &expired, &o, &r);
    assert_int_equal(r.changed, 1);
    deploy_report_free(&r);
    o.force = 0;

    leaf(f, &mismatched, "DNS:m.example", 90);
    EVP_PKEY_free(mismatched.key);
    mismatched.key = other_key;
    assert_int_equal(store_deploy(f->s.st, &mismatched, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "does not match"));

    leaf(f, &ip_only, "IP:192.0.2.1", 90);
    assert_int_equal(store_deploy(f->s.st, &ip_only, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "no valid host name"));
    pfx_bundle_free(&expired);
    pfx_bundle_free(&mismatched);
    pfx_bundle_free(&ip_only);
}

/* A file that cannot be replaced (here a directory in its place) fails alone: the other names are
 * written, no temp file remains, and the report counts the failure. */
static void test_write_failure_is_contained(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    char path[4400];

    snprintf(path, sizeof(path), "%s/blocked.example.pfx", f->s.dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/blocked.example.pfx/keep", f->s.dir);
    fclose(fopen(path, "w"));
    leaf(f, &b, "DNS:blocked.example,DNS:fine.example", 90);
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(r.failed, 1);
    assert_int_equal(entry(&r, "blocked.example.pfx")->action, DEPLOY_FAILED);
    assert_int_equal(entry(&r, "fine.example.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(count_entries(f->s.dir, "."), 0);
    assert_int_equal(access(path, F_OK), 0);
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

/* A temp file left by a killed deploy (older than the lease) is removed by the next deploy; a young
 * one is left alone, even when its pid names no process here (it may be another machine's). */
static void test_stale_temp_removed(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    char stale[4400], live[4400];
    /* Older than the lease: no writer can still be writing it (a writer holds the lock, and a
     * lease longer than its write). The other is young — a writer on another machine may be
     * mid-write — whatever its pid says. */
    struct timespec old[2] = {{.tv_sec = time(NULL) - STORE_LEASE_DEFAULT_SECONDS - 60},
                              {.tv_sec = time(NULL) - STORE_LEASE_DEFAULT_SECONDS - 60}};

    snprintf(stale, sizeof(stale), "%s/.ccs-tmp-%d-0011223344556677", f->s.dir, (int)getpid());
    snprintf(live, sizeof(live), "%s/.ccs-tmp-999999-8899aabbccddeeff", f->s.dir);
    fclose(fopen(stale, "w"));
    fclose(fopen(live, "w"));
    assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
    leaf(f, &b, "DNS:www.example.com", 90);
    deploy_ok(f, &b, &o, &r);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

/* Decode FILE in the store (PFX_OK expected). */
static void decode_file(struct fixture *f, const char *file, struct pfx_decoded *dec)
{
    char path[4400];
    struct bytes data;
    struct errbuf err = {""};

    snprintf(path, sizeof(path), "%s/%s", f->s.dir, file);
    assert_int_equal(bytes_read_file(path, CERT_INPUT_MAX, &data, &err), 0);
    if (pfx_decode(data.data, data.len, PASSWORD, dec, &err) != PFX_OK)
        fail_msg("%s: %s", file, err.msg);
    bytes_free(&data);
}

static void write_store_file(struct fixture *f, const char *file, const struct bytes *data)
{
    char path[4400];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->s.dir, file);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data->data, 1, data->len, fp), data->len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0640), 0);
}

/* Item 3: a certificate from the future would replace a valid file with one every client rejects,
 * and newer-only would then protect it. Within the clock-skew allowance it is fine. */
static void test_not_yet_valid(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle valid, future, barely;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct cert_summary s_valid;
    struct errbuf err = {""};
    char tp[64];

    leaf(f, &valid, "DNS:www.example.com", 60);
    cert_summarise(valid.cert, &s_valid, NULL);
    testcert_leaf(&future, &f->s.ca, "future", "DNS:www.example.com", f->s.now + 86400,
                  f->s.now + 90 * 86400L);
    testcert_leaf(&barely, &f->s.ca, "barely", "DNS:barely.example",
                  f->s.now + DEPLOY_CLOCK_SKEW_SECONDS - 60, f->s.now + 90 * 86400L);
    deploy_ok(f, &valid, &o, &r);
    deploy_report_free(&r);

    assert_int_equal(store_deploy(f->s.st, &future, &o, &r, &err), -1);
    if (!strstr(err.msg, "is not valid before") || strstr(err.msg, "--force"))
        fail_msg("message (says why, names no option): %s", err.msg);
    assert_int_equal(r.refused_unless_forced, 1); /* the caller says how to force it */
    file_thumbprint(f, "www.example.com.pfx", tp);
    assert_string_equal(tp, s_valid.thumbprint); /* the valid file is still there */

    deploy_ok(f, &barely, &o, &r); /* within the allowance */
    assert_int_equal(entry(&r, "barely.example.pfx")->action, DEPLOY_WRITTEN);
    deploy_report_free(&r);

    o.force = 1;
    deploy_ok(f, &future, &o, &r);
    assert_int_equal(entry(&r, "www.example.com.pfx")->action, DEPLOY_WRITTEN);
    deploy_report_free(&r);
    pfx_bundle_free(&valid);
    pfx_bundle_free(&future);
    pfx_bundle_free(&barely);
}

static int has_warning(const struct deploy_report *r, const char *needle)
{
    for (size_t i = 0; i < r->warning_count; i++)
        if (strstr(r->warnings[i].text, needle))
            return 1;
    return 0;
}

/* Item 5: a chain without the issuer is deployed with a warning in the report; certificates given
 * that are not on the leaf's issuing path are dropped, each with a warning, not shipped. */
static void test_chain_hygiene(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b, stranger;
    struct test_ca other;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct pfx_decoded dec;
    struct cert_summary s_other, s_stranger;
    STACK_OF(X509) *given;

    testcert_ca(&other, "Unrelated CA");
    testcert_leaf(&stranger, &other, "stranger", "DNS:stranger.example", f->s.now - 60,
                  f->s.now + 86400);
    cert_summarise(other.cert, &s_other, NULL);
    cert_summarise(stranger.cert, &s_stranger, NULL);

    /* No chain at all. */
    leaf(f, &b, "DNS:bare.example", 90);
    given = b.chain;
    b.chain = sk_X509_new_null();
    deploy_ok(f, &b, &o, &r);
    assert_false(r.chain_complete);
    assert_true(has_warning(&r, "lacks the issuer"));
    assert_int_equal(entry(&r, "bare.example.pfx")->action, DEPLOY_WRITTEN);
    deploy_report_free(&r);

    /* The issuer, plus an unrelated CA and an unrelated leaf. */
    X509_up_ref(other.cert);
    X509_up_ref(stranger.cert);
    sk_X509_push(b.chain, other.cert);
    sk_X509_push(b.chain, X509_dup(sk_X509_value(given, 0)));
    sk_X509_push(b.chain, stranger.cert);
    o.force = 1;
    deploy_ok(f, &b, &o, &r);
    assert_true(r.chain_complete);
    assert_int_equal(r.warning_count, 2);
    assert_true(has_warning(&r, s_other.thumbprint));
    assert_true(has_warning(&r, s_stranger.thumbprint));
    assert_true(has_warning(&r, "not on the issuing path"));
    deploy_report_free(&r);
    decode_file(f, "bare.example.pfx", &dec);
    assert_int_equal(sk_X509_num(dec.bundle.chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(dec.bundle.chain, 0), f->s.ca.cert), 0);
    pfx_decoded_free(&dec);

    sk_X509_pop_free(given, X509_free);
    pfx_bundle_free(&b);
    pfx_bundle_free(&stranger);
    testcert_ca_free(&other);
}

/* Item 7: the modes check calls errors are refused, unless forced. */
static void test_modes_refused(void **state)
{
    static const struct {
        unsigned mode;
        const char *why;
    } bad[] = {
        {0644, "readable by every local user"},
        {0604, "readable by every local user"},
        {0660, "writable by the group"},
        {0642, "writable by everyone"},
        {0666, "writable by everyone"},
    };
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct errbuf err = {""};
    struct stat st;
    char path[4400];

    leaf(f, &b, "DNS:mode.example", 90);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.write.mode = bad[i].mode;
        assert_int_equal(store_deploy(f->s.st, &b, &o, &r, &err), -1);
        if (!strstr(err.msg, bad[i].why))
            fail_msg("mode %04o: \"%s\" lacks \"%s\"", bad[i].mode, err.msg, bad[i].why);
        assert_int_equal(count_entries(f->s.dir, ""), 0);
    }
    o.write.mode = 0600;
    deploy_ok(f, &b, &o, &r);
    deploy_report_free(&r);
    o.write.mode = 0644;
    o.force = 1;
    deploy_ok(f, &b, &o, &r);
    deploy_report_free(&r);
    snprintf(path, sizeof(path), "%s/mode.example.pfx", f->s.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    pfx_bundle_free(&b);
}

/* Item 4: a file holding this very certificate but laid out so Windows pairs it wrongly (no
 * localKeyID, the id on the chain certificate, the leaf last) is rewritten, not "unchanged". */
static void test_pairing_repaired(void **state)
{
    static const struct pfxforge layouts[] = {
        {.key_id = PFXFORGE_ID_NONE},
        {.key_id = PFXFORGE_ID_CHAIN},
        {.leaf_last = 1},
    };
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct pfx_decoded dec;
    struct bytes der;

    leaf(f, &b, "DNS:pair.example", 90);
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        struct pfxforge spec = layouts[i];
        spec.bundle = &b;
        spec.password = PASSWORD;
        pfxforge(&spec, &der);
        write_store_file(f, "pair.example.pfx", &der);
        bytes_free(&der);
        deploy_ok(f, &b, &o, &r);
        assert_int_equal(entry(&r, "pair.example.pfx")->action, DEPLOY_WRITTEN);
        assert_non_null(strstr(entry(&r, "pair.example.pfx")->detail, "rewrites this certificate"));
        deploy_report_free(&r);
        decode_file(f, "pair.example.pfx", &dec);
        assert_int_equal(dec.pairing, PFX_PAIRED);
        assert_true(dec.leaf_first);
        pfx_decoded_free(&dec);
        deploy_ok(f, &b, &o, &r); /* now it is what deploy writes */
        assert_int_equal(entry(&r, "pair.example.pfx")->action, DEPLOY_UNCHANGED);
        deploy_report_free(&r);
    }
    pfx_bundle_free(&b);
}

/* Item 1: a store file whose MAC count is 2^31-1 is replaced, not opened for hours. */
static void test_hostile_file_replaced(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle b;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct bytes der;

    leaf(f, &b, "DNS:hostile.example", 90);
    pfxforge(&(struct pfxforge){.bundle = &b, .password = PASSWORD, .mac_iter = 2147483647LL},
             &der);
    write_store_file(f, "hostile.example.pfx", &der);
    bytes_free(&der);
    alarm(60); /* watchdog, not a timing: before the cap this deploy took hours */
    deploy_ok(f, &b, &o, &r);
    alarm(0);
    assert_int_equal(entry(&r, "hostile.example.pfx")->action, DEPLOY_WRITTEN);
    assert_non_null(strstr(entry(&r, "hostile.example.pfx")->detail, "2147483647"));
    deploy_report_free(&r);
    pfx_bundle_free(&b);
}

/* Item 1: files are judged before the lock; one that changes between the plan and the lock is
 * judged again under it. A deploy of an older certificate stops after planning (test point
 * "deploy-planned"); meanwhile a newer certificate is deployed to the same name; the older deploy,
 * resumed, must skip the file (newer-only), not overwrite what it never judged. */
static void test_replan_after_change(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle older, newer;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct cert_summary s_newer;
    char tp[64];
    int status;
    pid_t child;

    leaf(f, &older, "DNS:race.example", 30);
    leaf(f, &newer, "DNS:race.example", 90);
    cert_summarise(newer.cert, &s_newer, NULL);
    child = fork(); /* the file does not exist yet: the older deploy plans "new file" */
    assert_true(child >= 0);
    if (child == 0) {
        struct store *st;
        struct errbuf err;
        setenv("CCS_TEST_STOP_AT", "deploy-planned", 1);
        o.force = 0;
        if (store_open(f->s.dir, NULL, &st, &err) < 0 || store_deploy(st, &older, &o, &r, &err) < 0)
            _exit(3);
        _exit(entry_action(&r, "race.example.pfx") == DEPLOY_WRITTEN ? 1 : 0);
    }
    /* Wait (up to 30 s) for the child to stop at the point; without it, it never does. */
    for (int i = 0; i < 300; i++) {
        if (waitpid(child, &status, WUNTRACED | WNOHANG) == child)
            break;
        usleep(100 * 1000);
    }
    if (!WIFSTOPPED(status)) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        fail_msg("the deploy never stopped between planning and locking");
    }
    deploy_ok(f, &newer, &o, &r);
    assert_int_equal(entry(&r, "race.example.pfx")->action, DEPLOY_WRITTEN);
    deploy_report_free(&r);
    kill(child, SIGCONT);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    file_thumbprint(f, "race.example.pfx", tp);
    assert_string_equal(tp, s_newer.thumbprint);
    pfx_bundle_free(&older);
    pfx_bundle_free(&newer);
}

/* PEM files for B in DIR: NAME.pem (leaf then chain, a full chain) and NAME.key. */
static void write_pem_files(const char *dir, const char *name, const struct pfx_bundle *b)
{
    char path[4400];
    FILE *out;

    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    assert_non_null(out = fopen(path, "w"));
    assert_int_equal(PEM_write_X509(out, b->cert), 1);
    for (int i = 0; b->chain && i < sk_X509_num(b->chain); i++)
        assert_int_equal(PEM_write_X509(out, sk_X509_value(b->chain, i)), 1);
    assert_int_equal(fclose(out), 0);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    assert_non_null(out = fopen(path, "w"));
    assert_int_equal(PEM_write_PrivateKey(out, b->key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(out), 0);
}

/* store_deploy_source: the files `ccs deploy` and a deploy-ccs task read, read once for both: a
 * full chain split, the previous certificate's dropped names pruned, and a file that cannot be
 * read or is no certificate refused naming it, before anything is written. */
static void test_deploy_source(void **state)
{
    struct fixture *f = *state;
    struct pfx_bundle old, renewed;
    struct deploy_options o = opts_for(f);
    struct deploy_report r;
    struct errbuf err = {""};
    char *dir = testcert_tmpdir(), cert[4400], key[4400], previous[4400], missing[4400];
    struct deploy_source src = {cert, key, NULL, NULL, NULL};
    char tp[64];
    struct cert_summary s_renewed;

    leaf(f, &old, "DNS:a.example,DNS:b.example", 60);
    leaf(f, &renewed, "DNS:a.example", 90);
    cert_summarise(renewed.cert, &s_renewed, NULL);
    write_pem_files(dir, "old", &old);
    write_pem_files(dir, "new", &renewed);
    snprintf(cert, sizeof(cert), "%s/old.pem", dir);
    snprintf(key, sizeof(key), "%s/old.key", dir);
    if (store_deploy_source(f->s.st, &src, &o, &r, &err) != 0)
        fail_msg("deploy: %s", err.msg);
    assert_int_equal(entry(&r, "b.example.pfx")->action, DEPLOY_WRITTEN);
    assert_true(r.chain_complete); /* the chain came from the full-chain file */
    deploy_report_free(&r);

    /* a previous certificate that is not one: refused, naming it; nothing written */
    snprintf(cert, sizeof(cert), "%s/new.pem", dir);
    snprintf(key, sizeof(key), "%s/new.key", dir);
    src.previous = key;
    assert_int_equal(store_deploy_source(f->s.st, &src, &o, &r, &err), -1);
    assert_int_equal(r.count, 0);
    assert_non_null(strstr(err.msg, "previous certificate"));
    assert_non_null(strstr(err.msg, "new.key: no PEM certificate found"));
    /* a missing certificate file: named */
    snprintf(missing, sizeof(missing), "%s/none.pem", dir);
    src.cert = missing;
    src.previous = NULL;
    assert_int_equal(store_deploy_source(f->s.st, &src, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, missing));
    file_thumbprint(f, "a.example.pfx", tp);
    assert_string_not_equal(tp, s_renewed.thumbprint);

    /* the renewal, with the previous certificate's file: b.example is pruned */
    src.cert = cert;
    snprintf(previous, sizeof(previous), "%s/old.pem", dir);
    src.previous = previous;
    if (store_deploy_source(f->s.st, &src, &o, &r, &err) != 0)
        fail_msg("deploy: %s", err.msg);
    assert_int_equal(entry(&r, "a.example.pfx")->action, DEPLOY_WRITTEN);
    assert_int_equal(entry(&r, "b.example.pfx")->action, DEPLOY_REMOVED);
    deploy_report_free(&r);
    file_thumbprint(f, "a.example.pfx", tp);
    assert_string_equal(tp, s_renewed.thumbprint);

    /* an already loaded bundle (`ccs deploy --pfx`) goes the same way */
    src = (struct deploy_source){.bundle = &renewed};
    if (store_deploy_source(f->s.st, &src, &o, &r, &err) != 0)
        fail_msg("deploy: %s", err.msg);
    assert_int_equal(entry(&r, "a.example.pfx")->action, DEPLOY_UNCHANGED);
    deploy_report_free(&r);

    pfx_bundle_free(&old);
    pfx_bundle_free(&renewed);
    testcert_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_then_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_only_and_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_by_thumbprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_is_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temp_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_yet_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_hygiene, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pairing_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_file_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replan_after_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_source, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
