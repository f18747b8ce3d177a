/* Unit tests for src/manage/state.c: the SQLite state database, in a temp directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "manage/state.h"
#include "testcert.h"

#define THREADS 4
#define THREAD_ITERATIONS 200
/* A reader in another process does not wait for a writer at all (WAL): a read taking this long
 * would mean it was blocked. (Typical: 2 ms.) A writer waits its turn; it must not reach state.c's
 * busy timeout (5 s), which would be a failure. */
#define FORK_MAX_READ_MS 1000
#define FORK_READS 300
#define FORK_WRITE_EVERY 6
#define WRITER_PAUSE_US 2000
#define CREATORS 16
#define CREATE_ROUNDS 20 /* the race is a matter of timing: try it several times */

struct fixture {
    char *tmp;
    char dir[PATH_MAX];  /* the state directory (created by state_open) */
    char path[PATH_MAX]; /* dir/ccs.db */
    struct state_db *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err = {""};

    f->tmp = testcert_tmpdir();
    snprintf(f->dir, sizeof(f->dir), "%s/state", f->tmp);
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, STATE_DB_FILE);
    if (state_open(f->dir, STATE_OPEN_CREATE, NULL, &f->db, &err) < 0) {
        fprintf(stderr, "state_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    state_close(f->db);
    testcert_rmdir(f->tmp);
    free(f);
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A connection of our own, to look at or tamper with the file behind state.c's back. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *conn = NULL;
    if (sqlite3_open_v2(path, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        fail_msg("sqlite3_open %s: %s", path, conn ? sqlite3_errmsg(conn) : "out of memory");
    sqlite3_busy_timeout(conn, 5000);
    return conn;
}

static void raw_exec(sqlite3 *conn, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(conn, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static long long raw_int(sqlite3 *conn, const char *sql)
{
    sqlite3_stmt *stmt;
    long long v;
    if (sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW)
        fail_msg("%s: %s", sql, sqlite3_errmsg(conn));
    v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static void raw_text(sqlite3 *conn, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW)
        fail_msg("%s: %s", sql, sqlite3_errmsg(conn));
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
}

static void fill(char *buf, size_t size, char c)
{
    memset(buf, c, size - 1);
    buf[size - 1] = '\0';
}

/* Every field set, every string at its longest, times past 2038. */
static void full_record(struct cert_record *rec, const char *name, int seed)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->name, sizeof(rec->name), "%s", name);
    fill(rec->serial, sizeof(rec->serial), (char)('A' + seed % 6));
    fill(rec->thumbprint, sizeof(rec->thumbprint), (char)('0' + seed % 10));
    rec->not_before = 1700000000 + seed;
    rec->not_after = 4102444800LL + seed; /* 2100-01-01: needs 64 bits */
    rec->last_renewal = 1700000001 + seed;
    rec->ari_start = 1700000002 + seed;
    rec->ari_end = 1700000003 + seed;
    rec->ari_next_check = 1700000004 + seed;
    rec->renew_at = 1700000005 + seed;
    rec->last_attempt = 1700000006 + seed;
    rec->last_ok = seed % 2;
    fill(rec->last_message, sizeof(rec->last_message), 'm');
    memcpy(rec->last_message, "ü-ok ", 6); /* multi-byte UTF-8 survives */
    rec->failure_count = 7 + seed;
    rec->next_attempt = 1700000007 + seed;
    fill(rec->pending_order, sizeof(rec->pending_order), 'o');
    fill(rec->pending_key, sizeof(rec->pending_key), 'k');
    rec->pending_key[0] = '/';
    rec->pending_since = 1700000008 + seed;
}

static void assert_record_equal(const struct cert_record *a, const struct cert_record *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->serial, b->serial);
    assert_string_equal(a->thumbprint, b->thumbprint);
    assert_int_equal(a->not_before, b->not_before);
    assert_int_equal(a->not_after, b->not_after);
    assert_int_equal(a->last_renewal, b->last_renewal);
    assert_int_equal(a->ari_start, b->ari_start);
    assert_int_equal(a->ari_end, b->ari_end);
    assert_int_equal(a->ari_next_check, b->ari_next_check);
    assert_int_equal(a->renew_at, b->renew_at);
    assert_int_equal(a->last_attempt, b->last_attempt);
    assert_int_equal(a->last_ok, b->last_ok);
    assert_string_equal(a->last_message, b->last_message);
    assert_int_equal(a->failure_count, b->failure_count);
    assert_int_equal(a->next_attempt, b->next_attempt);
    assert_string_equal(a->pending_order, b->pending_order);
    assert_string_equal(a->pending_key, b->pending_key);
    assert_int_equal(a->pending_since, b->pending_since);
}

static void must(int rc, const struct errbuf *err)
{
    if (rc != 0)
        fail_msg("unexpected failure: %s", err->msg);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" lacks \"%s\"", haystack, needle);
}

static void put(struct state_db *db, const struct cert_record *rec)
{
    struct errbuf err = {""};
    must(state_cert_put(db, rec, &err), &err);
}

static void get(struct state_db *db, const char *name, struct cert_record *out, int *found)
{
    struct errbuf err = {""};
    must(state_cert_get(db, name, out, found, &err), &err);
}

static void renewal(struct state_db *db, const char *cert, time_t when, int ok, const char *serial,
                    const char *message)
{
    struct errbuf err = {""};
    must(state_renewal_add(db, cert, when, ok, serial, message, &err), &err);
}

static void task_run(struct state_db *db, const char *cert, const char *task, time_t when, int ok,
                     const char *message)
{
    struct errbuf err = {""};
    must(state_task_run_add(db, cert, task, when, ok, message, &err), &err);
}

static size_t renewal_count(struct state_db *db, const char *cert)
{
    struct errbuf err = {""};
    struct history_row *rows;
    size_t n;
    must(state_renewals(db, cert, SIZE_MAX, &rows, &n, &err), &err);
    free(rows);
    return n;
}

static size_t task_run_count(struct state_db *db, const char *cert)
{
    struct errbuf err = {""};
    struct history_row *rows;
    size_t n;
    must(state_task_runs(db, cert, SIZE_MAX, &rows, &n, &err), &err);
    free(rows);
    return n;
}

static void assert_mode(const char *path, mode_t type, mode_t mode)
{
    struct stat st;
    if (stat(path, &st) < 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    assert_int_equal(st.st_mode & S_IFMT, type);
    if ((st.st_mode & 07777) != mode)
        fail_msg("%s: mode %o, expected %o", path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

/* ---- opening --------------------------------------------------------------------------------- */

static void test_open_creates_private_dir_and_file(void **state)
{
    char *tmp = testcert_tmpdir();
    char dir[PATH_MAX], path[PATH_MAX], wal[PATH_MAX + 8];
    struct errbuf err = {""};
    struct state_db *db;
    struct cert_record rec;
    mode_t old;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/var/lib/ccs", tmp);
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_DB_FILE);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    old = umask(0); /* the modes must not depend on the caller's umask */
    must(state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err), &err);
    umask(old);
    assert_mode(dir, S_IFDIR, 0700);
    assert_mode(path, S_IFREG, 0600);
    full_record(&rec, "www", 1);
    put(db, &rec);
    assert_mode(wal, S_IFREG, 0600); /* SQLite copies the database's mode */
    state_close(db);
    /* An existing database in an existing directory opens as well. */
    must(state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err), &err);
    state_close(db);
    testcert_rmdir(tmp);
}

static void test_open_bad_inputs(void **state)
{
    char *tmp = testcert_tmpdir();
    char dir[PATH_MAX], path[PATH_MAX], junk[4096];
    struct errbuf err = {""};
    struct state_db *db = (struct state_db *)&err; /* not NULL: state_open must clear it */
    int fd;

    (void)state;
    assert_int_equal(state_open("", STATE_OPEN_CREATE, NULL, &db, &err), -1);
    assert_null(db);
    /* A file that is not a database is reported with its path. */
    snprintf(dir, sizeof(dir), "%s/state", tmp);
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_DB_FILE);
    assert_int_equal(mkdir(dir, 0700), 0);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    memset(junk, 'J', sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    assert_int_equal(state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err), -1);
    assert_null(db);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "not a database");
    /* A state directory that cannot be created. */
    snprintf(dir, sizeof(dir), "%s/%s/sub", tmp, "state/ccs.db"); /* under a file */
    assert_int_equal(state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err), -1);
    assert_contains(err.msg, "state ");
    assert_contains(err.msg, dir);
    testcert_rmdir(tmp);
}

