/* state.c — ccs's memory between runs: one SQLite database, STATE_DIR/ccs.db.
 *
 * Durability: WAL with synchronous=FULL, so a function that returned 0 has its change on disk
 * (NORMAL may lose the last commits on power loss — not acceptable for a pending order recorded
 * before finalize). Concurrency: several ccs processes may open the file (`ccs status` while
 * `ccs renew` runs); WAL lets readers go on while a writer commits, every write transaction is
 * BEGIN IMMEDIATE (takes the write lock up front, so the busy timeout applies instead of a
 * read-to-write upgrade failing at once), and a busy timeout waits out the other's short locks.
 * Within a process: one connection, every use under db->lock.
 *
 * Schema: PRAGMA user_version is the schema version; `migrations` below takes a database from
 * any older version to STATE_SCHEMA_VERSION in one transaction. A database newer than this code is
 * refused before anything in it is changed.
 *
 * All SQL is constant text prepared once at open; values are bound, never spliced in. */
#include "manage/state.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/fileio.h"

#define STATE_DIR_MODE 0700
#define STATE_FILE_MODE 0600 /* holds key paths and order URLs: the owner's business */

/* How long a statement waits for another process's lock before failing with "database is locked".
 * Our write transactions touch one or two rows and last one fsync (milliseconds); the longest lock
 * another ccs holds is a WAL checkpoint of at most ~1000 pages (SQLite's default auto-checkpoint).
 * Five seconds covers a slow disk many times over and still lets `ccs status` answer promptly. */
#define STATE_BUSY_TIMEOUT_MS 5000

/* ---- schema ---------------------------------------------------------------------------------- */

/* Version 1. Times are integer seconds since the epoch (0 = none, as in struct cert_record).
 * History rows reference their certificate; state_renewal_add and state_task_run_add create a
 * default certificate row when there is none, so history never dangles. `id` breaks ties between
 * rows of the same second: newest first is (time DESC, id DESC), and the indexes, scanned
 * backwards, give exactly that order without a sort. */
static const char SCHEMA_V1[] =
    "CREATE TABLE certificates ("
    "  name TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),"
    "  serial TEXT NOT NULL DEFAULT '',"
    "  thumbprint TEXT NOT NULL DEFAULT '',"
    "  not_before INTEGER NOT NULL DEFAULT 0,"
    "  not_after INTEGER NOT NULL DEFAULT 0,"
    "  last_renewal INTEGER NOT NULL DEFAULT 0,"
    "  ari_start INTEGER NOT NULL DEFAULT 0,"
    "  ari_end INTEGER NOT NULL DEFAULT 0,"
    "  ari_next_check INTEGER NOT NULL DEFAULT 0,"
    "  renew_at INTEGER NOT NULL DEFAULT 0,"
    "  last_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_ok INTEGER NOT NULL DEFAULT -1 CHECK (last_ok IN (-1, 0, 1)),"
    "  last_message TEXT NOT NULL DEFAULT '',"
    "  failure_count INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,"
    "  pending_order TEXT NOT NULL DEFAULT '',"
    "  pending_key TEXT NOT NULL DEFAULT '',"
    "  pending_since INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE renewals ("
    "  id INTEGER PRIMARY KEY,"
    "  cert TEXT NOT NULL REFERENCES certificates (name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  time INTEGER NOT NULL,"
    "  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
    "  serial TEXT NOT NULL DEFAULT '',"
    "  message TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX renewals_by_cert_time ON renewals (cert, time);"
    "CREATE INDEX renewals_by_time ON renewals (time);"
    "CREATE TABLE task_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  cert TEXT NOT NULL REFERENCES certificates (name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  task TEXT NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),"
    "  message TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX task_runs_by_cert_time ON task_runs (cert, time);"
    /* state_failing_tasks: the newest run of each task of a certificate. */
    "CREATE INDEX task_runs_by_cert_task_time ON task_runs (cert, task, time DESC, id DESC);"
    "CREATE INDEX task_runs_by_time ON task_runs (time);"
    /* PRAGMA takes no bound parameters: each migration sets its own constant version. */
    "PRAGMA user_version = 1;";

static int migrate_to_1(sqlite3 *conn)
{
    return sqlite3_exec(conn, SCHEMA_V1, NULL, NULL, NULL);
}

/* Version 2: the state of each task, for owed tasks (manage/owed.h). `delivered` is the
 * thumbprint of the certificate the task's last successful run delivered; a task that fires on
 * success is owed the live certificate while that differs from the live thumbprint.
 *
 * Seeded from version 1's history, so an upgrade neither forgets a failing task nor re-runs every
 * task at once: a task whose newest run succeeded at or after the certificate's last renewal (the
 * renewer runs post tasks after recording the renewal) delivered the certificate of that
 * renewal, the one the database names; a newest run that failed counts as one failure. */
static const char SCHEMA_V2[] =
    "CREATE TABLE task_state ("
    "  cert TEXT NOT NULL REFERENCES certificates (name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  task TEXT NOT NULL CHECK (task <> ''),"
    "  delivered TEXT NOT NULL DEFAULT '',"
    "  delivered_at INTEGER NOT NULL DEFAULT 0,"
    "  failure_count INTEGER NOT NULL DEFAULT 0,"
    "  last_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_ok INTEGER NOT NULL DEFAULT -1 CHECK (last_ok IN (-1, 0, 1)),"
    "  last_message TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (cert, task)"
    ") WITHOUT ROWID;"
    "INSERT INTO task_state (cert, task, delivered, delivered_at, failure_count, last_attempt,"
    "                        last_ok, last_message)"
    "  SELECT n.cert, n.task,"
    "    CASE WHEN n.ok = 1 AND n.time >= c.last_renewal THEN c.thumbprint ELSE '' END,"
    "    CASE WHEN n.ok = 1 AND n.time >= c.last_renewal AND c.thumbprint <> '' THEN n.time"
    "         ELSE 0 END,"
    "    1 - n.ok, n.time, n.ok, n.message"
    "  FROM (SELECT cert, task, time, ok, message, row_number() OVER (PARTITION BY cert, task"
    "        ORDER BY time DESC, id DESC) AS age FROM task_runs) AS n"
    "  JOIN certificates AS c ON c.name = n.cert"
    "  WHERE n.age = 1;"
    "PRAGMA user_version = 2;";

