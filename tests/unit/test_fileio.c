/* Unit tests for src/util/fileio.c: atomic writes, staged sets of files, and the removal of the
 * temp files killed writes leave behind. In a temp directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testcert.h"
#include "util/fileio.h"

static char *read_all(const char *path)
{
    static char buf[4096];
    FILE *fp = fopen(path, "r");
    size_t n;

    if (!fp)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Names in DIR holding ".tmp-". */
static int count_temps(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static void test_write_atomic(void **state)
{
    char *dir = testcert_tmpdir();
    char path[512], missing[512];
    struct errbuf err = {""};
    struct stat st;

    (void)state;
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    write_file(path, "old");
    assert_int_equal(file_write_atomic(path, (const unsigned char *)"new", 3, 0600, &err), 0);
    assert_string_equal(read_all(path), "new");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_temps(dir), 0);
    snprintf(missing, sizeof(missing), "%s/no-such-dir/key.pem", dir);
    assert_int_equal(file_write_atomic(missing, (const unsigned char *)"x", 1, 0600, &err), -1);
    assert_non_null(strstr(err.msg, missing));
    testcert_rmdir(dir);
}

/* A staged file is complete under its temp name while the destination still holds the old
 * content; commit replaces it; discard leaves the destination alone. */
static void test_stage_commit_discard(void **state)
{
    char *dir = testcert_tmpdir();
    char a[512], b[512];
    struct file_stage sa, sb;
    struct errbuf err = {""};
    struct stat st;

    (void)state;
    snprintf(a, sizeof(a), "%s/cert.pem", dir);
    snprintf(b, sizeof(b), "%s/key.pem", dir);
    write_file(a, "old cert");
    write_file(b, "old key");
    assert_int_equal(file_stage(a, (const unsigned char *)"new cert", 8, 0644, -1, -1, &sa, &err),
                     0);
    assert_int_equal(file_stage(b, (const unsigned char *)"new key", 7, 0600, -1, -1, &sb, &err), 0);
    assert_int_equal(count_temps(dir), 2);
    assert_string_equal(read_all(sa.temp), "new cert");
    assert_int_equal(stat(sb.temp, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600); /* the mode is there before the content */
    assert_string_equal(read_all(a), "old cert");
    assert_int_equal(file_stage_commit(&sa, &err), 0);
    assert_string_equal(read_all(a), "new cert");
    assert_string_equal(sa.temp, "");
    file_stage_discard(&sb);
    assert_string_equal(read_all(b), "old key");
    assert_int_equal(count_temps(dir), 0);
    file_stage_discard(&sa); /* committed: nothing to do */
    assert_string_equal(read_all(a), "new cert");
    testcert_rmdir(dir);
}

/* Only PATH's own temp files, of the shapes our writers make, are removed: regular files and
 * symbolic links named PATH.tmp-[A-Za-z0-9]+. Nothing else in the directory is touched. */
static void test_remove_stale_temps(void **state)
{
    char *dir = testcert_tmpdir();
    char path[512], p[1024];
    struct errbuf err = {""};
    static const char *const removed[] = {"x.pem.tmp-AbC123", "x.pem.tmp-4242"};
    static const char *const kept[] = {"x.pem", "x.pem.tmp-", "x.pem.tmp-a.b", "y.pem.tmp-AbC123",
                                       "xx.pem.tmp-AbC123", "x.pem.tmpAbC123"};

    (void)state;
    snprintf(path, sizeof(path), "%s/x.pem", dir);
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, kept[i]);
        write_file(p, "keep");
    }
    snprintf(p, sizeof(p), "%s/%s", dir, removed[0]);
    write_file(p, "-----BEGIN PRIVATE KEY-----");
    snprintf(p, sizeof(p), "%s/%s", dir, removed[1]);
    assert_int_equal(symlink("42", p), 0); /* a symlink swap's temp */
    snprintf(p, sizeof(p), "%s/x.pem.tmp-Dir1", dir);
    assert_int_equal(mkdir(p, 0700), 0); /* not a file of ours */

    assert_int_equal(file_remove_stale_temps(path, &err), 2);
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, removed[i]);
        assert_int_equal(lstat(p, &st), -1);
    }
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, kept[i]);
        assert_int_equal(access(p, F_OK), 0);
    }
    snprintf(p, sizeof(p), "%s/x.pem.tmp-Dir1", dir);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(file_remove_stale_temps(path, &err), 0); /* nothing left to remove */
    snprintf(p, sizeof(p), "%s/missing/x.pem", dir);
    assert_int_equal(file_remove_stale_temps(p, &err), 0); /* no directory, no leftovers */
    testcert_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_stage_commit_discard),
        cmocka_unit_test(test_remove_stale_temps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