static off_t size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return st.st_size;
}

/* STATE_OPEN_EXISTING never creates, and neither mode takes a 0-byte file for a new database
 * without saying so. */
static void test_open_modes(void **state)
{
    char *tmp = testcert_tmpdir();
    char dir[PATH_MAX], path[PATH_MAX];
    struct errbuf err = {""};
    struct state_db *db = NULL;
    enum state_origin origin = STATE_EXISTED;
    struct cert_record rec;
    int fd;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/state", tmp);
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_DB_FILE);
    /* Missing: EXISTING fails and creates nothing, not even the directory. */
    assert_int_equal(state_open(dir, STATE_OPEN_EXISTING, &origin, &db, &err), -1);
    assert_null(db);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "no database");
    assert_int_equal(access(dir, F_OK), -1);
    /* CREATE makes it and says so; the next open finds it. */
    must(state_open(dir, STATE_OPEN_CREATE, &origin, &db, &err), &err);
    assert_int_equal(origin, STATE_CREATED);
    full_record(&rec, "www", 1);
    put(db, &rec);
    state_close(db);
    must(state_open(dir, STATE_OPEN_EXISTING, &origin, &db, &err), &err);
    assert_int_equal(origin, STATE_EXISTED);
    state_close(db);
    must(state_open(dir, STATE_OPEN_CREATE, &origin, &db, &err), &err);
    assert_int_equal(origin, STATE_EXISTED);
    state_close(db);
    /* 0 bytes (a truncated database): EXISTING refuses and leaves it; CREATE says it starts over. */
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(state_open(dir, STATE_OPEN_EXISTING, &origin, &db, &err), -1);
    assert_null(db);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "empty (0 bytes)");
    assert_int_equal(size_of(path), 0);
    must(state_open(dir, STATE_OPEN_CREATE, &origin, &db, &err), &err);
    assert_int_equal(origin, STATE_CREATED_OVER_EMPTY);
    state_close(db);
    assert_true(size_of(path) > 0);
    testcert_rmdir(tmp);
}

/* ---- certificates ---------------------------------------------------------------------------- */

static void test_get_unknown(void **state)
{
    struct fixture *f = *state;
    struct cert_record rec;
    int found = 1;

    memset(&rec, 0x5a, sizeof(rec));
    get(f->db, "never.example", &rec, &found);
    assert_int_equal(found, 0);
    assert_string_equal(rec.name, "never.example");
    assert_int_equal(rec.last_ok, -1);
    assert_string_equal(rec.serial, "");
    assert_string_equal(rec.pending_order, "");
    assert_int_equal(rec.not_after, 0);
    assert_int_equal(rec.failure_count, 0);
    assert_int_equal(rec.next_attempt, 0);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cert_record in, out;
    char longest[sizeof(in.name)];
    int found = 0;

    full_record(&in, "www.example", 3);
    put(f->db, &in);
    get(f->db, "www.example", &out, &found);
    assert_int_equal(found, 1);
    assert_record_equal(&in, &out);

    /* The longest name that fits, and a record that is all defaults apart from it. */
    fill(longest, sizeof(longest), 'n');
    memset(&in, 0, sizeof(in));
    memcpy(in.name, longest, sizeof(longest));
    in.last_ok = -1;
    in.not_before = -1; /* negative times survive too */
    put(f->db, &in);
    get(f->db, longest, &out, &found);
    assert_int_equal(found, 1);
    assert_record_equal(&in, &out);
}

static void test_upsert(void **state)
{
    struct fixture *f = *state;
    struct cert_record rec, out;
    sqlite3 *raw;
    int found;

    full_record(&rec, "api", 1);
    put(f->db, &rec);
    renewal(f->db, "api", 100, 1, "01", "issued");
    task_run(f->db, "api", "deploy", 101, 1, "written");
    full_record(&rec, "api", 2); /* every field changes */
    snprintf(rec.pending_order, sizeof(rec.pending_order), "%s", "");
    put(f->db, &rec);
    get(f->db, "api", &out, &found);
    assert_int_equal(found, 1);
    assert_record_equal(&rec, &out);
    /* One row, and the history survived (an INSERT OR REPLACE would have cascaded it away). */
    raw = raw_open(f->path);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM certificates"), 1);
    sqlite3_close(raw);
    assert_int_equal(renewal_count(f->db, "api"), 1);
    assert_int_equal(task_run_count(f->db, "api"), 1);
}