static int migrate_to_2(sqlite3 *conn)
{
    return sqlite3_exec(conn, SCHEMA_V2, NULL, NULL, NULL);
}

/* Version 3: a certificate's task runs newest first straight from an index. `ccs status` shows
 * each certificate's ten newest runs, and over 100,000 certificates it asks for them per
 * certificate (ST_RECENT_RUNS_SCAN): with (cert, time DESC, id DESC) each is one index seek and
 * ten rows, however long the history; (cert, time) left the tie on id to a sort of all of a
 * certificate's runs. It replaces that index (the cascade from certificates uses its prefix). */
static const char SCHEMA_V3[] =
    "CREATE INDEX task_runs_by_cert_newest ON task_runs (cert, time DESC, id DESC);"
    "DROP INDEX task_runs_by_cert_time;"
    "PRAGMA user_version = 3;";

static int migrate_to_3(sqlite3 *conn)
{
    return sqlite3_exec(conn, SCHEMA_V3, NULL, NULL, NULL);
}

/* Migration I takes the database from version I to I + 1 and sets user_version to I + 1; all run
 * in one transaction. A new version is one more function here and STATE_SCHEMA_VERSION + 1. */
static int (*const migrations[])(sqlite3 *conn) = {
    migrate_to_1,
    migrate_to_2,
    migrate_to_3,
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STATE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- statements ------------------------------------------------------------------------------ */

/* The certificates columns in struct cert_record's terms. The SELECT returns them in this order
 * and the upsert binds them as ?1.. in this order; state_open checks the column names against
 * the table, so the SQL and the table cannot drift apart silently. */
enum field_kind { FIELD_TEXT, FIELD_TIME, FIELD_INT };

static const struct cert_field {
    const char *column;
    enum field_kind kind;
    size_t offset, size;
} cert_fields[] = {
/* clang-format off */
#define FIELD(kind, member) \
    {#member, kind, offsetof(struct cert_record, member), sizeof(((struct cert_record *)0)->member)}
    FIELD(FIELD_TEXT, name),
    FIELD(FIELD_TEXT, serial),
    FIELD(FIELD_TEXT, thumbprint),
    FIELD(FIELD_TIME, not_before),
    FIELD(FIELD_TIME, not_after),
    FIELD(FIELD_TIME, last_renewal),
    FIELD(FIELD_TIME, ari_start),
    FIELD(FIELD_TIME, ari_end),
    FIELD(FIELD_TIME, ari_next_check),
    FIELD(FIELD_TIME, renew_at),
    FIELD(FIELD_TIME, last_attempt),
    FIELD(FIELD_INT, last_ok),
    FIELD(FIELD_TEXT, last_message),
    FIELD(FIELD_INT, failure_count),
    FIELD(FIELD_TIME, next_attempt),
    FIELD(FIELD_TEXT, pending_order),
    FIELD(FIELD_TEXT, pending_key),
    FIELD(FIELD_TIME, pending_since),
#undef FIELD
    /* clang-format on */
};
#define CERT_FIELD_COUNT (sizeof(cert_fields) / sizeof(cert_fields[0]))

#define CERT_COLUMNS                                                                               \
    "name, serial, thumbprint, not_before, not_after, last_renewal, ari_start, ari_end, "          \
    "ari_next_check, renew_at, last_attempt, last_ok, last_message, failure_count, "               \
    "next_attempt, pending_order, pending_key, pending_since"

/* History queries return the columns of struct history_row in this order. */
enum history_col { HIST_CERT, HIST_TASK, HIST_TIME, HIST_OK, HIST_SERIAL, HIST_MESSAGE };
#define NEWEST_FIRST " ORDER BY time DESC, id DESC LIMIT ?1"
#define RENEWAL_COLUMNS "SELECT cert, '' AS task, time, ok, serial, message FROM renewals"
#define TASK_RUN_COLUMNS "SELECT cert, task, time, ok, '' AS serial, message FROM task_runs"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_CERT_GET,
    ST_CERT_PUT,
    ST_CERT_ENSURE,
    ST_RENEWAL_ADD,
    ST_TASK_RUN_ADD,
    ST_RENEWALS_ALL,
    ST_RENEWALS_CERT,
    ST_TASK_RUNS_ALL,
    ST_TASK_RUNS_CERT,
    ST_FAILING_TASKS,
    ST_TASK_STATE_PUT,
    ST_TASK_STATES,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_CERT_SCAN,
    ST_TASK_SCAN,
    ST_RECENT_RUNS_SCAN,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_CERT_GET] = "SELECT " CERT_COLUMNS " FROM certificates WHERE name = ?1",
    /* An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and the delete would
     * cascade to the certificate's history. */
    [ST_CERT_PUT] = "INSERT INTO certificates (" CERT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                    "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) "
                    "ON CONFLICT (name) DO UPDATE SET serial = excluded.serial, "
                    "thumbprint = excluded.thumbprint, not_before = excluded.not_before, "
                    "not_after = excluded.not_after, last_renewal = excluded.last_renewal, "
                    "ari_start = excluded.ari_start, ari_end = excluded.ari_end, "
                    "ari_next_check = excluded.ari_next_check, renew_at = excluded.renew_at, "
                    "last_attempt = excluded.last_attempt, last_ok = excluded.last_ok, "
                    "last_message = excluded.last_message, "
                    "failure_count = excluded.failure_count, "
                    "next_attempt = excluded.next_attempt, "
                    "pending_order = excluded.pending_order, "
                    "pending_key = excluded.pending_key, pending_since = excluded.pending_since",
    [ST_CERT_ENSURE] = "INSERT INTO certificates (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
    [ST_RENEWAL_ADD] = "INSERT INTO renewals (cert, time, ok, serial, message) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TASK_RUN_ADD] = "INSERT INTO task_runs (cert, task, time, ok, message) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_RENEWALS_ALL] = RENEWAL_COLUMNS NEWEST_FIRST,
    [ST_RENEWALS_CERT] = RENEWAL_COLUMNS " WHERE cert = ?2" NEWEST_FIRST,
    [ST_TASK_RUNS_ALL] = TASK_RUN_COLUMNS NEWEST_FIRST,
    [ST_TASK_RUNS_CERT] = TASK_RUN_COLUMNS " WHERE cert = ?2" NEWEST_FIRST,
    /* A task fails when its newest run (same order as the history) failed. */
    [ST_FAILING_TASKS] = "SELECT task FROM (SELECT task, ok, row_number() OVER (PARTITION BY task "
                         "ORDER BY time DESC, id DESC) AS age FROM task_runs WHERE cert = ?1) "
                         "WHERE age = 1 AND ok = 0 ORDER BY task",
    /* ?1 cert, ?2 task, ?3 ok, ?4 the thumbprint delivered ('' none), ?5 1 when the run counts
     * as a failure, ?6 time, ?7 message. A success resets the failures, a delivery replaces the
     * one recorded; a run that neither delivered nor failed (stopped) leaves both. */
    [ST_TASK_STATE_PUT] =
        "INSERT INTO task_state (cert, task, delivered, delivered_at, failure_count, last_attempt, "
        "last_ok, last_message) VALUES (?1, ?2, ?4, CASE WHEN ?4 <> '' THEN ?6 ELSE 0 END, ?5, ?6, "
        "?3, ?7) ON CONFLICT (cert, task) DO UPDATE SET "
        "delivered = CASE WHEN excluded.delivered <> '' THEN excluded.delivered ELSE delivered END, "
        "delivered_at = CASE WHEN excluded.delivered <> '' THEN excluded.delivered_at "
        "ELSE delivered_at END, "
        "failure_count = CASE WHEN excluded.last_ok = 1 THEN 0 "
        "ELSE failure_count + excluded.failure_count END, "
        "last_attempt = excluded.last_attempt, last_ok = excluded.last_ok, "
        "last_message = excluded.last_message",
    [ST_TASK_STATES] = "SELECT task, delivered, delivered_at, failure_count, last_attempt, last_ok, "
                       "last_message FROM task_state WHERE cert = ?1 ORDER BY task",
    /* Inside a batch (state_batch_begin), each write is a savepoint of the batch's transaction. */
    [ST_SAVEPOINT] = "SAVEPOINT row",
    [ST_RELEASE] = "RELEASE row",
    [ST_ROLLBACK_TO] = "ROLLBACK TO row",
    /* The scans read every row once, in primary-key order (no sort): the plan of `ccs renew` and
     * `ccs status` over every certificate look rows up by name in memory, never one query per
     * certificate. The columns are the ones struct cert_brief has (no pending paths). */
    [ST_CERT_SCAN] = "SELECT name, serial, thumbprint, not_before, not_after, last_renewal, "
                     "ari_start, ari_end, ari_next_check, last_attempt, last_ok, last_message, "
                     "failure_count, next_attempt, pending_order <> '' OR pending_key <> '', "
                     "pending_since FROM certificates ORDER BY name",
    [ST_TASK_SCAN] = "SELECT cert, task, delivered, failure_count, last_attempt, last_ok, "
                     "last_message FROM task_state ORDER BY cert, task",
    /* The newest ?1 runs of every certificate, newest first within each: per certificate (in
     * name order) one seek into task_runs_by_cert_newest and at most ?1 rows — linear in the
     * certificates, not in the history. */
    [ST_RECENT_RUNS_SCAN] = "SELECT r.cert, r.task, r.time, r.ok, r.message FROM certificates AS c "
                            "JOIN task_runs AS r ON r.id IN (SELECT id FROM task_runs WHERE "
                            "cert = c.name ORDER BY time DESC, id DESC LIMIT ?1) "
                            "ORDER BY c.name, r.time DESC, r.id DESC",
};

