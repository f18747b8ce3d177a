/* Unit tests for src/store/rekey.c: changing the store password (issue 12, item 9). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/rekey.h"
#include "teststore.h"

#define OLD "old-password"
#define NEW "new-password"
#define THIRD "someone-elses"
/* A group other than root's, to see it kept (only root can give a file to it). */
#define OTHER_GID 1

struct fixture {
    struct test_store s; /* the scratch store, its CA and "now" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f || teststore_open(&f->s, "Rekey CA") < 0)
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

static void path_of(struct fixture *f, const char *file, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->s.dir, file);
}

static void write_raw(struct fixture *f, const char *file, const void *data, size_t len,
                      unsigned mode)
{
    char path[4400];
    FILE *fp;

    path_of(f, file, path, sizeof(path));
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* NAME.pfx holding a leaf for NAME, under PASSWORD in FORMAT. */
static void write_pfx(struct fixture *f, const char *name, const char *password,
                      enum pfx_format format, unsigned mode)
{
    struct pfx_bundle leaf;
    struct bytes der;
    struct errbuf err;
    char sans[128], file[128];

    snprintf(sans, sizeof(sans), "DNS:%s", name);
    snprintf(file, sizeof(file), "%s.pfx", name);
    testcert_leaf(&leaf, &f->s.ca, name, sans, f->s.now - 60, f->s.now + 90 * 86400L);
    assert_int_equal(pfx_encode(&leaf, password, format, file, &der, &err), 0);
    write_raw(f, file, der.data, der.len, mode);
    bytes_free(&der);
    pfx_bundle_free(&leaf);
}

/* The status of FILE opened with PASSWORD; *FORMAT (may be NULL) receives its format. */
static enum pfx_status opens(struct fixture *f, const char *file, const char *password,
                             enum pfx_format *format)
{
    char path[4400];
    struct bytes data;
    struct pfx_decoded dec;
    struct errbuf err;
    enum pfx_status st;

    path_of(f, file, path, sizeof(path));
    assert_int_equal(bytes_read_file(path, CERT_INPUT_MAX, &data, &err), 0);
    st = pfx_decode(data.data, data.len, password, &dec, &err);
    if (st == PFX_OK) {
        if (format)
            *format = dec.format;
        assert_string_equal(dec.friendly, file); /* the friendly name survives */
        pfx_decoded_free(&dec);
    }
    bytes_free(&data);
    return st;
}

static const struct rekey_entry *entry(const struct rekey_report *r, const char *file)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->entries[i].file, file) == 0)
            return &r->entries[i];
    fail_msg("no entry for %s", file);
    return NULL;
}