static void test_put_errors_name_file_and_operation(void **state)
{
    struct fixture *f = *state;
    struct cert_record rec, out;
    struct errbuf err = {""};
    int found;

    memset(&rec, 0, sizeof(rec));
    assert_int_equal(state_cert_put(f->db, &rec, &err), -1);
    assert_contains(err.msg, f->path);
    assert_contains(err.msg, "no certificate name");
    /* Refused by the schema: the message carries SQLite's reason. */
    full_record(&rec, "bad", 0);
    rec.last_ok = 7;
    assert_int_equal(state_cert_put(f->db, &rec, &err), -1);
    assert_contains(err.msg, "state ");
    assert_contains(err.msg, f->path);
    assert_contains(err.msg, "cannot store certificate 'bad'");
    assert_contains(err.msg, "CHECK constraint failed");
    /* The connection is fine afterwards. */
    rec.last_ok = 1;
    put(f->db, &rec);
    get(f->db, "bad", &out, &found);
    assert_int_equal(out.last_ok, 1);
    /* A name that cannot fit struct cert_record is refused, not truncated. */
    char huge[300];
    fill(huge, sizeof(huge), 'h');
    assert_int_equal(state_cert_get(f->db, huge, &out, &found, &err), -1);
    assert_contains(err.msg, "longer than 255");
    assert_int_equal(state_renewal_add(f->db, huge, 1, 1, "", "", &err), -1);
    assert_contains(err.msg, "cannot record renewal");
    assert_int_equal(state_task_run_add(f->db, "www", "", 1, 1, "", &err), -1);
    assert_contains(err.msg, "no task name");
}

/* Values longer than the struct's buffers (written by another tool or a later version) are cut,
 * NUL-terminated, and never in the middle of a UTF-8 character. */
static void test_long_values_truncated_safely(void **state)
{
    struct fixture *f = *state;
    struct cert_record out;
    struct history_row *rows;
    struct errbuf err = {""};
    char message[1200], expect[512];
    size_t n;
    sqlite3 *raw;
    int found;

    /* 510 'a' then "é" (2 bytes) ends at byte 512: one too many for a 512-byte buffer. */
    memset(message, 'a', 510);
    strcpy(message + 510, "\xc3\xa9 and more");
    renewal(f->db, "long", 1, 0, "", message);
    must(state_renewals(f->db, "long", 1, &rows, &n, &err), &err);
    assert_int_equal(n, 1);
    memset(expect, 'a', 510);
    expect[510] = '\0';
    assert_string_equal(rows[0].message, expect);
    free(rows);

    raw = raw_open(f->path);
    raw_exec(raw, "UPDATE certificates SET serial = printf('%.1000c', 'S'), "
                  "last_message = printf('%.3000c', 'M') WHERE name = 'long'");
    sqlite3_close(raw);
    get(f->db, "long", &out, &found);
    assert_int_equal(found, 1);
    assert_int_equal(strlen(out.serial), sizeof(out.serial) - 1);
    assert_int_equal(strlen(out.last_message), sizeof(out.last_message) - 1);
    assert_int_equal(out.last_message[0], 'M');
}

/* ---- history --------------------------------------------------------------------------------- */

static void assert_row(const struct history_row *r, const char *cert, const char *task, time_t when,
                       int ok, const char *serial, const char *message)
{
    assert_string_equal(r->cert, cert);
    assert_string_equal(r->task, task);
    assert_int_equal(r->when, when);
    assert_int_equal(r->ok, ok);
    assert_string_equal(r->serial, serial);
    assert_string_equal(r->message, message);
}

static void test_renewals_newest_first(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct history_row *rows;
    size_t n;

    renewal(f->db, "a", 100, 1, "01", "first");
    renewal(f->db, "b", 300, 0, NULL, "rate limited");
    renewal(f->db, "a", 200, 1, "02", "second");
    renewal(f->db, "a", 200, 0, "", "same second, recorded later"); /* newer than "second" */
    renewal(f->db, "b", 50, 42, "0b", NULL);                        /* ok normalised to 1 */

    must(state_renewals(f->db, NULL, 100, &rows, &n, &err), &err);
    assert_int_equal(n, 5);
    assert_row(&rows[0], "b", "", 300, 0, "", "rate limited");
    assert_row(&rows[1], "a", "", 200, 0, "", "same second, recorded later");
    assert_row(&rows[2], "a", "", 200, 1, "02", "second");
    assert_row(&rows[3], "a", "", 100, 1, "01", "first");
    assert_row(&rows[4], "b", "", 50, 1, "0b", "");
    free(rows);

    must(state_renewals(f->db, NULL, 2, &rows, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].when, 300);
    assert_int_equal(rows[1].when, 200);
    free(rows);

    must(state_renewals(f->db, "a", 10, &rows, &n, &err), &err);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].message, "same second, recorded later");
    assert_string_equal(rows[1].serial, "02");
    assert_string_equal(rows[2].serial, "01");
    free(rows);

    must(state_renewals(f->db, "a", 1, &rows, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].message, "same second, recorded later");
    free(rows);

    must(state_renewals(f->db, "nobody", 10, &rows, &n, &err), &err);
    assert_int_equal(n, 0);
    free(rows);
    must(state_renewals(f->db, NULL, 0, &rows, &n, &err), &err);
    assert_int_equal(n, 0);
    free(rows);
    /* Renewals and task runs are separate histories. */
    assert_int_equal(task_run_count(f->db, NULL), 0);
}

static void test_task_runs_newest_first(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct history_row *rows;
    size_t n;

    task_run(f->db, "a", "deploy", 100, 1, "written to store main");
    task_run(f->db, "a", "reload", 150, 0, "exit status 1");
    task_run(f->db, "b", "deploy", 120, 1, "");
    task_run(f->db, "a", "export", 150, 1, "4 files");

    must(state_task_runs(f->db, NULL, SIZE_MAX, &rows, &n, &err), &err);
    assert_int_equal(n, 4);
    assert_row(&rows[0], "a", "export", 150, 1, "", "4 files");
    assert_row(&rows[1], "a", "reload", 150, 0, "", "exit status 1");
    assert_row(&rows[2], "b", "deploy", 120, 1, "", "");
    assert_row(&rows[3], "a", "deploy", 100, 1, "", "written to store main");
    free(rows);

    must(state_task_runs(f->db, "a", 2, &rows, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].task, "export");
    assert_string_equal(rows[1].task, "reload");
    free(rows);

    must(state_task_runs(f->db, "b", 10, &rows, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].cert, "b");
    free(rows);
    assert_int_equal(renewal_count(f->db, NULL), 0);
}