struct state_db {
    pthread_mutex_t lock; /* held for every use of conn and stmt */
    sqlite3 *conn;
    sqlite3_stmt *stmt[ST_COUNT];
    int batch; /* a batch's transaction is open (state_batch_begin): writes are savepoints */
    char path[PATH_MAX];
};

/* ---- helpers --------------------------------------------------------------------------------- */

/* "state PATH: OPERATION: sqlite's reason". Call before anything else touches the connection
 * (a ROLLBACK would replace the reason). Returns -1. */
static int fail(struct state_db *db, struct errbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct state_db *db, struct errbuf *err, const char *fmt, ...)
{
    char op[ERRBUF_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(op, sizeof(op), fmt, ap);
    va_end(ap);
    return errbuf_set(err, "state %s: %s: %s", db->path, op, sqlite3_errmsg(db->conn));
}

/* Copy SRC (LEN bytes) into DST of SIZE bytes, NUL-terminated; when it does not fit, cut before
 * the UTF-8 sequence that would straddle the end rather than leave half a character. */
static void copy_text(char *dst, size_t size, const unsigned char *src, int len)
{
    size_t n = src && len > 0 ? (size_t)len : 0;

    if (n >= size) {
        n = size - 1;
        while (n > 0 && (src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void column_text(sqlite3_stmt *stmt, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    copy_text(dst, size, text, sqlite3_column_bytes(stmt, col));
}

/* Text from a fixed buffer: never read past it, even if the caller left it unterminated. */
static int bind_buffer(sqlite3_stmt *stmt, int param, const char *buf, size_t size)
{
    return sqlite3_bind_text(stmt, param, buf, (int)strnlen(buf, size), SQLITE_STATIC);
}

static int bind_string(sqlite3_stmt *stmt, int param, const char *s)
{
    return sqlite3_bind_text(stmt, param, s ? s : "", -1, SQLITE_STATIC);
}

/* Done with a statement: end its read (an unreset SELECT keeps a snapshot open and holds back
 * checkpoints) and drop references to the caller's strings. */
static void stmt_done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Step a statement that returns no rows; SQLite's result code. */
static int stmt_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    stmt_done(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A certificate name must fit struct cert_record.name: it is the key, so it is never truncated. */
static int check_cert_name(struct state_db *db, const char *name, const char *op,
                           struct errbuf *err)
{
    if (!name || !name[0])
        return errbuf_set(err, "state %s: %s: no certificate name", db->path, op);
    if (strlen(name) >= sizeof(((struct cert_record *)0)->name))
        return errbuf_set(err, "state %s: %s: certificate name longer than %zu bytes", db->path, op,
                          sizeof(((struct cert_record *)0)->name) - 1);
    return 0;
}

static int64_t limit_param(size_t limit)
{
    return limit > (size_t)INT64_MAX ? -1 : (int64_t)limit; /* SQLite: negative = no limit */
}

/* ---- open, migrate, close -------------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Create the database file 0600 ourselves: SQLite would create it 0644 & ~umask, and its -wal
 * and -shm files copy the database's mode. fchmod because the umask could have taken bits off.
 * *CREATED is 0 when another process created it first. */
static int create_db_file(struct state_db *db, const char *dir, int *created, struct errbuf *err)
{
    int fd = open(db->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, STATE_FILE_MODE);

    *created = 0;
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        return errbuf_set_errno(err, "state %s: cannot create", db->path);
    }
    *created = 1;
    if (fchmod(fd, STATE_FILE_MODE) < 0) {
        errbuf_set_errno(err, "state %s: cannot set mode %o", db->path, STATE_FILE_MODE);
        close(fd);
        unlink(db->path);
        return -1;
    }
    close(fd);
    /* The new name must survive a crash like the data SQLite will fsync into it. */
    if (fsync_dir(dir) < 0)
        return errbuf_set_errno(err, "state %s: cannot sync directory %s", db->path, dir);
    return 0;
}

/* The database file as MODE wants it: there and not empty (STATE_OPEN_EXISTING), or made when
 * missing (STATE_OPEN_CREATE). SQLite would take a missing file, or one of 0 bytes, for a new
 * database without a word, and a 0-byte file is a database that lost its history (a truncation, a
 * full disk): only a run that says so starts over, and *ORIGIN tells the caller to say it. */
static int check_db_file(struct state_db *db, const char *dir, enum state_open_mode mode,
                         enum state_origin *origin, struct errbuf *err)
{
    struct stat st;
    int created;

    *origin = STATE_EXISTED;
    if (stat(db->path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return errbuf_set(err, "state %s: not a regular file", db->path);
        if (st.st_size > 0)
            return 0;
        if (mode == STATE_OPEN_EXISTING)
            return errbuf_set(err, "state %s: the database is empty (0 bytes): its history is "
                                   "gone", db->path);
        *origin = STATE_CREATED_OVER_EMPTY;
        return 0;
    }
    if (errno != ENOENT)
        return errbuf_set_errno(err, "state %s", db->path);
    if (mode == STATE_OPEN_EXISTING)
        return errbuf_set(err, "state %s: no database", db->path);
    if (dir_create(dir, STATE_DIR_MODE, err) < 0)
        return errbuf_prefix(err, "state %s", db->path);
    if (create_db_file(db, dir, &created, err) < 0)
        return -1;
    *origin = created ? STATE_CREATED : STATE_EXISTED;
    return 0;
}

static int read_user_version(struct state_db *db, int *version)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &stmt, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int refuse_version(struct state_db *db, int version, struct errbuf *err)
{
    if (version > STATE_SCHEMA_VERSION)
        return errbuf_set(err,
                          "state %s: database schema version %d is newer than this ccs knows "
                          "(version %d); use a ccs at least as new as the one that wrote it",
                          db->path, version, STATE_SCHEMA_VERSION);
    if (version < 0)
        return errbuf_set(err, "state %s: database schema version %d is not one ccs writes",
                          db->path, version);
    return 0;
}

/* Run a one-row PRAGMA and compare its value with EXPECT (case-insensitive). Returns SQLite's
 * result code, or SQLITE_MISMATCH (with ERR filled) when the value differs. */
static int pragma_check(struct state_db *db, const char *sql, const char *expect,
                        struct errbuf *err)
{
    sqlite3_stmt *stmt;
    const char *got;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        fail(db, err, "cannot run %s", sql);
        sqlite3_finalize(stmt);
        return rc;
    }
    got = (const char *)sqlite3_column_text(stmt, 0);
    rc = got && strcasecmp(got, expect) == 0 ? SQLITE_OK : SQLITE_MISMATCH;
    if (rc != SQLITE_OK)
        errbuf_set(err, "state %s: %s gave \"%s\", need \"%s\"", db->path, sql, got ? got : "",
                   expect);
    sqlite3_finalize(stmt);
    return rc;
}

/* Turning a database into WAL upgrades a read lock to an exclusive one, and SQLite does not call
 * the busy handler for an upgrade (it could deadlock): when two ccs create the database at the
 * same moment, one gets "database is locked" at once. So retry here, as long as the busy timeout.
 * Once the file is WAL (every open after the first) the switch is a no-op. */
#define WAL_RETRY_STEP_MS 10

static int switch_to_wal(struct state_db *db, struct errbuf *err)
{
    int rc;

    for (int waited = 0;; waited += WAL_RETRY_STEP_MS) {
        rc = pragma_check(db, "PRAGMA journal_mode = WAL", "wal", err);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= STATE_BUSY_TIMEOUT_MS)
            break;
        usleep(WAL_RETRY_STEP_MS * 1000);
    }
    return rc == SQLITE_OK ? 0 : -1;
}

static int configure(struct state_db *db, struct errbuf *err)
{
    if (switch_to_wal(db, err) < 0)
        return -1;
    if (sqlite3_exec(db->conn, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
                     NULL) != SQLITE_OK)
        return fail(db, err, "cannot set synchronous and foreign_keys");
    /* Both are silently ignored by a SQLite built without them: check they took. */
    if (pragma_check(db, "PRAGMA synchronous", "2", err) != SQLITE_OK ||
        pragma_check(db, "PRAGMA foreign_keys", "1", err) != SQLITE_OK)
        return -1;
    return 0;
}

static int migrate(struct state_db *db, struct errbuf *err)
{
    int version = 0;

    if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(db, err, "cannot begin schema check");
    /* Read again under the write lock: another ccs may have migrated since we looked. */
    if (read_user_version(db, &version) != SQLITE_OK) {
        fail(db, err, "cannot read schema version");
        goto rollback;
    }
    if (refuse_version(db, version, err) < 0)
        goto rollback;
    for (int from = version; from >= 0 && from < STATE_SCHEMA_VERSION; from++) {
        int now = -1;
        if (migrations[from](db->conn) != SQLITE_OK) {
            fail(db, err, "cannot migrate schema from version %d to %d", from, from + 1);
            goto rollback;
        }
        if (read_user_version(db, &now) != SQLITE_OK || now != from + 1) {
            errbuf_set(err, "state %s: migration to schema version %d left version %d", db->path,
                       from + 1, now);
            goto rollback;
        }
    }
    if (sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(db, err, "cannot commit schema version %d", STATE_SCHEMA_VERSION);
        goto rollback;
    }
    return 0;
rollback:
    /* The first failure is the one to report; ROLLBACK's own result adds nothing. */
    sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int prepare_all(struct state_db *db, struct errbuf *err)
{
    sqlite3_stmt *get, *put;

    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[i],
                               NULL) != SQLITE_OK)
            return fail(db, err, "cannot prepare \"%s\"", stmt_sql[i]);
    /* cert_fields, CERT_COLUMNS and the upsert's parameters must agree. */
    get = db->stmt[ST_CERT_GET];
    put = db->stmt[ST_CERT_PUT];
    if ((size_t)sqlite3_column_count(get) != CERT_FIELD_COUNT ||
        (size_t)sqlite3_bind_parameter_count(put) != CERT_FIELD_COUNT)
        return errbuf_set(err, "state %s: internal error: certificate columns do not match",
                          db->path);
    for (size_t i = 0; i < CERT_FIELD_COUNT; i++)
        if (strcmp(sqlite3_column_name(get, (int)i), cert_fields[i].column) != 0)
            return errbuf_set(err, "state %s: internal error: column %zu is %s, expected %s",
                              db->path, i, sqlite3_column_name(get, (int)i), cert_fields[i].column);
    return 0;
}

static void db_free(struct state_db *db)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->stmt[i]);
    /* With every statement finalized, close cannot fail for "busy"; it checkpoints the WAL. */
    sqlite3_close(db->conn);
    free(db);
}

int state_open(const char *state_dir, enum state_open_mode mode, enum state_origin *origin,
               struct state_db **out, struct errbuf *err)
{
    enum state_origin found = STATE_EXISTED;
    struct state_db *db;
    int version = 0;

    *out = NULL;
    if (origin)
        *origin = STATE_EXISTED;
    if (!state_dir || !state_dir[0])
        return errbuf_set(err, "state: no state directory");
    db = calloc(1, sizeof(*db));
    if (!db)
        return errbuf_set(err, "state %s: out of memory", state_dir);
    if ((size_t)snprintf(db->path, sizeof(db->path), "%s/%s", state_dir, STATE_DB_FILE) >=
        sizeof(db->path)) {
        free(db);
        return errbuf_set(err, "state %s: path too long", state_dir);
    }
    if (check_db_file(db, state_dir, mode, &found, err) < 0) {
        free(db);
        return -1;
    }
    /* NOMUTEX: db->lock already serialises every use of the connection. */
    if (sqlite3_open_v2(db->path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        if (!db->conn) {
            errbuf_set(err, "state %s: cannot open: out of memory", db->path);
            free(db);
            return -1;
        }
        fail(db, err, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, STATE_BUSY_TIMEOUT_MS);
    /* Look at the version before changing anything (even the journal mode) in a newer database. */
    if (read_user_version(db, &version) != SQLITE_OK) {
        fail(db, err, "cannot read schema version");
        goto fail;
    }
    if (refuse_version(db, version, err) < 0)
        goto fail;
    if (configure(db, err) < 0)
        goto fail;
    /* Up to date (every open but the first): no write lock, so `ccs status` never waits for one. */
    if (version < STATE_SCHEMA_VERSION && migrate(db, err) < 0)
        goto fail;
    if (prepare_all(db, err) < 0)
        goto fail;
    if (pthread_mutex_init(&db->lock, NULL) != 0) {
        errbuf_set(err, "state %s: cannot create mutex", db->path);
        goto fail;
    }
    if (origin)
        *origin = found;
    *out = db;
    return 0;
fail:
    db_free(db);
    return -1;
}

void state_close(struct state_db *db)
{
    if (!db)
        return;
    pthread_mutex_destroy(&db->lock);
    db_free(db);
}

/* ---- certificates ---------------------------------------------------------------------------- */

static void *field_at(void *rec, const struct cert_field *f)
{
    return (char *)rec + f->offset;
}

static void read_cert_row(sqlite3_stmt *stmt, struct cert_record *out)
{
    for (size_t i = 0; i < CERT_FIELD_COUNT; i++) {
        const struct cert_field *f = &cert_fields[i];
        void *p = field_at(out, f);
        switch (f->kind) {
        case FIELD_TEXT:
            column_text(stmt, (int)i, p, f->size);
            break;
        case FIELD_TIME:
            *(time_t *)p = (time_t)sqlite3_column_int64(stmt, (int)i);
            break;
        case FIELD_INT:
            *(int *)p = sqlite3_column_int(stmt, (int)i);
            break;
        }
    }
}

static int bind_cert(sqlite3_stmt *stmt, const struct cert_record *rec)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < CERT_FIELD_COUNT && rc == SQLITE_OK; i++) {
        const struct cert_field *f = &cert_fields[i];
        const void *p = (const char *)rec + f->offset;
        int param = (int)i + 1;
        switch (f->kind) {
        case FIELD_TEXT:
            rc = bind_buffer(stmt, param, p, f->size);
            break;
        case FIELD_TIME: {
            time_t t = *(const time_t *)p;
            rc = sqlite3_bind_int64(stmt, param, (sqlite3_int64)t);
            break;
        }
        case FIELD_INT:
            rc = sqlite3_bind_int(stmt, param, *(const int *)p);
            break;
        }
    }
    return rc;
}

int state_cert_get(struct state_db *db, const char *name, struct cert_record *out, int *found,
                   struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[ST_CERT_GET];
    int rc, ret = 0;

    *found = 0;
    if (check_cert_name(db, name, "cannot read certificate", err) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&db->lock);
    rc = bind_string(stmt, 1, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        read_cert_row(stmt, out);
        *found = 1;
    } else if (rc == SQLITE_DONE) {
        snprintf(out->name, sizeof(out->name), "%s", name);
        out->last_ok = -1;
    } else {
        ret = fail(db, err, "cannot read certificate '%s'", name);
    }
    stmt_done(stmt);
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_cert_put(struct state_db *db, const struct cert_record *rec, struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[ST_CERT_PUT];
    size_t name_len = strnlen(rec->name, sizeof(rec->name));
    int rc, ret = 0;

    if (name_len == 0)
        return errbuf_set(err, "state %s: cannot store certificate: no certificate name", db->path);
    if (name_len == sizeof(rec->name))
        return errbuf_set(err, "state %s: cannot store certificate: name not terminated", db->path);
    pthread_mutex_lock(&db->lock);
    rc = bind_cert(stmt, rec);
    if (rc == SQLITE_OK)
        rc = stmt_run(stmt);
    else
        stmt_done(stmt);
    if (rc != SQLITE_OK)
        ret = fail(db, err, "cannot store certificate '%s'", rec->name);
    pthread_mutex_unlock(&db->lock);
    return ret;
}

/* ---- history --------------------------------------------------------------------------------- */

/* Run ADD, then ALSO when not NULL (both bound by the caller), in a transaction that first makes
 * sure CERT has a row. Called with db->lock held; on failure the message is "state PATH: WHAT:
 * reason". */
static int history_insert(struct state_db *db, const char *cert, sqlite3_stmt *add,
                          sqlite3_stmt *also, const char *what, struct errbuf *err)
{
    sqlite3_stmt *ensure = db->stmt[ST_CERT_ENSURE];
    int rc = stmt_run(db->stmt[db->batch ? ST_SAVEPOINT : ST_BEGIN]);

    if (rc == SQLITE_OK && (rc = bind_string(ensure, 1, cert)) == SQLITE_OK)
        rc = stmt_run(ensure);
    if (rc == SQLITE_OK)
        rc = stmt_run(add);
    if (rc == SQLITE_OK && also)
        rc = stmt_run(also);
    if (rc == SQLITE_OK)
        rc = stmt_run(db->stmt[db->batch ? ST_RELEASE : ST_COMMIT]);
    if (rc == SQLITE_OK)
        return 0;
    fail(db, err, "%s", what);
    stmt_done(ensure);
    stmt_done(add);
    if (also)
        stmt_done(also);
    if (db->batch) {
        /* Undo this row alone; the batch's transaction goes on. */
        stmt_run(db->stmt[ST_ROLLBACK_TO]);
        stmt_run(db->stmt[ST_RELEASE]);
        return -1;
    }
    /* After a failed statement the transaction is open; after a failed COMMIT it may be. */
    if (!sqlite3_get_autocommit(db->conn))
        stmt_run(db->stmt[ST_ROLLBACK]);
    return -1;
}

/* The task state upsert for RUN, bound. Lock held. */
static int bind_task_state(struct state_db *db, const struct state_task_run *run)
{
    sqlite3_stmt *put = db->stmt[ST_TASK_STATE_PUT];
    const char *delivered = run->ok && run->delivered ? run->delivered : "";
    int rc = bind_string(put, 1, run->cert);

    if (rc == SQLITE_OK)
        rc = bind_string(put, 2, run->task);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(put, 3, run->ok ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = bind_string(put, 4, delivered);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(put, 5, !run->ok && !run->stopped);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(put, 6, (sqlite3_int64)run->when);
    if (rc == SQLITE_OK)
        rc = bind_string(put, 7, run->message);
    return rc;
}

/* Bind the history row's values in the statement's column order (TASK and SERIAL only where the
 * table has them: NULL skips) and insert it; with TASK_STATE, update the task's state in the same
 * transaction. The one path both history tables are written by. */
static int history_add(struct state_db *db, sqlite3_stmt *add, const char *what, const char *cert,
                       const char *task, time_t when, int ok, const char *serial,
                       const char *message, const struct state_task_run *task_state,
                       struct errbuf *err)
{
    sqlite3_stmt *also = task_state ? db->stmt[ST_TASK_STATE_PUT] : NULL;
    int col = 1, rc, ret;

    pthread_mutex_lock(&db->lock);
    rc = bind_string(add, col++, cert);
    if (rc == SQLITE_OK && task)
        rc = bind_string(add, col++, task);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(add, col++, (sqlite3_int64)when);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(add, col++, ok ? 1 : 0);
    if (rc == SQLITE_OK && serial)
        rc = bind_string(add, col++, serial);
    if (rc == SQLITE_OK)
        rc = bind_string(add, col, message);
    if (rc == SQLITE_OK && task_state)
        rc = bind_task_state(db, task_state);
    if (rc == SQLITE_OK) {
        ret = history_insert(db, cert, add, also, what, err);
    } else {
        ret = fail(db, err, "%s", what);
        stmt_done(add);
        if (also)
            stmt_done(also);
    }
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_renewal_add(struct state_db *db, const char *cert, time_t when, int ok,
                      const char *serial, const char *message, struct errbuf *err)
{
    char what[512];

    if (check_cert_name(db, cert, "cannot record renewal", err) < 0)
        return -1;
    snprintf(what, sizeof(what), "cannot record renewal of '%s'", cert);
    return history_add(db, db->stmt[ST_RENEWAL_ADD], what, cert, NULL, when, ok,
                       serial ? serial : "", message, NULL, err);
}

int state_task_run_record(struct state_db *db, const struct state_task_run *run,
                          struct errbuf *err)
{
    char what[512];

    if (check_cert_name(db, run->cert, "cannot record task run", err) < 0)
        return -1;
    if (!run->task || !run->task[0])
        return errbuf_set(err, "state %s: cannot record task run of '%s': no task name", db->path,
                          run->cert);
    snprintf(what, sizeof(what), "cannot record task run '%s' of '%s'", run->task, run->cert);
    return history_add(db, db->stmt[ST_TASK_RUN_ADD], what, run->cert, run->task, run->when,
                       run->ok, NULL, run->message, run, err);
}

int state_task_run_add(struct state_db *db, const char *cert, const char *task, time_t when, int ok,
                       const char *message, struct errbuf *err)
{
    struct state_task_run run = {
        .cert = cert, .task = task, .when = when, .ok = ok, .message = message};

    return state_task_run_record(db, &run, err);
}

int state_task_records(struct state_db *db, const char *cert, struct task_record **out,
                       size_t *count, struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[ST_TASK_STATES];
    struct task_record *list = NULL, *grown;
    size_t n = 0, cap = 0;
    int rc, ret = -1;

    *out = NULL;
    *count = 0;
    if (check_cert_name(db, cert, "cannot read task states", err) < 0)
        return -1;
    pthread_mutex_lock(&db->lock);
    rc = bind_string(stmt, 1, cert);
    while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct task_record *t;
        rc = SQLITE_OK;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            grown = cap <= SIZE_MAX / sizeof(*list) ? realloc(list, cap * sizeof(*list)) : NULL;
            if (!grown) {
                errbuf_set(err, "state %s: cannot read task states of '%s': out of memory",
                           db->path, cert);
                goto out;
            }
            list = grown;
        }
        t = &list[n++];
        memset(t, 0, sizeof(*t));
        column_text(stmt, 0, t->task, sizeof(t->task));
        column_text(stmt, 1, t->delivered, sizeof(t->delivered));
        t->delivered_at = (time_t)sqlite3_column_int64(stmt, 2);
        t->failure_count = sqlite3_column_int(stmt, 3);
        t->last_attempt = (time_t)sqlite3_column_int64(stmt, 4);
        t->last_ok = sqlite3_column_int(stmt, 5);
        column_text(stmt, 6, t->last_message, sizeof(t->last_message));
    }
    if (rc != SQLITE_DONE) {
        fail(db, err, "cannot read task states of '%s'", cert);
        goto out;
    }
    *out = list;
    *count = n;
    list = NULL;
    ret = 0;
out:
    stmt_done(stmt);
    pthread_mutex_unlock(&db->lock);
    free(list);
    return ret;
}

/* Collect the rows of STMT (bound, not yet stepped) into a malloc'd array. Lock held. */
static int history_collect(struct state_db *db, sqlite3_stmt *stmt, const char *what,
                           struct history_row **rows, size_t *count, struct errbuf *err)
{
    struct history_row *list = NULL, *grown;
    size_t n = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct history_row *r;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = cap <= SIZE_MAX / sizeof(*list) ? realloc(list, cap * sizeof(*list)) : NULL;
            if (!grown) {
                errbuf_set(err, "state %s: %s: out of memory", db->path, what);
                goto fail;
            }
            list = grown;
        }
        r = &list[n++];
        memset(r, 0, sizeof(*r));
        column_text(stmt, HIST_CERT, r->cert, sizeof(r->cert));
        column_text(stmt, HIST_TASK, r->task, sizeof(r->task));
        r->when = (time_t)sqlite3_column_int64(stmt, HIST_TIME);
        r->ok = sqlite3_column_int(stmt, HIST_OK);
        column_text(stmt, HIST_SERIAL, r->serial, sizeof(r->serial));
        column_text(stmt, HIST_MESSAGE, r->message, sizeof(r->message));
    }
    if (rc != SQLITE_DONE) {
        fail(db, err, "%s", what);
        goto fail;
    }
    stmt_done(stmt);
    *rows = list;
    *count = n;
    return 0;
fail:
    stmt_done(stmt);
    free(list);
    return -1;
}