static struct stat stat_of(struct fixture *f, const char *file)
{
    char path[4400];
    struct stat st;
    path_of(f, file, path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    return st;
}

/* a (compat) and b (aes256, 0600) under the old password, c already under the new one, d under a
 * third password, e not a PFX at all, notes.txt not a store file. The friendly name is the file. */
static void seed(struct fixture *f)
{
    write_pfx(f, "a.example", OLD, PFX_FORMAT_COMPAT, 0640);
    write_pfx(f, "b.example", OLD, PFX_FORMAT_AES256, 0600);
    write_pfx(f, "c.example", NEW, PFX_FORMAT_COMPAT, 0640);
    write_pfx(f, "d.example", THIRD, PFX_FORMAT_COMPAT, 0640);
    write_raw(f, "e.example.pfx", "garbage", 7, 0640);
    write_raw(f, "notes.txt", "x", 1, 0640);
}

static struct rekey_options options(void)
{
    return (struct rekey_options){.old_password = OLD, .new_password = NEW, .keep_format = 1};
}

static void test_rekey_and_rerun(void **state)
{
    struct fixture *f = *state;
    struct rekey_options o = options();
    struct rekey_report r;
    struct errbuf err = {""};
    struct stat d_before, e_before, after;
    enum pfx_format fmt;
    int root = geteuid() == 0;

    seed(f);
    if (root) {
        char path[4400];
        path_of(f, "a.example.pfx", path, sizeof(path));
        assert_int_equal(chown(path, (uid_t)-1, OTHER_GID), 0);
    }
    d_before = stat_of(f, "d.example.pfx");
    e_before = stat_of(f, "e.example.pfx");

    /* Dry run: the plan, nothing written. */
    o.dry_run = 1;
    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), 0);
    assert_int_equal(r.count, 5); /* notes.txt is not a store file */
    assert_int_equal(r.counts[REKEY_REWRITTEN], 2);
    assert_int_equal(r.counts[REKEY_DONE], 1);
    assert_int_equal(r.counts[REKEY_LEFT], 2);
    assert_int_equal(opens(f, "a.example.pfx", OLD, NULL), PFX_OK);
    rekey_report_free(&r);

    o.dry_run = 0;
    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), 0);
    assert_int_equal(entry(&r, "a.example.pfx")->action, REKEY_REWRITTEN);
    assert_int_equal(entry(&r, "b.example.pfx")->action, REKEY_REWRITTEN);
    assert_int_equal(entry(&r, "c.example.pfx")->action, REKEY_DONE);
    assert_int_equal(entry(&r, "d.example.pfx")->action, REKEY_LEFT);
    assert_non_null(strstr(entry(&r, "d.example.pfx")->detail, "neither"));
    assert_int_equal(entry(&r, "e.example.pfx")->action, REKEY_LEFT);
    rekey_report_free(&r);

    assert_int_equal(opens(f, "a.example.pfx", NEW, &fmt), PFX_OK);
    assert_int_equal(fmt, PFX_FORMAT_COMPAT);
    assert_int_equal(opens(f, "b.example.pfx", NEW, &fmt), PFX_OK);
    assert_int_equal(fmt, PFX_FORMAT_AES256); /* each file keeps its format */
    assert_int_equal(opens(f, "a.example.pfx", OLD, NULL), PFX_WRONG_PASSWORD);
    assert_int_equal(stat_of(f, "b.example.pfx").st_mode & 07777, 0600); /* mode kept */
    if (root)
        assert_int_equal(stat_of(f, "a.example.pfx").st_gid, OTHER_GID); /* group kept */
    /* The third-password file and the garbage are untouched, not merely unchanged in content. */
    after = stat_of(f, "d.example.pfx");
    assert_int_equal(after.st_ino, d_before.st_ino);
    assert_int_equal(after.st_mtim.tv_nsec, d_before.st_mtim.tv_nsec);
    assert_int_equal(opens(f, "d.example.pfx", THIRD, NULL), PFX_OK);
    assert_int_equal(stat_of(f, "e.example.pfx").st_ino, e_before.st_ino);

    /* A rerun has nothing left to do. */
    after = stat_of(f, "a.example.pfx");
    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), 0);
    assert_int_equal(r.counts[REKEY_REWRITTEN], 0);
    assert_int_equal(r.counts[REKEY_DONE], 3);
    assert_int_equal(r.counts[REKEY_LEFT], 2);
    assert_int_equal(stat_of(f, "a.example.pfx").st_ino, after.st_ino);
    rekey_report_free(&r);
}

/* A rekey killed after its first write leaves a mixed store; the rerun finishes it. */
static void test_interrupted_rekey_finished_by_rerun(void **state)
{
    struct fixture *f = *state;
    struct rekey_options o = options();
    struct rekey_report r;
    struct errbuf err = {""};
    int status = 0, under_new = 0;
    pid_t child;

    seed(f);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct store *st;
        setenv("CCS_TEST_STOP_AT", "rekey-written:1", 1);
        if (store_open(f->s.dir, NULL, &st, &err) < 0)
            _exit(3);
        store_rekey(st, &o, &r, &err);
        _exit(0);
    }
    for (int i = 0; i < 300; i++) {
        if (waitpid(child, &status, WUNTRACED | WNOHANG) == child)
            break;
        usleep(100 * 1000);
    }
    kill(child, SIGKILL);
    if (!WIFSTOPPED(status)) {
        waitpid(child, &status, 0);
        fail_msg("the rekey never reached its first write");
    }
    waitpid(child, &status, 0);
    under_new = (opens(f, "a.example.pfx", NEW, NULL) == PFX_OK) +
                (opens(f, "b.example.pfx", NEW, NULL) == PFX_OK);
    assert_int_equal(under_new, 1); /* killed between the two: a mixed store */

    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), 0);
    assert_int_equal(r.counts[REKEY_REWRITTEN], 1);
    assert_int_equal(r.counts[REKEY_DONE], 2);
    rekey_report_free(&r);
    assert_int_equal(opens(f, "a.example.pfx", NEW, NULL), PFX_OK);
    assert_int_equal(opens(f, "b.example.pfx", NEW, NULL), PFX_OK);
}

static void test_format_and_refusals(void **state)
{
    struct fixture *f = *state;
    struct rekey_options o = options();
    struct rekey_report r;
    struct errbuf err = {""};
    enum pfx_format fmt;

    seed(f);
    o.new_password = OLD;
    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), -1);
    assert_non_null(strstr(err.msg, "the new password is the old one"));
    rekey_report_free(&r);

    o = options();
    o.keep_format = 0;
    o.format = PFX_FORMAT_AES256;
    assert_int_equal(store_rekey(f->s.st, &o, &r, &err), 0);
    rekey_report_free(&r);
    assert_int_equal(opens(f, "a.example.pfx", NEW, &fmt), PFX_OK);
    assert_int_equal(fmt, PFX_FORMAT_AES256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rekey_and_rerun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_rekey_finished_by_rerun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_and_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