/* History for a certificate never put creates its row (history never dangles); the row reads
 * back as a record with defaults. */
static void test_history_before_put(void **state)
{
    struct fixture *f = *state;
    struct cert_record rec, out;
    int found;

    task_run(f->db, "manual-only", "script", 10, 1, "");
    get(f->db, "manual-only", &out, &found);
    assert_int_equal(found, 1);
    assert_int_equal(out.last_ok, -1);
    assert_string_equal(out.serial, "");
    full_record(&rec, "manual-only", 4);
    put(f->db, &rec);
    get(f->db, "manual-only", &out, &found);
    assert_record_equal(&rec, &out);
    assert_int_equal(task_run_count(f->db, "manual-only"), 1);
}

static void assert_failing(struct state_db *db, const char *cert, const char *const *expect,
                           size_t expect_count)
{
    struct errbuf err = {""};
    char **tasks;
    size_t n;

    must(state_failing_tasks(db, cert, &tasks, &n, &err), &err);
    assert_int_equal(n, expect_count);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(tasks[i], expect[i]);
        free(tasks[i]);
    }
    free(tasks);
}

static void test_failing_tasks(void **state)
{
    struct fixture *f = *state;
    static const char *const none[] = {NULL};
    static const char *const only_deploy[] = {"deploy"};
    static const char *const expect[] = {"deploy", "hook2", "late", "script"};
    struct errbuf err = {""};
    char **tasks = (char **)&err; /* not NULL: must be cleared on failure too */
    size_t n = 99;

    assert_failing(f->db, "a", none, 0);
    task_run(f->db, "a", "deploy", 100, 0, "store unreachable");
    assert_failing(f->db, "a", only_deploy, 1);
    task_run(f->db, "a", "reload", 100, 1, "");
    task_run(f->db, "a", "export", 100, 0, "disk full");
    task_run(f->db, "a", "export", 200, 1, ""); /* a later success clears it */
    task_run(f->db, "a", "script", 100, 1, "");
    task_run(f->db, "a", "script", 200, 0, "exit 3"); /* a later failure sets it */
    task_run(f->db, "a", "hook", 300, 0, "");
    task_run(f->db, "a", "hook", 300, 1, ""); /* same second: the later record wins */
    task_run(f->db, "a", "hook2", 300, 1, "");
    task_run(f->db, "a", "hook2", 300, 0, "");
    task_run(f->db, "a", "late", 500, 0, "");
    task_run(f->db, "a", "late", 400, 1, "");  /* recorded later but older: the newest failed */
    task_run(f->db, "b", "other", 100, 0, ""); /* another certificate's */
    assert_failing(f->db, "a", expect, 4);
    assert_failing(f->db, "unknown", none, 0);
    assert_int_equal(state_failing_tasks(f->db, NULL, &tasks, &n, &err), -1);
    assert_null(tasks);
    assert_int_equal(n, 0);
}

/* ---- persistence and schema ------------------------------------------------------------------ */

static void task_outcome(struct state_db *db, const char *task, time_t when, int ok,
                         const char *delivered, int stopped, const char *message)
{
    struct errbuf err = {""};
    struct state_task_run run = {.cert = "web", .task = task, .when = when, .ok = ok,
                                 .message = message, .delivered = delivered, .stopped = stopped};
    must(state_task_run_record(db, &run, &err), &err);
}

static const struct task_record *find_task(const struct task_record *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].task, name) == 0)
            return &t[i];
    fail_msg("no task state for %s", name);
    return NULL;
}

/* The task state follows the runs: failures count up and a success resets them; a delivery is
 * kept until the next one; a stopped run is recorded but is no failure. Each run is also in the
 * history. */
static void test_task_state(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct task_record *t = NULL;
    const struct task_record *ccs;
    size_t n;

    must(state_task_records(f->db, "web", &t, &n, &err), &err);
    assert_int_equal(n, 0);
    free(t);
    task_outcome(f->db, "ccs", 100, 0, NULL, 0, "store read-only");
    task_outcome(f->db, "ccs", 110, 0, "IGNORED", 0, "again"); /* a failure delivers nothing */
    task_outcome(f->db, "ccs", 120, 0, NULL, 1, "stopped: ccs was asked to stop");
    must(state_task_records(f->db, "web", &t, &n, &err), &err);
    ccs = find_task(t, n, "ccs");
    assert_int_equal(ccs->failure_count, 2);
    assert_string_equal(ccs->delivered, "");
    assert_int_equal(ccs->last_attempt, 120);
    assert_int_equal(ccs->last_ok, 0);
    assert_string_equal(ccs->last_message, "stopped: ccs was asked to stop");
    free(t);
    task_outcome(f->db, "ccs", 130, 1, "AAAA", 0, "written");
    task_outcome(f->db, "pem", 130, 1, NULL, 0, "nothing delivered");
    must(state_task_records(f->db, "web", &t, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].task, "ccs"); /* by name */
    ccs = find_task(t, n, "ccs");
    assert_int_equal(ccs->failure_count, 0);
    assert_string_equal(ccs->delivered, "AAAA");
    assert_int_equal(ccs->delivered_at, 130);
    assert_string_equal(find_task(t, n, "pem")->delivered, "");
    free(t);
    task_outcome(f->db, "ccs", 140, 0, NULL, 0, "failed after");
    task_outcome(f->db, "ccs", 150, 1, NULL, 0, "ok without a certificate");
    must(state_task_records(f->db, "web", &t, &n, &err), &err);
    ccs = find_task(t, n, "ccs");
    assert_string_equal(ccs->delivered, "AAAA"); /* kept until the next delivery */
    assert_int_equal(ccs->delivered_at, 130);
    assert_int_equal(ccs->failure_count, 0);
    free(t);
    task_outcome(f->db, "ccs", 160, 1, "BBBB", 0, "next certificate");
    must(state_task_records(f->db, "web", &t, &n, &err), &err);
    assert_string_equal(find_task(t, n, "ccs")->delivered, "BBBB");
    free(t);
    assert_int_equal(task_run_count(f->db, "web"), 8);
    /* Another certificate's tasks are its own. */
    must(state_task_records(f->db, "other", &t, &n, &err), &err);
    assert_int_equal(n, 0);
    free(t);
}