static int history_list(struct state_db *db, enum stmt_id all, enum stmt_id one, const char *kind,
                        const char *cert, size_t limit, struct history_row **rows, size_t *count,
                        struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[cert ? one : all];
    char what[512];
    int rc, ret;

    *rows = NULL;
    *count = 0;
    if (cert)
        snprintf(what, sizeof(what), "cannot list %s of '%s'", kind, cert);
    else
        snprintf(what, sizeof(what), "cannot list %s", kind);
    pthread_mutex_lock(&db->lock);
    rc = sqlite3_bind_int64(stmt, 1, limit_param(limit));
    if (rc == SQLITE_OK && cert)
        rc = bind_string(stmt, 2, cert);
    if (rc == SQLITE_OK) {
        ret = history_collect(db, stmt, what, rows, count, err);
    } else {
        ret = fail(db, err, "%s", what);
        stmt_done(stmt);
    }
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_renewals(struct state_db *db, const char *cert, size_t limit, struct history_row **rows,
                   size_t *count, struct errbuf *err)
{
    return history_list(db, ST_RENEWALS_ALL, ST_RENEWALS_CERT, "renewals", cert, limit, rows, count,
                        err);
}

int state_task_runs(struct state_db *db, const char *cert, size_t limit, struct history_row **rows,
                    size_t *count, struct errbuf *err)
{
    return history_list(db, ST_TASK_RUNS_ALL, ST_TASK_RUNS_CERT, "task runs", cert, limit, rows,
                        count, err);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int state_failing_tasks(struct state_db *db, const char *cert, char ***tasks, size_t *count,
                        struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[ST_FAILING_TASKS];
    char **list = NULL, **grown;
    size_t n = 0, cap = 0;
    int rc, ret = -1;

    *tasks = NULL;
    *count = 0;
    if (check_cert_name(db, cert, "cannot list failing tasks", err) < 0)
        return -1;
    pthread_mutex_lock(&db->lock);
    rc = bind_string(stmt, 1, cert);
    while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *task;
        rc = SQLITE_OK;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            grown = cap <= SIZE_MAX / sizeof(*list) ? realloc(list, cap * sizeof(*list)) : NULL;
            if (!grown)
                goto oom;
            list = grown;
        }
        task = (const char *)sqlite3_column_text(stmt, 0);
        if (!(list[n] = strdup(task ? task : "")))
            goto oom;
        n++;
    }
    if (rc != SQLITE_DONE) {
        fail(db, err, "cannot list failing tasks of '%s'", cert);
        goto out;
    }
    *tasks = list;
    *count = n;
    list = NULL;
    n = 0;
    ret = 0;
    goto out;
oom:
    errbuf_set(err, "state %s: cannot list failing tasks of '%s': out of memory", db->path, cert);
out:
    stmt_done(stmt);
    pthread_mutex_unlock(&db->lock);
    free_names(list, n);
    return ret;
}