/* ---- batches and scans ------------------------------------------------------------------------ */

struct scanned {
    char names[8][32];
    time_t not_after[8];
    int failures[8], pending[8];
    size_t n;
    char tasks[8][64]; /* "cert/task/delivered/failures" */
    size_t ntasks;
    char runs[16][64]; /* "cert/task/message" */
    size_t nruns;
    int stop_after; /* a callback's refusal stops the scan (0: never) */
};

static int scan_cert(void *ctx, const struct cert_brief *c)
{
    struct scanned *s = ctx;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", c->name);
    s->not_after[s->n] = c->not_after;
    s->failures[s->n] = c->failure_count;
    s->pending[s->n] = c->pending;
    s->n++;
    return s->stop_after && s->n == (size_t)s->stop_after ? 7 : 0;
}

static int scan_task(void *ctx, const struct task_brief *t)
{
    struct scanned *s = ctx;
    snprintf(s->tasks[s->ntasks++], sizeof(s->tasks[0]), "%s/%s/%s/%d", t->cert, t->task,
             t->delivered, t->failure_count);
    return 0;
}

static int scan_run(void *ctx, const struct run_brief *r)
{
    struct scanned *s = ctx;
    snprintf(s->runs[s->nruns++], sizeof(s->runs[0]), "%s/%s/%s", r->cert, r->task, r->message);
    return 0;
}

static void put_cert(struct state_db *db, const char *name, time_t not_after, int failures,
                     int last_ok, struct errbuf *err)
{
    struct cert_record rec = {0};
    snprintf(rec.name, sizeof(rec.name), "%s", name);
    rec.not_after = not_after;
    rec.failure_count = failures;
    rec.last_ok = last_ok;
    if (failures == 3)
        snprintf(rec.pending_key, sizeof(rec.pending_key), "/state/certs/%s/pending", name);
    must(state_cert_put(db, &rec, err), err);
}

static void run(struct state_db *db, const char *cert, const char *task, time_t when, int ok,
                const char *delivered, const char *message)
{
    struct state_task_run r = {.cert = cert, .task = task, .when = when, .ok = ok,
                               .delivered = delivered, .message = message};
    struct errbuf err = {""};
    must(state_task_run_record(db, &r, &err), &err);
}

/* Writes in a batch are one transaction: another connection sees none before the end, all
 * after; a write that fails in the batch is undone alone. */
static void test_batch(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct cert_record bad = {0};
    sqlite3 *raw = raw_open(f->path);

    must(state_batch_begin(f->db, &err), &err);
    assert_int_equal(state_batch_begin(f->db, &err), -1); /* one at a time */
    assert_non_null(strstr(err.msg, "already open"));
    put_cert(f->db, "web", 1000, 0, 1, &err);
    run(f->db, "web", "ccs", 10, 1, "AAAA", "written");
    snprintf(bad.name, sizeof(bad.name), "bad");
    bad.last_ok = 5; /* the CHECK constraint refuses it */
    assert_int_equal(state_cert_put(f->db, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "'bad'"));
    {
        struct state_task_run r = {.cert = "mail", .task = "", .when = 1, .message = "x"};
        assert_int_equal(state_task_run_record(f->db, &r, &err), -1);
    }
    run(f->db, "mail", "pem", 11, 0, NULL, "failed");
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM certificates"), 0); /* not yet */
    must(state_batch_end(f->db, &err), &err);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM certificates"), 2);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM certificates WHERE name = 'bad'"), 0);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM task_runs"), 2);
    assert_int_equal(raw_int(raw, "SELECT failure_count FROM task_state WHERE cert = 'mail'"), 1);
    must(state_batch_end(f->db, &err), &err); /* no batch: nothing to do */
    /* Outside a batch, writes commit one by one again. */
    put_cert(f->db, "after", 1, 0, 1, &err);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM certificates"), 3);
    sqlite3_close(raw);
}

static void test_scans(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct scanned s = {0};

    put_cert(f->db, "mail", 2000, 1, 0, &err);
    put_cert(f->db, "alpha", 1000, 0, 1, &err);
    put_cert(f->db, "web", 3000, 3, 0, &err);
    run(f->db, "web", "pem", 10, 1, "AAAA", "w1");
    run(f->db, "web", "ccs", 11, 0, NULL, "w2");
    run(f->db, "web", "ccs", 12, 1, "BBBB", "w3");
    run(f->db, "alpha", "ccs", 5, 0, NULL, "a1");
    run(f->db, "web", "pem", 12, 1, "AAAA", "w4"); /* the same second as w3, recorded after it */
    must(state_cert_scan(f->db, scan_cert, &s, &err), &err);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[0], "alpha"); /* by name */
    assert_string_equal(s.names[1], "mail");
    assert_string_equal(s.names[2], "web");
    assert_int_equal(s.not_after[1], 2000);
    assert_int_equal(s.failures[1], 1);
    assert_int_equal(s.pending[2], 1);
    assert_int_equal(s.pending[0], 0);
    must(state_task_scan(f->db, scan_task, &s, &err), &err);
    assert_int_equal(s.ntasks, 3);
    assert_string_equal(s.tasks[0], "alpha/ccs//1");
    assert_string_equal(s.tasks[1], "web/ccs/BBBB/0");
    assert_string_equal(s.tasks[2], "web/pem/AAAA/0");
    must(state_recent_runs_scan(f->db, 2, scan_run, &s, &err), &err);
    assert_int_equal(s.nruns, 3); /* web's two newest, alpha's one; none of mail, which has none */
    assert_string_equal(s.runs[0], "alpha/ccs/a1");
    assert_string_equal(s.runs[1], "web/pem/w4"); /* a tie in time: the later recorded first */
    assert_string_equal(s.runs[2], "web/ccs/w3");
    /* A callback that refuses a row stops the scan with its value. */
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    assert_int_equal(state_cert_scan(f->db, scan_cert, &s, &err), 7);
    assert_int_equal(s.n, 2);
    /* The statement was reset: the next scan starts from the first row. */
    memset(&s, 0, sizeof(s));
    must(state_cert_scan(f->db, scan_cert, &s, &err), &err);
    assert_int_equal(s.n, 3);
}

static void test_reopen_persists(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct cert_record rec, out;
    int found;

    full_record(&rec, "persist", 5);
    put(f->db, &rec);
    renewal(f->db, "persist", 1000, 1, "ab", "ok");
    task_run(f->db, "persist", "deploy", 1001, 0, "failed");
    state_close(f->db);
    f->db = NULL;
    must(state_open(f->dir, STATE_OPEN_CREATE, NULL, &f->db, &err), &err);
    get(f->db, "persist", &out, &found);
    assert_int_equal(found, 1);
    assert_record_equal(&rec, &out);
    assert_int_equal(renewal_count(f->db, "persist"), 1);
    assert_int_equal(task_run_count(f->db, "persist"), 1);
    static const char *const failing[] = {"deploy"};
    assert_failing(f->db, "persist", failing, 1);
}

/* Schema version 1 as released. Frozen here on purpose: when state.c moves to version 2, this is
 * still what the databases in the field look like, and they must keep opening. */
static const char FROZEN_SCHEMA_V1[] =
    "CREATE TABLE certificates (name TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),"
    " serial TEXT NOT NULL DEFAULT '', thumbprint TEXT NOT NULL DEFAULT '',"
    " not_before INTEGER NOT NULL DEFAULT 0, not_after INTEGER NOT NULL DEFAULT 0,"
    " last_renewal INTEGER NOT NULL DEFAULT 0, ari_start INTEGER NOT NULL DEFAULT 0,"
    " ari_end INTEGER NOT NULL DEFAULT 0, ari_next_check INTEGER NOT NULL DEFAULT 0,"
    " renew_at INTEGER NOT NULL DEFAULT 0, last_attempt INTEGER NOT NULL DEFAULT 0,"
    " last_ok INTEGER NOT NULL DEFAULT -1 CHECK (last_ok IN (-1, 0, 1)),"
    " last_message TEXT NOT NULL DEFAULT '', failure_count INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0, pending_order TEXT NOT NULL DEFAULT '',"
    " pending_key TEXT NOT NULL DEFAULT '', pending_since INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE renewals (id INTEGER PRIMARY KEY,"
    " cert TEXT NOT NULL REFERENCES certificates (name) ON DELETE CASCADE ON UPDATE CASCADE,"
    " time INTEGER NOT NULL, ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
    " serial TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX renewals_by_cert_time ON renewals (cert, time);"
    "CREATE INDEX renewals_by_time ON renewals (time);"
    "CREATE TABLE task_runs (id INTEGER PRIMARY KEY,"
    " cert TEXT NOT NULL REFERENCES certificates (name) ON DELETE CASCADE ON UPDATE CASCADE,"
    " task TEXT NOT NULL, time INTEGER NOT NULL, ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
    " message TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX task_runs_by_cert_time ON task_runs (cert, time);"
    "CREATE INDEX task_runs_by_cert_task_time ON task_runs (cert, task, time DESC, id DESC);"
    "CREATE INDEX task_runs_by_time ON task_runs (time);"
    "PRAGMA user_version = 1;";

static void test_existing_v1_database_opens(void **state)
{
    char *tmp = testcert_tmpdir();
    char path[PATH_MAX];
    struct errbuf err = {""};
    struct state_db *db;
    struct cert_record out;
    struct history_row *rows;
    size_t n;
    sqlite3 *raw;
    int found;

    (void)state;
    snprintf(path, sizeof(path), "%s/%s", tmp, STATE_DB_FILE);
    raw = raw_open(path);
    raw_exec(raw, FROZEN_SCHEMA_V1);
    raw_exec(raw, "INSERT INTO certificates (name, serial, not_after, last_ok, failure_count)"
                  " VALUES ('legacy', '0A1B', 4102444800, 0, 3);"
                  "INSERT INTO renewals (cert, time, ok, serial, message)"
                  " VALUES ('legacy', 1234, 1, '0A1B', 'from v1');"
                  /* Task history for version 2's seed: renewed at 1000 (thumbprint TP). */
                  "INSERT INTO certificates (name, thumbprint, last_renewal)"
                  " VALUES ('web', 'TP', 1000);"
                  "INSERT INTO task_runs (cert, task, time, ok, message) VALUES"
                  " ('web', 'ccs', 900, 0, 'old failure'),"
                  " ('web', 'ccs', 1000, 1, 'delivered'),"     /* newest, after the renewal */
                  " ('web', 'pem', 1001, 0, 'disk full'),"     /* newest failed */
                  " ('web', 'notify', 500, 1, 'before it')");  /* before the renewal: owed */
    sqlite3_close(raw);

    must(state_open(tmp, STATE_OPEN_CREATE, NULL, &db, &err), &err);
    get(db, "legacy", &out, &found);
    assert_int_equal(found, 1);
    assert_string_equal(out.serial, "0A1B");
    assert_int_equal(out.not_after, 4102444800LL);
    assert_int_equal(out.last_ok, 0);
    assert_int_equal(out.failure_count, 3);
    assert_int_equal(out.last_renewal, 0);
    must(state_renewals(db, "legacy", 5, &rows, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_row(&rows[0], "legacy", "", 1234, 1, "0A1B", "from v1");
    free(rows);
    renewal(db, "legacy", 2000, 1, "0C", "after reopen");
    {
        struct task_record *tasks;
        must(state_task_records(db, "web", &tasks, &n, &err), &err);
        assert_int_equal(n, 3);
        assert_string_equal(tasks[0].task, "ccs");
        assert_string_equal(tasks[0].delivered, "TP");
        assert_int_equal(tasks[0].delivered_at, 1000);
        assert_int_equal(tasks[0].failure_count, 0);
        assert_int_equal(tasks[0].last_ok, 1);
        assert_string_equal(tasks[1].task, "notify");
        assert_string_equal(tasks[1].delivered, ""); /* ran before the renewal */
        assert_int_equal(tasks[1].last_attempt, 500);
        assert_string_equal(tasks[2].task, "pem");
        assert_string_equal(tasks[2].delivered, "");
        assert_int_equal(tasks[2].failure_count, 1);
        assert_int_equal(tasks[2].last_ok, 0);
        assert_string_equal(tasks[2].last_message, "disk full");
        free(tasks);
    }
    state_close(db);

    raw = raw_open(path);
    assert_int_equal(raw_int(raw, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM renewals"), 2);
    /* Version 3: the task runs' index newest first replaced the (cert, time) one. */
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                  "name = 'task_runs_by_cert_newest'"), 1);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                  "name = 'task_runs_by_cert_time'"), 0);
    sqlite3_close(raw);
    testcert_rmdir(tmp);
}