/* ---- batches ----------------------------------------------------------------------------------- */

int state_batch_begin(struct state_db *db, struct errbuf *err)
{
    int rc, ret = 0;

    pthread_mutex_lock(&db->lock);
    if (db->batch) {
        ret = errbuf_set(err, "state %s: a batch is already open", db->path);
    } else if ((rc = stmt_run(db->stmt[ST_BEGIN])) != SQLITE_OK) {
        ret = fail(db, err, "cannot begin a batch of writes");
    } else {
        db->batch = 1;
    }
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_batch_end(struct state_db *db, struct errbuf *err)
{
    int ret = 0;

    pthread_mutex_lock(&db->lock);
    if (db->batch) {
        db->batch = 0;
        if (stmt_run(db->stmt[ST_COMMIT]) != SQLITE_OK) {
            ret = fail(db, err, "cannot commit a batch of writes");
            if (!sqlite3_get_autocommit(db->conn))
                stmt_run(db->stmt[ST_ROLLBACK]);
        }
    }
    pthread_mutex_unlock(&db->lock);
    return ret;
}

/* ---- scans ------------------------------------------------------------------------------------- */

static const char *column_string(sqlite3_stmt *stmt, int col)
{
    const char *s = (const char *)sqlite3_column_text(stmt, col);
    return s ? s : "";
}

/* Step STMT (bound) and hand each row to ROW; stops at the first row ROW refuses (non-zero),
 * which is then the result. Lock held. */
static int scan(struct state_db *db, sqlite3_stmt *stmt, const char *what,
                int (*row)(sqlite3_stmt *stmt, void *fn, void *ctx), void *fn, void *ctx,
                struct errbuf *err)
{
    int rc, ret = 0;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if ((ret = row(stmt, fn, ctx)) != 0)
            break;
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(db, err, "%s", what);
    stmt_done(stmt);
    return ret;
}

static int cert_row(sqlite3_stmt *stmt, void *fn, void *ctx)
{
    struct cert_brief c = {
        .name = column_string(stmt, 0),
        .serial = column_string(stmt, 1),
        .thumbprint = column_string(stmt, 2),
        .not_before = (time_t)sqlite3_column_int64(stmt, 3),
        .not_after = (time_t)sqlite3_column_int64(stmt, 4),
        .last_renewal = (time_t)sqlite3_column_int64(stmt, 5),
        .ari_start = (time_t)sqlite3_column_int64(stmt, 6),
        .ari_end = (time_t)sqlite3_column_int64(stmt, 7),
        .ari_next_check = (time_t)sqlite3_column_int64(stmt, 8),
        .last_attempt = (time_t)sqlite3_column_int64(stmt, 9),
        .last_ok = sqlite3_column_int(stmt, 10),
        .last_message = column_string(stmt, 11),
        .failure_count = sqlite3_column_int(stmt, 12),
        .next_attempt = (time_t)sqlite3_column_int64(stmt, 13),
        .pending = sqlite3_column_int(stmt, 14),
        .pending_since = (time_t)sqlite3_column_int64(stmt, 15),
    };
    return ((state_cert_fn)fn)(ctx, &c);
}

static int task_row(sqlite3_stmt *stmt, void *fn, void *ctx)
{
    struct task_brief t = {
        .cert = column_string(stmt, 0),
        .task = column_string(stmt, 1),
        .delivered = column_string(stmt, 2),
        .failure_count = sqlite3_column_int(stmt, 3),
        .last_attempt = (time_t)sqlite3_column_int64(stmt, 4),
        .last_ok = sqlite3_column_int(stmt, 5),
        .last_message = column_string(stmt, 6),
    };
    return ((state_task_fn)fn)(ctx, &t);
}

static int run_row(sqlite3_stmt *stmt, void *fn, void *ctx)
{
    struct run_brief r = {
        .cert = column_string(stmt, 0),
        .task = column_string(stmt, 1),
        .when = (time_t)sqlite3_column_int64(stmt, 2),
        .ok = sqlite3_column_int(stmt, 3),
        .message = column_string(stmt, 4),
    };
    return ((state_run_fn)fn)(ctx, &r);
}

int state_cert_scan(struct state_db *db, state_cert_fn fn, void *ctx, struct errbuf *err)
{
    int ret;

    pthread_mutex_lock(&db->lock);
    ret = scan(db, db->stmt[ST_CERT_SCAN], "cannot read the certificates", cert_row, (void *)fn,
               ctx, err);
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_task_scan(struct state_db *db, state_task_fn fn, void *ctx, struct errbuf *err)
{
    int ret;

    pthread_mutex_lock(&db->lock);
    ret = scan(db, db->stmt[ST_TASK_SCAN], "cannot read the task states", task_row, (void *)fn,
               ctx, err);
    pthread_mutex_unlock(&db->lock);
    return ret;
}

int state_recent_runs_scan(struct state_db *db, size_t per_cert, state_run_fn fn, void *ctx,
                           struct errbuf *err)
{
    sqlite3_stmt *stmt = db->stmt[ST_RECENT_RUNS_SCAN];
    int ret;

    pthread_mutex_lock(&db->lock);
    if (sqlite3_bind_int64(stmt, 1, limit_param(per_cert)) != SQLITE_OK) {
        ret = fail(db, err, "cannot list recent task runs");
        stmt_done(stmt);
    } else {
        ret = scan(db, stmt, "cannot list recent task runs", run_row, (void *)fn, ctx, err);
    }
    pthread_mutex_unlock(&db->lock);
    return ret;
}