static void test_newer_schema_refused(void **state)
{
    char *tmp = testcert_tmpdir();
    char path[PATH_MAX], want[64], mode[32];
    struct errbuf err = {""};
    struct state_db *db = NULL;
    sqlite3 *raw;

    (void)state;
    snprintf(path, sizeof(path), "%s/%s", tmp, STATE_DB_FILE);
    raw = raw_open(path);
    snprintf(want, sizeof(want), "CREATE TABLE future (x); PRAGMA user_version = %d",
             STATE_SCHEMA_VERSION + 1);
    raw_exec(raw, want);
    sqlite3_close(raw);

    assert_int_equal(state_open(tmp, STATE_OPEN_CREATE, NULL, &db, &err), -1);
    assert_null(db);
    assert_contains(err.msg, path);
    snprintf(want, sizeof(want), "schema version %d", STATE_SCHEMA_VERSION + 1);
    assert_contains(err.msg, want);
    snprintf(want, sizeof(want), "(version %d)", STATE_SCHEMA_VERSION);
    assert_contains(err.msg, want);
    assert_contains(err.msg, "newer");

    /* Nothing was changed: not the version, not the journal mode, no tables added. */
    raw = raw_open(path);
    assert_int_equal(raw_int(raw, "PRAGMA user_version"), STATE_SCHEMA_VERSION + 1);
    raw_text(raw, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "delete");
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'certificates'"),
                     0);
    sqlite3_close(raw);
    testcert_rmdir(tmp);
}

static void test_pragmas(void **state)
{
    struct fixture *f = *state;
    char mode[32];
    sqlite3 *raw = raw_open(f->path);

    raw_text(raw, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal"); /* persistent in the file */
    assert_int_equal(raw_int(raw, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
    sqlite3_close(raw);
}

/* ---- concurrency ----------------------------------------------------------------------------- */

/* Another process holds the write lock: reads go on at once (WAL); a write waits the busy timeout
 * and then fails with a message naming the file, the operation and the reason. */
static void test_locked_database(void **state)
{
    struct fixture *f = *state;
    struct errbuf err = {""};
    struct history_row *rows;
    size_t n;
    long start, waited;
    sqlite3 *raw;

    renewal(f->db, "www", 1, 1, "01", "");
    raw = raw_open(f->path);
    raw_exec(raw, "BEGIN IMMEDIATE; INSERT INTO certificates (name) VALUES ('raw')");

    start = now_ms();
    must(state_renewals(f->db, NULL, 10, &rows, &n, &err), &err);
    assert_int_equal(n, 1);
    free(rows);
    assert_true(now_ms() - start < FORK_MAX_READ_MS);

    start = now_ms();
    assert_int_equal(state_task_run_add(f->db, "www", "reload", 2, 1, "", &err), -1);
    waited = now_ms() - start;
    assert_contains(err.msg, "state ");
    assert_contains(err.msg, f->path);
    assert_contains(err.msg, "cannot record task run");
    assert_contains(err.msg, "database is locked");
    assert_true(waited >= 4000); /* the busy timeout was honoured */

    raw_exec(raw, "ROLLBACK");
    sqlite3_close(raw);
    task_run(f->db, "www", "reload", 3, 1, "");
    assert_int_equal(task_run_count(f->db, "www"), 1); /* the failed one left nothing */
}

struct worker {
    struct state_db *db;
    int id;
    int failures;
    struct errbuf err;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[32], task[32], serial[32], message[64];
    struct cert_record rec, out;
    int found;

    snprintf(name, sizeof(name), "thread-%d", w->id);
    for (int i = 0; i < THREAD_ITERATIONS; i++) {
        memset(&rec, 0, sizeof(rec));
        snprintf(rec.name, sizeof(rec.name), "%s", name);
        snprintf(rec.last_message, sizeof(rec.last_message), "iteration %d", i);
        rec.failure_count = i;
        rec.last_ok = i % 2;
        rec.last_attempt = 1000 + i;
        snprintf(serial, sizeof(serial), "%04X", i);
        snprintf(task, sizeof(task), "task-%d", i % 3);
        snprintf(message, sizeof(message), "%s run %d", name, i);
        if (state_cert_put(w->db, &rec, &w->err) < 0 ||
            state_renewal_add(w->db, name, 1000 + i, i % 2, serial, message, &w->err) < 0 ||
            state_task_run_add(w->db, name, task, 1000 + i, 1, message, &w->err) < 0 ||
            state_cert_get(w->db, name, &out, &found, &w->err) < 0) {
            w->failures++;
            continue;
        }
        if (!found || out.failure_count != i) {
            snprintf(w->err.msg, sizeof(w->err.msg), "%s: read back %d, wrote %d", name,
                     out.failure_count, i);
            w->failures++;
        }
    }
    return NULL;
}

static void test_threads_lose_nothing(void **state)
{
    struct fixture *f = *state;
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    struct errbuf err = {""};
    struct history_row *rows;
    char name[32];
    size_t n;

    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.db = f->db, .id = t};
        assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        if (workers[t].failures)
            fail_msg("thread %d: %d failures, last: %s", t, workers[t].failures,
                     workers[t].err.msg);
    }
    assert_int_equal(renewal_count(f->db, NULL), THREADS * THREAD_ITERATIONS);
    assert_int_equal(task_run_count(f->db, NULL), THREADS * THREAD_ITERATIONS);
    for (int t = 0; t < THREADS; t++) {
        struct cert_record out;
        int found;
        snprintf(name, sizeof(name), "thread-%d", t);
        get(f->db, name, &out, &found);
        assert_int_equal(out.failure_count, THREAD_ITERATIONS - 1);
        must(state_renewals(f->db, name, SIZE_MAX, &rows, &n, &err), &err);
        assert_int_equal(n, THREAD_ITERATIONS);
        for (size_t i = 0; i < n; i++) /* every one, newest first, none twice */
            assert_int_equal(rows[i].when, 1000 + THREAD_ITERATIONS - 1 - (int)i);
        free(rows);
    }
}

struct child_report {
    int failures, reads, writes, saw_progress;
    long max_read_ms, max_write_ms;
    char msg[ERRBUF_SIZE];
};

/* The child: its own connection (never one inherited across fork), reading and now and then
 * writing while the parent writes. Reports through FD; no cmocka here. */
static void child_main(const char *dir, int go_fd, int report_fd)
{
    struct child_report rep = {0};
    struct state_db *db;
    struct errbuf err = {""};
    struct cert_record rec;
    struct history_row *rows;
    size_t n;
    int found, first = -1;
    char byte;

    if (state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err) < 0) {
        rep.failures++;
        snprintf(rep.msg, sizeof(rep.msg), "open: %s", err.msg);
        goto report;
    }
    if (read(go_fd, &byte, 1) != 1) {
        rep.failures++;
        goto done;
    }
    for (int i = 0; i < FORK_READS; i++) {
        long start = now_ms(), took;
        int rc = state_cert_get(db, "writer", &rec, &found, &err);
        if (rc == 0) {
            if (first < 0)
                first = rec.failure_count;
            else if (rec.failure_count > first)
                rep.saw_progress = 1;
            rc = state_renewals(db, NULL, 20, &rows, &n, &err);
            if (rc == 0)
                free(rows);
        }
        took = now_ms() - start;
        if (took > rep.max_read_ms)
            rep.max_read_ms = took;
        if (rc == 0 && i % FORK_WRITE_EVERY == 0) {
            start = now_ms();
            rc = state_task_run_add(db, "reader", "probe", i, 1, "from the child", &err);
            rep.writes += rc == 0;
            took = now_ms() - start;
            if (took > rep.max_write_ms)
                rep.max_write_ms = took;
        }
        if (rc < 0) {
            rep.failures++;
            snprintf(rep.msg, sizeof(rep.msg), "%s", err.msg);
        }
        rep.reads++;
        usleep(2000);
    }
done:
    state_close(db);
report:
    if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
        _exit(2);
    _exit(0);
}

static void test_second_process_not_blocked(void **state)
{
    char *tmp = testcert_tmpdir();
    char dir[PATH_MAX];
    int go[2], report[2], status = 0, writes = 0;
    struct child_report rep;
    struct errbuf err = {""};
    struct state_db *db;
    struct cert_record rec;
    long deadline;
    pid_t pid;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/state", tmp);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(report), 0);
    /* Fork before anything opens the database: both processes create and migrate it at once. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(report[0]);
        child_main(dir, go[0], report[1]);
    }
    close(go[0]);
    close(report[1]);
    if (state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("parent: %s", err.msg);
    }
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.name, sizeof(rec.name), "writer");
    put(db, &rec);
    /* If the child gave up already, its report says why: no SIGPIPE before we read it. */
    signal(SIGPIPE, SIG_IGN);
    if (write(go[1], "g", 1) != 1)
        waitpid(pid, &status, 0);
    deadline = now_ms() + 60000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("child did not finish");
        }
        rec.failure_count = ++writes;
        put(db, &rec);
        renewal(db, "writer", writes, 1, "", "from the parent");
        /* A renewer does other work between writes. Without any pause the writer re-takes the
         * lock at once and a waiting writer (whose busy handler sleeps and polls) can starve:
         * SQLite's locks are not fair. */
        usleep(WRITER_PAUSE_US);
    }
    assert_int_equal(read(report[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
    if (rep.failures)
        fail_msg("child: %d failures, last: %s", rep.failures, rep.msg);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(rep.reads, FORK_READS);
    assert_true(rep.saw_progress);
    print_message("child: %d reads (longest %ld ms), %d writes (longest %ld ms); parent: %d "
                  "writes\n",
                  rep.reads, rep.max_read_ms, rep.writes, rep.max_write_ms, writes);
    if (rep.max_read_ms >= FORK_MAX_READ_MS)
        fail_msg("a read in the child waited %ld ms", rep.max_read_ms);
    assert_int_equal(rep.writes, (FORK_READS + FORK_WRITE_EVERY - 1) / FORK_WRITE_EVERY);
    assert_int_equal(task_run_count(db, "reader"), (size_t)rep.writes);
    assert_int_equal(renewal_count(db, "writer"), (size_t)writes);
    state_close(db);
    close(go[1]);
    close(report[0]);
    testcert_rmdir(tmp);
}

/* Several ccs started at once on a machine without a database yet: all of them create, switch
 * to WAL and migrate the same new file, and every one succeeds. */
static void processes_create_at_once(void)
{
    char *tmp = testcert_tmpdir();
    char dir[PATH_MAX], name[32];
    int start[2], status;
    pid_t pids[CREATORS];
    struct errbuf err = {""};
    struct state_db *db;
    struct cert_record out;
    int found;

    snprintf(dir, sizeof(dir), "%s/state", tmp);
    assert_int_equal(pipe(start), 0);
    for (int i = 0; i < CREATORS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char byte;
            struct cert_record rec;
            close(start[1]);
            if (read(start[0], &byte, 1) != 0) /* EOF: all go at once */
                _exit(3);
            memset(&rec, 0, sizeof(rec));
            snprintf(rec.name, sizeof(rec.name), "creator-%d", i);
            rec.failure_count = i;
            if (state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err) < 0) {
                fprintf(stderr, "creator %d: %s\n", i, err.msg);
                _exit(1);
            }
            if (state_cert_put(db, &rec, &err) < 0 ||
                state_renewal_add(db, rec.name, i, 1, "", "", &err) < 0) {
                fprintf(stderr, "creator %d: %s\n", i, err.msg);
                _exit(2);
            }
            state_close(db);
            _exit(0);
        }
    }
    close(start[0]);
    close(start[1]);
    for (int i = 0; i < CREATORS; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    must(state_open(dir, STATE_OPEN_CREATE, NULL, &db, &err), &err);
    for (int i = 0; i < CREATORS; i++) {
        snprintf(name, sizeof(name), "creator-%d", i);
        get(db, name, &out, &found);
        assert_int_equal(found, 1);
        assert_int_equal(out.failure_count, i);
    }
    assert_int_equal(renewal_count(db, NULL), CREATORS);
    state_close(db);
    testcert_rmdir(tmp);
}

static void test_processes_create_at_once(void **state)
{
    (void)state;
    for (int round = 0; round < CREATE_ROUNDS; round++)
        processes_create_at_once();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_private_dir_and_file),
        cmocka_unit_test(test_open_bad_inputs),
        cmocka_unit_test(test_open_modes),
        cmocka_unit_test_setup_teardown(test_get_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_errors_name_file_and_operation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_values_truncated_safely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewals_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_runs_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_before_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_persists, setup, teardown),
        cmocka_unit_test(test_existing_v1_database_opens),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test_setup_teardown(test_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_lose_nothing, setup, teardown),
        cmocka_unit_test(test_second_process_not_blocked),
        cmocka_unit_test(test_processes_create_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
