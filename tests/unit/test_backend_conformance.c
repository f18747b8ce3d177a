/* test_backend_conformance.c — what every store backend must do, checked through store.h alone.
 *
 * ROWS below lists the backends and how to make a fresh store for each; every case runs once per
 * row. A backend joins the suite with ONE row: a function that makes an empty store location and
 * the store_open_options to use (and names the local directory behind it, when an administrator or
 * an attacker could reach the files directly: the cases plant hostile entries there with plain
 * POSIX calls, as they would), plus the capabilities the backend must declare. Cases that need a
 * capability ask the store (store_has) and print why they skip; the row's declared capabilities
 * are checked first, so a backend cannot pass by quietly dropping one.
 *
 * Threads and child processes here never call cmocka's assertions (a failure longjmps on the
 * main thread's stack): they count what they saw, and the main thread asserts. Each concurrency
 * case also checks that its scenario really happened (the reader saw both contents, the lister
 * saw a temp file), so a case cannot pass by not racing at all.
 *
 * One case steps outside store.h: its second SMB client, holding the lease's placeholders open,
 * speaks to the test server through libsmbclient's table (store/smb_lib.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/smb_lib.h"
#include "store/store.h"
#include "testcert.h"
#include "util/credfile.h"

/* Largest file any case reads: well above the biggest content written here. */
#define READ_MAX (4u << 20)

/* A lease short enough that a lost lock would show within a test, long enough (three times the
 * longest hold here, LOCK_HOLD_MS, with room for a sanitizer build) never to expire in one. */
#define SHORT_LEASE_SECONDS 3

/* The issue's numbers: 300+ replacements under a concurrent reader; a child holds the lock 300 ms;
 * a file renamed into a notifying store is seen within 100 ms; the polling watch at 50 ms. */
#define REPLACE_ROUNDS 400
#define LOCK_HOLD_MS 300
#define NOTIFY_LATENCY_MAX_MS 100
#define POLL_INTERVAL_MS 50
/* How long any one expected event may take before the case fails (a polling watch needs a few
 * intervals; a sanitizer build is slower). */
#define EVENT_DEADLINE_MS 3000
/* After the last step, how long to keep reading for events that must not come. */
#define WATCH_DRAIN_MS 300

/* Two contents of different sizes, both over a page, so a torn or in-place write would show. */
#define SMALL_LEN 5000
#define LARGE_LEN 70000
/* Big enough that a writer's temp file exists long enough for a concurrent lister to see it. */
#define TEMP_PROBE_LEN (256u << 10)
#define TEMP_PROBE_ROUNDS 300

#define THREAD_LOCK_ROUNDS 10
#define THREAD_LOCK_HOLD_MS 5

/* ---- the table of backends ------------------------------------------------------------------- */

struct backend_location {
    char location[PATH_MAX];    /* what store_open() is given */
    char backing_dir[PATH_MAX]; /* the local directory holding the files, "" when unreachable */
    struct store_open_options opts;
    void *priv; /* the row's own state (a test server, ...) */
};

struct backend_row {
    const char *name;
    /* Make a fresh, empty store location and the options to open it with. 0 or -1. */
    int (*make)(struct backend_location *loc);
    void (*destroy)(struct backend_location *loc);
    unsigned expect_caps;             /* exactly what store_capabilities() must say */
    enum store_lock_kind expect_lock; /* what store_lock_kind() must say */
};

static int make_local_dir(struct backend_location *loc)
{
    char *dir = testcert_tmpdir();
    snprintf(loc->location, sizeof(loc->location), "%s", dir);
    snprintf(loc->backing_dir, sizeof(loc->backing_dir), "%s", dir);
    free(dir);
    return 0;
}

static int make_local(struct backend_location *loc)
{
    loc->opts = (struct store_open_options){.lock = STORE_LOCK_DEFAULT};
    return make_local_dir(loc);
}

static int make_local_lease(struct backend_location *loc)
{
    loc->opts =
        (struct store_open_options){.lock = STORE_LOCK_LEASE, .lease_seconds = SHORT_LEASE_SECONDS};
    return make_local_dir(loc);
}

static void destroy_local(struct backend_location *loc)
{
    testcert_rmdir(strdup(loc->backing_dir));
}

#define LOCAL_CAPS                                                                                 \
    (STORE_CAP_POSIX_MODE | STORE_CAP_ATOMIC_REPLACE | STORE_CAP_DURABLE_SYNC |                    \
     STORE_CAP_SYMLINKS | STORE_CAP_CHANGE_NOTIFY)

/* ---- the SMB row: a real smbd on loopback (tests/e2e/smb_server.sh) ------------------------ */

/* The test server, started once for the whole run by the first SMB case and stopped at exit. */
struct smb_server {
    int started, failed;
    char dir[PATH_MAX];         /* the server's temp directory */
    char port[16];
    char rw_dir[PATH_MAX];      /* the directory of share "rw" */
    char credentials[PATH_MAX]; /* the test user's credentials file */
    char user[64];
    int case_count;
    pid_t owner; /* the process that started it */
};
static struct smb_server SMBD;

/* tests/e2e/smb_server.sh, found from this file's own path (CMake compiles it by full path). */
static void smb_script(char *out, size_t size)
{
    const char *slash = strrchr(__FILE__, '/');
    snprintf(out, size, "%.*s/../e2e/smb_server.sh", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
}

static void smb_server_stop(void)
{
    char script[PATH_MAX], cmd[3 * PATH_MAX];

    /* Only the process that started it: a forked child that exits through exit() must not. */
    if (!SMBD.started || getpid() != SMBD.owner)
        return;
    smb_script(script, sizeof(script));
    snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s' && rm -rf '%s'", script, SMBD.dir, SMBD.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "smb row: could not stop the test smbd in %s\n", SMBD.dir);
    SMBD.started = 0;
}

/* One "KEY=value" line of the script's output into SMBD. */
static void smb_server_fact(const char *line)
{
    static const struct {
        const char *key;
        size_t offset, size;
    } FACTS[] = {
        {"SMB_PORT=", offsetof(struct smb_server, port), sizeof(SMBD.port)},
        {"SMB_RW=", offsetof(struct smb_server, rw_dir), sizeof(SMBD.rw_dir)},
        {"SMB_CREDS=", offsetof(struct smb_server, credentials), sizeof(SMBD.credentials)},
        {"SMB_USER=", offsetof(struct smb_server, user), sizeof(SMBD.user)},
    };
    for (size_t i = 0; i < sizeof(FACTS) / sizeof(FACTS[0]); i++)
        if (strncmp(line, FACTS[i].key, strlen(FACTS[i].key)) == 0)
            snprintf((char *)&SMBD + FACTS[i].offset, FACTS[i].size, "%.*s",
                     (int)strcspn(line + strlen(FACTS[i].key), "\n"), line + strlen(FACTS[i].key));
}

static int smb_server_start(void)
{
    char script[PATH_MAX], cmd[3 * PATH_MAX], line[PATH_MAX + 32];
    char tmpl[] = "/tmp/ccs-smbd.XXXXXX";
    FILE *p;

    if (SMBD.started || SMBD.failed)
        return SMBD.started ? 0 : -1;
    SMBD.failed = 1;
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(SMBD.dir, sizeof(SMBD.dir), "%s", tmpl);
    smb_script(script, sizeof(script));
    snprintf(cmd, sizeof(cmd), "sh '%s' start '%s'", script, SMBD.dir);
    fflush(NULL); /* the child shares our stdio buffers until it execs */
    p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof(line), p))
        smb_server_fact(line);
    SMBD.started = 1; /* from here on, stop it at exit even if the facts are incomplete */
    SMBD.owner = getpid();
    atexit(smb_server_stop);
    if (pclose(p) != 0 || !SMBD.port[0] || !SMBD.rw_dir[0] || !SMBD.credentials[0]) {
        fprintf(stderr, "smb row: %s failed (see %s/log.smbd)\n", cmd, SMBD.dir);
        return -1;
    }
    SMBD.failed = 0;
    return 0;
}

/* A fresh folder in share "rw" per case, owned like the share (smbd serves it as the test user). */
static int make_smb(struct backend_location *loc)
{
    struct stat share;
    char name[32];

    if (smb_server_start() < 0)
        return -1;
    snprintf(name, sizeof(name), "case-%d", ++SMBD.case_count);
    snprintf(loc->backing_dir, sizeof(loc->backing_dir), "%s/%s", SMBD.rw_dir, name);
    if (stat(SMBD.rw_dir, &share) < 0 || mkdir(loc->backing_dir, 0755) < 0 ||
        (geteuid() == 0 && chown(loc->backing_dir, share.st_uid, share.st_gid) < 0))
        return -1;
    snprintf(loc->location, sizeof(loc->location), "smb://127.0.0.1:%s/rw/%s", SMBD.port, name);
    loc->opts = (struct store_open_options){
        .lock = STORE_LOCK_DEFAULT,
        .lease_seconds = SHORT_LEASE_SECONDS,
        .smb = {.credentials_file = SMBD.credentials},
    };
    return 0;
}

static void destroy_smb(struct backend_location *loc)
{
    testcert_rmdir(strdup(loc->backing_dir));
}

/* What the SMB backend can do: notification only (no modes, no sync, no links, and libsmbclient's
 * rename replaces in two steps, see backend_smb.c). */
#define SMB_CAPS STORE_CAP_CHANGE_NOTIFY

/* One line per backend configuration; every case below runs against each. */
static const struct backend_row ROWS[] = {
    {"local", make_local, destroy_local, LOCAL_CAPS, STORE_LOCK_HANDLE},
    {"local-lease", make_local_lease, destroy_local, LOCAL_CAPS, STORE_LOCK_LEASE},
    {"smb", make_smb, destroy_smb, SMB_CAPS, STORE_LOCK_LEASE},
};
#define ROW_COUNT (sizeof(ROWS) / sizeof(ROWS[0]))

/* ---- fixture and helpers --------------------------------------------------------------------- */

struct fixture {
    const struct backend_row *row;
    struct backend_location loc;
    struct store *st;
    char *scratch; /* a directory outside the store, made on demand, removed by teardown */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err = {""};

    f->row = *state;
    if (f->row->make(&f->loc) < 0) {
        fprintf(stderr, "%s: cannot make a store location\n", f->row->name);
        free(f);
        return -1;
    }
    if (store_open(f->loc.location, &f->loc.opts, &f->st, &err) < 0) {
        fprintf(stderr, "%s: store_open: %s\n", f->row->name, err.msg);
        f->row->destroy(&f->loc);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    f->row->destroy(&f->loc);
    if (f->scratch)
        testcert_rmdir(f->scratch);
    free(f);
    return 0;
}

/* A directory outside the store (records, symlink targets), removed even when the case fails. */
static const char *scratch_dir(struct fixture *f)
{
    if (!f->scratch)
        f->scratch = testcert_tmpdir();
    return f->scratch;
}

/* A second, independent store object on the same location: what another process (a server, a
 * second deploy) has. Concurrency cases use one so the race is between backends, not serialised
 * by one store's mutex. */
static struct store *open_again(struct fixture *f)
{
    struct store *st;
    struct errbuf err = {""};
    if (store_open(f->loc.location, &f->loc.opts, &st, &err) < 0)
        fail_msg("%s: second store_open: %s", f->row->name, err.msg);
    return st;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* LEN octets of FILL, owned. */
static struct bytes content(char fill, size_t len)
{
    struct bytes b = {malloc(len), len};
    assert_non_null(b.data);
    memset(b.data, fill, len);
    return b;
}

static int same_bytes(const struct bytes *a, const struct bytes *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void write_ok(struct store *st, const char *name, const struct bytes *data,
                     const struct store_write_options *opts)
{
    struct errbuf err = {""};
    if (store_write_atomic(st, name, data, opts, &err) < 0)
        fail_msg("write %s: %s", name, err.msg);
}

static void stat_ok(struct store *st, const char *name, struct store_entry *e, int *missing)
{
    struct errbuf err = {""};
    if (store_stat(st, name, e, missing, &err) < 0)
        fail_msg("stat %s: %s", name, err.msg);
}

/* The message of a failed operation must name the file (and say WHY, when given). */
static void assert_names(const struct errbuf *err, const char *file, const char *why)
{
    if (!strstr(err->msg, file))
        fail_msg("error does not name %s: \"%s\"", file, err->msg);
    if (why && !strcasestr(err->msg, why))
        fail_msg("error does not say \"%s\": \"%s\"", why, err->msg);
}

/* The path of NAME in the row's backing directory; 0 when the row has none (the case skips). */
static int backing_path(const struct fixture *f, const char *name, char *out, size_t out_size)
{
    if (!f->loc.backing_dir[0])
        return 0;
    snprintf(out, out_size, "%s/%s", f->loc.backing_dir, name);
    return 1;
}

static void skip_because(const struct fixture *f, const char *what, const char *why)
{
    print_message("[ SKIPPED  ] %s: %s: %s\n", f->row->name, what, why);
}

/* A file written as an administrator would, outside ccs. */
static void posix_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static const struct store_entry *find_entry(const struct store_entries *es, const char *name)
{
    for (size_t i = 0; i < es->count; i++)
        if (strcmp(es->items[i].name, name) == 0)
            return &es->items[i];
    return NULL;
}

/* ---- the row states what it is --------------------------------------------------------------- */

static void test_declares_its_capabilities(void **state)
{
    struct fixture *f = *state;
    static const enum store_capability every[] = {STORE_CAP_POSIX_MODE, STORE_CAP_ATOMIC_REPLACE,
                                                  STORE_CAP_DURABLE_SYNC, STORE_CAP_SYMLINKS,
                                                  STORE_CAP_CHANGE_NOTIFY};
    struct errbuf err = {""};

    /* A dropped capability would silently skip the cases guarded by it. */
    assert_int_equal(store_capabilities(f->st), f->row->expect_caps);
    for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++)
        assert_int_equal(!!store_has(f->st, every[i]), !!(f->row->expect_caps & every[i]));
    assert_int_equal(store_lock_kind(f->st), f->row->expect_lock);
    assert_non_null(store_kind(f->st));
    assert_true(store_display_name(f->st)[0] != '\0');
    /* Without STORE_CAP_DURABLE_SYNC store_sync() is a successful no-op; with it, it works. */
    if (store_sync(f->st, &err) < 0)
        fail_msg("store_sync: %s", err.msg);
}

/* ---- atomic replace seen by a concurrent reader ---------------------------------------------- */

struct reader {
    struct store *st;
    const char *name;
    const struct bytes *a, *b;
    atomic_int stop;
    atomic_long reads;
    /* written by the reader thread only, read after join */
    long seen_a, seen_b, missing, torn, errors, switches;
    char first_error[ERRBUF_SIZE];
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    int last = 0; /* 1: saw a, 2: saw b */

    while (!atomic_load(&r->stop)) {
        struct bytes got = {NULL, 0};
        struct errbuf err = {""};
        int missing = 0, now = 0;

        if (store_read(r->st, r->name, READ_MAX, &got, &missing, &err) < 0) {
            if (r->errors++ == 0)
                snprintf(r->first_error, sizeof(r->first_error), "%s", err.msg);
        } else if (missing) {
            r->missing++;
        } else if (same_bytes(&got, r->a)) {
            r->seen_a++;
            now = 1;
        } else if (same_bytes(&got, r->b)) {
            r->seen_b++;
            now = 2;
        } else {
            r->torn++;
        }
        if (now && last && now != last)
            r->switches++;
        if (now)
            last = now;
        bytes_free(&got);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

/* MUST_SWITCH: the reader must have seen the content change (the race happened). Not asked of a
 * reader sharing the writer's store: its mutex is not fair, and the writer may take it back each
 * time, so that reader may see one content only; what it proves is the mutex (under TSan). */
static void check_reader(const struct fixture *f, const char *which, const struct reader *r,
                         int must_switch)
{
    int atomic = store_has(f->st, STORE_CAP_ATOMIC_REPLACE);

    print_message("%s: %s reader: %ld reads, %ld small, %ld large, %ld switches, %ld missing, "
                  "%ld torn, %ld errors\n",
                  f->row->name, which, atomic_load(&r->reads), r->seen_a, r->seen_b, r->switches,
                  r->missing, r->torn, r->errors);
    if (r->errors)
        fail_msg("%s reader: %ld failed reads, first: %s", which, r->errors, r->first_error);
    if (r->torn)
        fail_msg("%s reader: %ld reads returned neither content (torn)", which, r->torn);
    if (atomic && r->missing)
        fail_msg("%s reader: %ld reads found no file during an atomic replace", which, r->missing);
    /* The scenario happened: the reader was reading while the contents changed under it. */
    if (must_switch && r->switches == 0)
        fail_msg("%s reader never saw the content change: the race did not happen", which);
}

static void test_atomic_replace_concurrent_reader(void **state)
{
    struct fixture *f = *state;
    static const char name[] = "replace.example.pfx";
    struct bytes small = content('s', SMALL_LEN), large = content('L', LARGE_LEN);
    /* One reader on its own store object (another process's view: the race is in the backend),
     * one sharing the writer's store (the store's mutex; what TSan checks). */
    struct reader own = {.name = name, .a = &small, .b = &large};
    struct reader shared = {.name = name, .a = &small, .b = &large, .st = f->st};
    pthread_t t_own, t_shared;

    own.st = open_again(f);
    write_ok(f->st, name, &small, NULL);
    assert_int_equal(pthread_create(&t_own, NULL, reader_main, &own), 0);
    assert_int_equal(pthread_create(&t_shared, NULL, reader_main, &shared), 0);
    while (atomic_load(&own.reads) == 0 || atomic_load(&shared.reads) == 0)
        sleep_ms(1);
    for (int i = 0; i < REPLACE_ROUNDS; i++) {
        struct errbuf err = {""};
        if (store_write_atomic(f->st, name, i % 2 ? &small : &large, NULL, &err) < 0) {
            atomic_store(&own.stop, 1);
            atomic_store(&shared.stop, 1);
            pthread_join(t_own, NULL);
            pthread_join(t_shared, NULL);
            fail_msg("write %d: %s", i, err.msg);
        }
    }
    atomic_store(&own.stop, 1);
    atomic_store(&shared.stop, 1);
    pthread_join(t_own, NULL);
    pthread_join(t_shared, NULL);
    store_close(own.st);

    check_reader(f, "own-store", &own, 1);
    check_reader(f, "shared-store", &shared, 0);
    bytes_free(&small);
    bytes_free(&large);
}

/* ---- missing vs unreadable ------------------------------------------------------------------- */

/* NAME cannot be read: -1, not "missing", and the message names it. */
static void assert_read_fails(struct fixture *f, const char *name, const char *why)
{
    struct bytes got = {NULL, 0};
    struct errbuf err = {""};
    int missing = -1;

    if (store_read(f->st, name, READ_MAX, &got, &missing, &err) == 0)
        fail_msg("%s: read succeeded (%zu octets, missing=%d); expected an error", name, got.len,
                 missing);
    assert_int_equal(missing, 0);
    assert_null(got.data);
    assert_names(&err, name, why);
    print_message("%s: %s: %s\n", f->row->name, name, err.msg);
}

/* What a child process made of reading a file (it cannot call cmocka's assertions). */
struct child_read {
    int rc;        /* store_read's; -2: the child could not get as far as reading */
    int missing;   /* store_read's *missing */
    int reachable; /* 0: the store's directory is out of the child's reach (skip, saying so) */
    char msg[ERRBUF_SIZE];
};

/* Read NAME as the user nobody, in a child process: root reads a mode-000 file anyway, so when
 * this runs as root the reader the mode applies to must be someone else. The store's directory is
 * made searchable and readable for the child; the result comes back through a pipe. */
static void read_as_nobody(struct fixture *f, const char *name, struct child_read *out)
{
    const struct passwd *pw = getpwnam("nobody");
    uid_t uid = pw ? pw->pw_uid : 65534;
    gid_t gid = pw ? pw->pw_gid : 65534;
    int p[2], status = 0;
    size_t got = 0;
    pid_t pid;

    assert_int_equal(chmod(f->loc.backing_dir, 0755), 0);
    assert_int_equal(pipe(p), 0);
    fflush(NULL); /* the child shares our stdio buffers */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct child_read r = {.rc = -2, .missing = -1, .reachable = 1};
        struct bytes data = {NULL, 0};
        struct errbuf err = {""};
        struct store *st;

        close(p[0]);
        if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
            snprintf(r.msg, sizeof(r.msg), "cannot become nobody: %s", strerror(errno));
        } else if (access(f->loc.backing_dir, R_OK | X_OK) < 0) {
            r.reachable = 0;
            snprintf(r.msg, sizeof(r.msg), "%s: %s", f->loc.backing_dir, strerror(errno));
        } else if (store_open(f->loc.location, &f->loc.opts, &st, &err) < 0) {
            snprintf(r.msg, sizeof(r.msg), "store_open as nobody: %s", err.msg);
        } else {
            r.rc = store_read(st, name, READ_MAX, &data, &r.missing, &err);
            snprintf(r.msg, sizeof(r.msg), "%s", err.msg);
            if (r.rc == 0)
                snprintf(r.msg, sizeof(r.msg), "read %zu octets", data.len);
            bytes_free(&data);
            store_close(st);
        }
        _exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(p[1]);
    while (got < sizeof(*out)) {
        ssize_t n = read(p[0], (char *)out + got, sizeof(*out) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(chmod(f->loc.backing_dir, 0700), 0);
    if (got != sizeof(*out) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the reader running as nobody died (status %#x)", status);
}

static void test_missing_vs_unreadable(void **state)
{
    struct fixture *f = *state;
    struct bytes got = {NULL, 0}, data = content('x', 64);
    struct store_entry e;
    struct errbuf err = {""};
    char path[PATH_MAX + 64];
    int missing = 0;

    /* Missing: no error, *missing set. */
    assert_int_equal(store_read(f->st, "absent.example.pfx", READ_MAX, &got, &missing, &err), 0);
    assert_int_equal(missing, 1);
    assert_null(got.data);
    missing = 0;
    stat_ok(f->st, "absent.example.pfx", &e, &missing);
    assert_int_equal(missing, 1);

    /* A directory where a file should be: an error naming it, never "missing". */
    if (!backing_path(f, "x.pfx", path, sizeof(path))) {
        skip_because(f, "a directory named x.pfx", "the row has no backing directory");
    } else {
        assert_int_equal(mkdir(path, 0755), 0);
        assert_read_fails(f, "x.pfx", NULL);
        stat_ok(f->st, "x.pfx", &e, &missing);
        assert_int_equal(missing, 0);
        assert_int_equal(e.type, STORE_ENTRY_DIR);
    }

    /* A file its owner made unreadable (mode 000, set behind the store's back as an administrator
     * would): an error naming it and saying why, never "missing". Who reads matters: a local
     * store's files are opened by the reading process, which as root would read the file anyway,
     * so as root a child running as nobody reads it; a share's files are opened by the server as
     * the share's user, whom the mode stops whoever the client is. */
    if (!backing_path(f, "locked.pfx", path, sizeof(path))) {
        skip_because(f, "a mode-000 file", "the row has no backing directory");
    } else {
        const char *why =
            store_has(f->st, STORE_CAP_POSIX_MODE) ? "permission denied" : "access denied";

        write_ok(f->st, "locked.pfx", &data, NULL);
        assert_int_equal(chmod(path, 0), 0);
        if (geteuid() != 0 || store_location_kind(f->loc.location) != STORE_LOCATION_LOCAL) {
            assert_read_fails(f, "locked.pfx", why);
        } else {
            struct child_read r;

            read_as_nobody(f, "locked.pfx", &r);
            if (!r.reachable) {
                skip_because(f, "a mode-000 file read as nobody", r.msg);
            } else {
                print_message("%s: locked.pfx read as nobody: %s\n", f->row->name, r.msg);
                if (r.rc != -1)
                    fail_msg("locked.pfx read as nobody: rc %d: %s", r.rc, r.msg);
                assert_int_equal(r.missing, 0);
                snprintf(err.msg, sizeof(err.msg), "%s", r.msg);
                assert_names(&err, "locked.pfx", why);
            }
        }
    }
    bytes_free(&data);
}

/* ---- symbolic links are refused -------------------------------------------------------------- */

static void test_symlink_refused(void **state)
{
    struct fixture *f = *state;
    struct bytes data = content('r', 100);
    struct store_entries es = {NULL, 0};
    const struct store_entry *le, *re;
    struct store_entry e;
    struct errbuf err = {""};
    char link[PATH_MAX + 64], dangling[PATH_MAX + 64], outside[PATH_MAX + 64];
    int missing = 0;

    if (!store_has(f->st, STORE_CAP_SYMLINKS) || !f->loc.backing_dir[0]) {
        skip_because(f, "symbolic links", "the backend has none (or no backing directory)");
        bytes_free(&data);
        return;
    }
    write_ok(f->st, "real.example.pfx", &data, NULL);
    /* A link to a real, readable file in the store, one leaving the store, and one to nothing. */
    snprintf(outside, sizeof(outside), "%s/secret.pfx", scratch_dir(f));
    posix_write(outside, "outside the store");
    backing_path(f, "link.example.pfx", link, sizeof(link));
    assert_int_equal(symlink("real.example.pfx", link), 0);
    backing_path(f, "out.example.pfx", link, sizeof(link));
    assert_int_equal(symlink(outside, link), 0);
    backing_path(f, "dangling.example.pfx", dangling, sizeof(dangling));
    assert_int_equal(symlink("nothing-here.pfx", dangling), 0);

    assert_read_fails(f, "link.example.pfx", "symbolic link");
    assert_read_fails(f, "out.example.pfx", "symbolic link");
    assert_read_fails(f, "dangling.example.pfx", "symbolic link");

    /* Listed and described as links, with their targets, never as what they point at. */
    if (store_list(f->st, &es, &err) < 0)
        fail_msg("list: %s", err.msg);
    le = find_entry(&es, "link.example.pfx");
    re = find_entry(&es, "real.example.pfx");
    assert_non_null(le);
    assert_non_null(re);
    assert_int_equal(le->type, STORE_ENTRY_SYMLINK);
    assert_string_equal(le->link_target, "real.example.pfx");
    assert_int_equal(re->type, STORE_ENTRY_FILE);
    assert_non_null(find_entry(&es, "dangling.example.pfx"));
    assert_int_equal(find_entry(&es, "dangling.example.pfx")->type, STORE_ENTRY_SYMLINK);
    store_entries_free(&es);
    stat_ok(f->st, "out.example.pfx", &e, &missing);
    assert_int_equal(missing, 0);
    assert_int_equal(e.type, STORE_ENTRY_SYMLINK);
    assert_string_equal(e.link_target, outside);

    bytes_free(&data);
}

/* ---- the writers' lock ----------------------------------------------------------------------- */

/* One line to the shared record (O_APPEND: lines from two processes never interleave). */
static int record(int fd, const char *line)
{
    size_t len = strlen(line);
    return write(fd, line, len) == (ssize_t)len ? 0 : -1;
}

/* The child: its own store on the same location, the lock held LOCK_HOLD_MS. Never returns. */
static void lock_child(struct fixture *f, int rec, int ready)
{
    struct store *st;
    struct errbuf err = {""};
    char line[ERRBUF_SIZE + 32];

    if (store_open(f->loc.location, &f->loc.opts, &st, &err) < 0 || store_lock(st, &err) < 0) {
        snprintf(line, sizeof(line), "child error: %s\n", err.msg);
        (void)record(rec, line);
        _exit(2);
    }
    if (record(rec, "child in\n") < 0 || write(ready, "i", 1) != 1)
        _exit(3);
    sleep_ms(LOCK_HOLD_MS);
    if (record(rec, "child out\n") < 0)
        _exit(3);
    if (store_unlock(st, &err) < 0) {
        snprintf(line, sizeof(line), "child unlock error: %s\n", err.msg);
        (void)record(rec, line);
        _exit(4);
    }
    store_close(st);
    _exit(0);
}

/* The parent's side: wait until the child holds the lock, then take it and record when. Fills
 * PROBLEM (and returns -1) instead of failing, so the test still reaps the child and shows the
 * record first. */
static int lock_parent(struct fixture *f, int rec, int ready, char *problem, size_t size)
{
    struct errbuf err = {""};
    long long asked, entered;
    char c;

    if (read(ready, &c, 1) != 1) { /* from here on the child holds the lock */
        snprintf(problem, size, "the child never took the lock");
        return -1;
    }
    asked = now_ms();
    if (store_lock(f->st, &err) < 0) {
        snprintf(problem, size, "parent lock: %s", err.msg);
        return -1;
    }
    entered = now_ms();
    if (record(rec, "parent in\n") < 0)
        snprintf(problem, size, "cannot write the record: %s", strerror(errno));
    if (store_unlock(f->st, &err) < 0)
        snprintf(problem, size, "parent unlock: %s", err.msg);
    print_message("%s: the parent waited %lld ms for the child's lock (held %d ms)\n", f->row->name,
                  entered - asked, LOCK_HOLD_MS);
    return problem[0] ? -1 : 0;
}

static void test_lock_between_processes(void **state)
{
    struct fixture *f = *state;
    char rec_path[PATH_MAX + 16], got[4096] = "", problem[ERRBUF_SIZE + 64] = "";
    int rec, ready[2], status = 0;
    ssize_t n;
    pid_t pid;

    /* outside the store: the record is no store entry */
    snprintf(rec_path, sizeof(rec_path), "%s/record", scratch_dir(f));
    rec = open(rec_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(rec >= 0);
    assert_int_equal(fcntl(rec, F_SETFL, O_APPEND), 0);
    assert_int_equal(pipe(ready), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        lock_child(f, rec, ready[1]);
    }
    close(ready[1]);
    lock_parent(f, rec, ready[0], problem, sizeof(problem));
    close(ready[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    n = pread(rec, got, sizeof(got) - 1, 0);
    close(rec);
    assert_true(n >= 0);
    got[n] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the child failed (status %#x); record:\n%s", status, got);
    /* The parent asked while the child was in, and got in only after the child left. */
    assert_string_equal(got, "child in\nchild out\nparent in\n");
    if (problem[0])
        fail_msg("%s", problem);
}

struct locker {
    struct store *st;
    pthread_barrier_t *start;
    atomic_int *inside;
    atomic_int *most_inside;
    int rounds_done, errors;
    char first_error[ERRBUF_SIZE];
};

static void *locker_main(void *arg)
{
    struct locker *l = arg;

    pthread_barrier_wait(l->start);
    for (int i = 0; i < THREAD_LOCK_ROUNDS; i++) {
        struct errbuf err = {""};
        int now, most;

        if (store_lock(l->st, &err) < 0) {
            if (l->errors++ == 0)
                snprintf(l->first_error, sizeof(l->first_error), "lock: %s", err.msg);
            continue;
        }
        now = atomic_fetch_add(l->inside, 1) + 1;
        most = atomic_load(l->most_inside);
        while (now > most && !atomic_compare_exchange_weak(l->most_inside, &most, now))
            ;
        sleep_ms(THREAD_LOCK_HOLD_MS);
        atomic_fetch_sub(l->inside, 1);
        if (store_unlock(l->st, &err) < 0 && l->errors++ == 0)
            snprintf(l->first_error, sizeof(l->first_error), "unlock: %s", err.msg);
        l->rounds_done++;
    }
    return NULL;
}

static void test_lock_between_threads(void **state)
{
    struct fixture *f = *state;
    pthread_barrier_t start;
    atomic_int inside = 0, most_inside = 0;
    struct locker l[2];
    pthread_t t[2];

    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    for (int i = 0; i < 2; i++) {
        l[i] = (struct locker){
            .st = f->st, .start = &start, .inside = &inside, .most_inside = &most_inside};
        assert_int_equal(pthread_create(&t[i], NULL, locker_main, &l[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2; i++) {
        if (l[i].errors)
            fail_msg("thread %d: %d errors, first: %s", i, l[i].errors, l[i].first_error);
        assert_int_equal(l[i].rounds_done, THREAD_LOCK_ROUNDS);
    }
    /* Two threads of one process on ONE store object: never both inside. */
    assert_int_equal(atomic_load(&most_inside), 1);
}

/* ---- temp files never listed as *.pfx -------------------------------------------------------- */

static const char *const TEMP_TARGETS[] = {"t1.example.pfx", "t2.example.pfx"};

static int is_target(const char *name)
{
    return strcmp(name, TEMP_TARGETS[0]) == 0 || strcmp(name, TEMP_TARGETS[1]) == 0;
}

struct lister {
    struct store *st;
    atomic_int stop;
    atomic_long listings;
    long temps_seen, bad, errors;
    char first_bad[STORE_FILE_NAME_MAX + 1];
    char first_error[ERRBUF_SIZE];
};

static void *lister_main(void *arg)
{
    struct lister *l = arg;

    while (!atomic_load(&l->stop)) {
        struct store_entries es = {NULL, 0};
        struct errbuf err = {""};

        if (store_list(l->st, &es, &err) < 0) {
            if (l->errors++ == 0)
                snprintf(l->first_error, sizeof(l->first_error), "%s", err.msg);
            continue;
        }
        for (size_t i = 0; i < es.count; i++) {
            const char *name = es.items[i].name;
            if (is_target(name) || strcmp(name, STORE_LOCK_FILE) == 0)
                continue;
            /* Anything else is a writer's temp file: named so, and never a *.pfx to a server. */
            if (store_is_temp_name(name) && !store_is_pfx_name(name)) {
                l->temps_seen++;
            } else if (l->bad++ == 0) {
                snprintf(l->first_bad, sizeof(l->first_bad), "%s", name);
            }
        }
        store_entries_free(&es);
        atomic_fetch_add(&l->listings, 1);
    }
    return NULL;
}

static void test_temp_never_listed_as_pfx(void **state)
{
    struct fixture *f = *state;
    struct bytes a = content('a', TEMP_PROBE_LEN), b = content('b', TEMP_PROBE_LEN / 2);
    struct lister l = {0};
    struct store_entries es = {NULL, 0};
    struct errbuf err = {""};
    pthread_t t;

    /* The names themselves, whatever the backend. */
    assert_true(store_is_pfx_name("www.example.com.pfx"));
    assert_false(store_is_pfx_name(STORE_TEMP_PREFIX "123-abc.pfx"));
    assert_true(store_is_temp_name(STORE_TEMP_PREFIX "123-abc.pfx"));
    assert_false(store_is_pfx_name("www.example.com.pfx.part"));
    assert_false(store_is_pfx_name(STORE_LOCK_FILE));
    assert_false(store_is_temp_name(STORE_LOCK_FILE));

    l.st = open_again(f); /* its own store: sees the writer's temp files mid-write */
    assert_int_equal(pthread_create(&t, NULL, lister_main, &l), 0);
    while (atomic_load(&l.listings) == 0)
        sleep_ms(1);
    for (int i = 0; i < TEMP_PROBE_ROUNDS; i++) {
        if (store_write_atomic(f->st, TEMP_TARGETS[i % 2], i % 3 ? &a : &b, NULL, &err) < 0) {
            atomic_store(&l.stop, 1);
            pthread_join(t, NULL);
            fail_msg("write %d: %s", i, err.msg);
        }
    }
    atomic_store(&l.stop, 1);
    pthread_join(t, NULL);
    store_close(l.st);
    print_message("%s: %ld listings during %d writes, %ld temp names seen\n", f->row->name,
                  atomic_load(&l.listings), TEMP_PROBE_ROUNDS, l.temps_seen);
    if (l.errors)
        fail_msg("%ld listings failed, first: %s", l.errors, l.first_error);
    if (l.bad)
        fail_msg("%ld listed names neither a target nor a temp file, first: \"%s\"", l.bad,
                 l.first_bad);
    /* The scenario happened: a temp file was there to be listed. */
    if (l.temps_seen == 0)
        fail_msg("no temp file was ever listed: the race did not happen");

    /* Afterwards only the targets (and a lease's lock file) remain. */
    if (store_list(f->st, &es, &err) < 0)
        fail_msg("list: %s", err.msg);
    for (size_t i = 0; i < es.count; i++)
        if (!is_target(es.items[i].name) && strcmp(es.items[i].name, STORE_LOCK_FILE) != 0)
            fail_msg("left behind after the writes: %s", es.items[i].name);
    assert_non_null(find_entry(&es, TEMP_TARGETS[0]));
    assert_non_null(find_entry(&es, TEMP_TARGETS[1]));
    store_entries_free(&es);
    bytes_free(&a);
    bytes_free(&b);
}

/* ---- change events --------------------------------------------------------------------------- */

struct watch_run {
    struct fixture *f;
    struct store_watch *w;
    struct store_events all; /* everything the watch reported, for the final checks */
    long rescans;
};

/* Read events until KIND NAME arrives (then return the ms it took) or EVENT_DEADLINE_MS passes. */
static long long expect_event(struct watch_run *run, enum store_event_kind kind, const char *name,
                              long long since)
{
    long long deadline = since + EVENT_DEADLINE_MS;

    for (;;) {
        struct errbuf err = {""};
        size_t before = run->all.count;
        long long left = deadline - now_ms();

        if (left < 0)
            left = 0;
        if (store_watch_read(run->w, (int)left, &run->all, &err) < 0)
            fail_msg("watch read: %s", err.msg);
        for (size_t i = before; i < run->all.count; i++) {
            const struct store_event *ev = &run->all.items[i];
            if (ev->kind == STORE_EVENT_RESCAN)
                run->rescans++;
            if (ev->kind == kind && strcmp(ev->name, name) == 0)
                return now_ms() - since;
        }
        if (now_ms() >= deadline)
            fail_msg("%s: no %s event for %s within %d ms", run->f->row->name,
                     kind == STORE_EVENT_CHANGED ? "CHANGED" : "REMOVED", name, EVENT_DEADLINE_MS);
    }
}

static void run_watch_case(struct fixture *f, const struct store_watch_options *opts,
                           const char *mode)
{
    struct watch_run run = {.f = f};
    struct bytes one = content('1', 300), two = content('2', 700), three = content('3', 700);
    struct errbuf err = {""};
    char part[PATH_MAX + 64], final[PATH_MAX + 64], notes[PATH_MAX + 64];
    long long t0, ms;
    int polling;

    if (store_watch_open(f->st, opts, &run.w, &err) < 0)
        fail_msg("%s watch: %s", mode, err.msg);
    polling = store_watch_is_polling(run.w);
    assert_int_equal(polling, opts->force_poll || !store_has(f->st, STORE_CAP_CHANGE_NOTIFY));
    assert_true(store_watch_fd(run.w) >= 0);

    /* A write through the store: CHANGED, and its temp file never reported. */
    t0 = now_ms();
    write_ok(f->st, "w.example.pfx", &one, NULL);
    ms = expect_event(&run, STORE_EVENT_CHANGED, "w.example.pfx", t0);
    print_message("%s %s: write seen after %lld ms\n", f->row->name, mode, ms);
    t0 = now_ms();
    write_ok(f->st, "w.example.pfx", &two, NULL);
    expect_event(&run, STORE_EVENT_CHANGED, "w.example.pfx", t0);
    /* The same size again: a poller must not judge by size alone. */
    t0 = now_ms();
    write_ok(f->st, "w.example.pfx", &three, NULL);
    expect_event(&run, STORE_EVENT_CHANGED, "w.example.pfx", t0);

    /* An administrator's copy renamed into place (new, then over an existing file): CHANGED; the
     * partial file and a file that is not *.pfx are never reported. */
    if (backing_path(f, "r.example.pfx.part", part, sizeof(part))) {
        backing_path(f, "r.example.pfx", final, sizeof(final));
        backing_path(f, "notes.txt", notes, sizeof(notes));
        posix_write(notes, "not a certificate");
        posix_write(part, "first copy");
        t0 = now_ms();
        assert_int_equal(rename(part, final), 0);
        ms = expect_event(&run, STORE_EVENT_CHANGED, "r.example.pfx", t0);
        print_message("%s %s: rename(2) into place seen after %lld ms\n", f->row->name, mode, ms);
        if (!polling && ms > NOTIFY_LATENCY_MAX_MS)
            fail_msg("a notifying watch saw a rename after %lld ms (at most %d)", ms,
                     NOTIFY_LATENCY_MAX_MS);
        posix_write(part, "second, longer copy");
        t0 = now_ms();
        assert_int_equal(rename(part, final), 0);
        expect_event(&run, STORE_EVENT_CHANGED, "r.example.pfx", t0);
    } else {
        skip_because(f, "rename(2) into place", "the row has no backing directory");
    }

    /* A removal: REMOVED. */
    t0 = now_ms();
    if (store_remove(f->st, "w.example.pfx", &err) < 0)
        fail_msg("remove: %s", err.msg);
    ms = expect_event(&run, STORE_EVENT_REMOVED, "w.example.pfx", t0);
    print_message("%s %s: removal seen after %lld ms\n", f->row->name, mode, ms);

    /* Taking the writers' lock (a lease writes its lock file) is no change to any certificate. */
    if (store_lock(f->st, &err) < 0 || store_unlock(f->st, &err) < 0)
        fail_msg("lock: %s", err.msg);
    t0 = now_ms();
    while (now_ms() - t0 < WATCH_DRAIN_MS)
        if (store_watch_read(run.w, WATCH_DRAIN_MS, &run.all, &err) < 0)
            fail_msg("watch read: %s", err.msg);

    /* Nothing but the two certificates, ever (a RESCAN carries no name). */
    for (size_t i = 0; i < run.all.count; i++) {
        const struct store_event *ev = &run.all.items[i];
        if (ev->kind == STORE_EVENT_RESCAN)
            continue;
        if (strcmp(ev->name, "w.example.pfx") != 0 && strcmp(ev->name, "r.example.pfx") != 0)
            fail_msg("%s reported \"%s\" (temp %d, lock file %d)", mode, ev->name,
                     store_is_temp_name(ev->name), strcmp(ev->name, STORE_LOCK_FILE) == 0);
    }
    print_message("%s %s: %zu events in all, %ld rescans\n", f->row->name, mode, run.all.count,
                  run.rescans);
    store_watch_close(run.w);
    store_events_free(&run.all);
    bytes_free(&one);
    bytes_free(&two);
    bytes_free(&three);
}

static void test_change_events_default(void **state)
{
    struct store_watch_options opts = {0, 0};
    run_watch_case(*state, &opts, "default watch");
}

static void test_change_events_polling(void **state)
{
    struct store_watch_options opts = {.poll_interval_ms = POLL_INTERVAL_MS, .force_poll = 1};
    run_watch_case(*state, &opts, "polling watch");
}

/* ---- write options are honest ---------------------------------------------------------------- */

/* A group this process cannot give a file: one it is not a member of. -1 when none is found. */
static long foreign_gid(void)
{
    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);

    for (gid_t g = 1; g < 65534; g++) {
        int mine = g == getegid();
        for (int i = 0; i < n && !mine; i++)
            mine = groups[i] == g;
        if (!mine)
            return (long)g;
    }
    return -1;
}

static void assert_no_temp_files(struct fixture *f)
{
    struct store_entries es = {NULL, 0};
    struct errbuf err = {""};

    if (store_list(f->st, &es, &err) < 0)
        fail_msg("list: %s", err.msg);
    for (size_t i = 0; i < es.count; i++)
        if (store_is_temp_name(es.items[i].name))
            fail_msg("a temp file remains: %s", es.items[i].name);
    store_entries_free(&es);
}

static void test_write_options_honest(void **state)
{
    struct fixture *f = *state;
    struct bytes data = content('m', 128);
    struct store_write_options o600 = {.mode = 0600, .gid = -1}, o640 = {.mode = 0640, .gid = -1};
    struct store_entry e;
    struct errbuf err = {""};
    int missing = 0;

    if (!store_has(f->st, STORE_CAP_POSIX_MODE)) {
        /* Asking for a mode or a group the backend cannot give is an error, and nothing is
         * written. */
        struct store_write_options group = {.mode = 0, .gid = 0};
        assert_int_equal(store_write_atomic(f->st, "m.example.pfx", &data, &o600, &err), -1);
        assert_true(strcasestr(err.msg, "mode") != NULL);
        assert_int_equal(store_write_atomic(f->st, "m.example.pfx", &data, &group, &err), -1);
        assert_true(strcasestr(err.msg, "group") != NULL);
        stat_ok(f->st, "m.example.pfx", &e, &missing);
        assert_int_equal(missing, 1);
        assert_no_temp_files(f);
        bytes_free(&data);
        return;
    }
    /* The mode asked for is the mode given; a rewrite applies the new one. */
    write_ok(f->st, "m.example.pfx", &data, &o600);
    stat_ok(f->st, "m.example.pfx", &e, &missing);
    assert_int_equal(missing, 0);
    assert_int_equal(e.mode, 0600);
    write_ok(f->st, "m.example.pfx", &data, &o640);
    stat_ok(f->st, "m.example.pfx", &e, &missing);
    assert_int_equal(e.mode, 0640);

    /* A group that cannot be given: an error naming the file; NAME absent, no temp file left. */
    if (geteuid() == 0) {
        skip_because(f, "a group the writer may not give", "running as root, who may give any");
    } else {
        struct store_write_options bad = {.mode = 0640, .gid = foreign_gid()};
        assert_true(bad.gid >= 0);
        assert_int_equal(store_write_atomic(f->st, "g.example.pfx", &data, &bad, &err), -1);
        assert_names(&err, "g.example.pfx", NULL);
        stat_ok(f->st, "g.example.pfx", &e, &missing);
        assert_int_equal(missing, 1);
        assert_no_temp_files(f);
    }
    bytes_free(&data);
}

/* ---- remove and stat ------------------------------------------------------------------------- */

static void test_remove_and_stat(void **state)
{
    struct fixture *f = *state;
    static const char name[] = "s.example.pfx";
    struct bytes a = content('a', 100), b = content('b', 100), c = content('c', 200);
    struct store_entry e;
    struct store_version v1, v2;
    struct errbuf err = {""};
    int missing = 0;

    /* Removing what is not there is not an error. */
    if (store_remove(f->st, "never-there.example.pfx", &err) < 0)
        fail_msg("remove of a missing name: %s", err.msg);

    write_ok(f->st, name, &a, NULL);
    stat_ok(f->st, name, &e, &missing);
    assert_int_equal(missing, 0);
    assert_int_equal(e.type, STORE_ENTRY_FILE);
    assert_string_equal(e.name, name);
    assert_int_equal(e.version.size, 100);
    v1 = e.version;
    assert_true(store_version_equal(&v1, &v1));

    /* Same size, other content: still another version (what a cache's validator relies on). */
    write_ok(f->st, name, &b, NULL);
    stat_ok(f->st, name, &e, &missing);
    v2 = e.version;
    assert_int_equal(v2.size, 100);
    assert_false(store_version_equal(&v1, &v2));
    write_ok(f->st, name, &c, NULL);
    stat_ok(f->st, name, &e, &missing);
    assert_int_equal(e.version.size, 200);
    assert_false(store_version_equal(&v2, &e.version));

    if (store_remove(f->st, name, &err) < 0)
        fail_msg("remove: %s", err.msg);
    stat_ok(f->st, name, &e, &missing);
    assert_int_equal(missing, 1);
    if (store_remove(f->st, name, &err) < 0)
        fail_msg("second remove: %s", err.msg);
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&c);
}

/* ---- locations that name a share (row-independent) ------------------------------------------- */

/* Not a row: whatever backends exist, a location's credentials never reach a message. A location
 * carrying "user:password@" is refused outright (credentials belong in a credentials file); one
 * without reaches the backend, whose errors name the store and never the user or password of the
 * credentials file it was given. */
static void test_smb_location_display(void **state)
{
    static const char *const locations[] = {"smb://alice:secret@host.invalid/share/dir",
                                            "smb://alice:secret@host.invalid:4450/share/dir",
                                            "//host.invalid/share", "\\\\host.invalid\\share\\dir"};
    char *dir = testcert_tmpdir(), creds[PATH_MAX + 32];
    (void)state;

    assert_int_equal(store_location_kind("smb://alice:secret@host/share/dir"), STORE_LOCATION_SMB);
    assert_int_equal(store_location_kind("//host/share"), STORE_LOCATION_SMB);
    assert_int_equal(store_location_kind("\\\\host\\share\\dir"), STORE_LOCATION_SMB);
    assert_int_equal(store_location_kind("/srv/ccs"), STORE_LOCATION_LOCAL);
    assert_int_equal(store_location_kind("relative/store"), STORE_LOCATION_LOCAL);

    snprintf(creds, sizeof(creds), "%s/credentials", dir);
    posix_write(creds, "username = alice\npassword = secret\ndomain = EXAMPLE\n");
    assert_int_equal(chmod(creds, 0600), 0);
    for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++) {
        struct store_open_options opts = {.smb = {.credentials_file = creds}};
        struct store *st = NULL;
        struct errbuf err = {""};

        assert_int_equal(store_open(locations[i], &opts, &st, &err), -1);
        assert_null(st);
        print_message("%s -> %s\n", locations[i], err.msg);
        assert_true(strstr(err.msg, "host") != NULL);
        assert_true(strstr(err.msg, "share") != NULL);
        assert_true(strstr(err.msg, "alice") == NULL);
        assert_true(strstr(err.msg, "secret") == NULL);
        assert_true(strstr(err.msg, "EXAMPLE") == NULL);
        if (strchr(locations[i], '@'))
            assert_true(strstr(err.msg, "user name or password") != NULL);
        else /* .invalid never resolves (RFC 6761) */
            assert_true(strstr(err.msg, "server unreachable") != NULL);
    }
    testcert_rmdir(dir);
}

/* Against the real server: the display name of an open store and the message of a refused
 * password carry neither the user nor the password. */
static void test_smb_credentials_never_shown(void **state)
{
    char *dir = testcert_tmpdir(), wrong[PATH_MAX + 32], location[PATH_MAX];
    struct backend_location loc;
    struct store *st = NULL;
    struct errbuf err = {""};
    (void)state;

    assert_int_equal(make_smb(&loc), 0);
    if (store_open(loc.location, &loc.opts, &st, &err) < 0)
        fail_msg("open: %s", err.msg);
    assert_null(strstr(store_display_name(st), SMBD.user));
    assert_string_equal(store_display_name(st), loc.location);
    store_close(st);

    snprintf(wrong, sizeof(wrong), "%s/wrong", dir);
    posix_write(wrong, "username = nosuchuser\npassword = not-the-password-42\n");
    assert_int_equal(chmod(wrong, 0600), 0);
    loc.opts.smb.credentials_file = wrong;
    snprintf(location, sizeof(location), "%s", loc.location);
    assert_int_equal(store_open(location, &loc.opts, &st, &err), -1);
    print_message("wrong password -> %s\n", err.msg);
    assert_non_null(strstr(err.msg, "authentication failed"));
    assert_non_null(strstr(err.msg, location));
    assert_null(strstr(err.msg, "not-the-password-42"));
    assert_null(strstr(err.msg, "nosuchuser"));
    destroy_smb(&loc);
    testcert_rmdir(dir);
}

/* A server that takes the connection and never answers (a hung file server, a firewall that
 * swallows the traffic): the open gives up after the store's timeout with "timed out", naming the
 * store, never waiting for ever. The listening socket is never accepted from: the kernel completes
 * the handshake and keeps what ccs sends, and nothing comes back. */
#define SILENT_TIMEOUT_MS 300

static void test_smb_silent_server_times_out(void **state)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    char *dir = testcert_tmpdir(), creds[PATH_MAX + 32], location[128], what[192];
    struct store_open_options opts = {.smb = {.timeout_ms = SILENT_TIMEOUT_MS}};
    struct store *st = NULL;
    struct errbuf err = {""};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)state;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    snprintf(location, sizeof(location), "smb://127.0.0.1:%u/share/dir", ntohs(addr.sin_port));
    snprintf(creds, sizeof(creds), "%s/credentials", dir);
    posix_write(creds, "username = alice\npassword = silent-secret-9\n");
    assert_int_equal(chmod(creds, 0600), 0);
    opts.smb.credentials_file = creds;

    assert_int_equal(store_open(location, &opts, &st, &err), -1);
    assert_null(st);
    print_message("silent server -> %s\n", err.msg);
    /* the kind right after the store's name: "...: timed out", never "server unreachable" (whose
     * detail, strerror(ETIMEDOUT), would also say "timed out") */
    snprintf(what, sizeof(what), "store %s: timed out", location);
    assert_non_null(strstr(err.msg, what));
    assert_null(strstr(err.msg, "unreachable"));
    assert_null(strstr(err.msg, "silent-secret-9"));
    assert_null(strstr(err.msg, "alice"));
    /* what a renewer's deploy-ccs task retries */
    assert_true(store_error_is_transient(&err));
    close(fd);
    testcert_rmdir(dir);
}

/* The lease's release moves .ccs-lock aside onto a fresh .ccs-tmp-lease-* name, which the SMB
 * backend first reserves with an empty placeholder; libsmbclient's rename then finds the name
 * taken (by us), unlinks it and renames again. Another SMB client holding that placeholder open at
 * that instant makes the unlink fail (or, had it opened with delete sharing, leaves it pending),
 * and the rename reports "exists": before 693d597 the release then failed with "cannot move
 * .ccs-lock aside: ... exists". Here a child with an SMB connection of its own lists the store
 * over and over and holds each empty .ccs-tmp-* file it sees open for SWEEP_HOLD_MS, once, as a
 * sweep would, while the parent takes and releases the lease SWEEP_ROUNDS times. No release may
 * fail so, and the child must have held placeholders open (else nothing raced). Measured: with
 * the backend of 693d597~1, 8 to 14 of 100 releases failed in each of 3 runs (0.4 s); at 693d597,
 * none (each placeholder held costs a 100 ms retry: about 9 s). (ccs's own stale-temp sweep lists
 * and removes, it opens no temporary file; the child stands for any other client that does.) */
#define SWEEP_ROUNDS 100
#define SWEEP_HOLD_MS 30
#define SWEEP_PARENT_MAX_MS 20000
/* The child's own limit: SIGALRM ends it even if the parent never gets to kill it. */
#define SWEEP_CHILD_MAX_S 40
#define SWEEP_NAMES_MAX 16

struct sweep_counts {
    atomic_int ready;       /* 1 connected, -1 could not connect */
    atomic_long listings;   /* directory listings done */
    atomic_long held;       /* .ccs-tmp-* files held open */
    atomic_long held_empty; /* of which empty: a placeholder (or a temp file being written) */
};

static struct credentials SWEEP_CREDS;

static void sweep_auth(SMBCCTX *ctx, const char *server, const char *share, char *workgroup,
                       int workgroup_len, char *username, int username_len, char *password,
                       int password_len)
{
    (void)ctx;
    (void)server;
    (void)share;
    (void)workgroup;
    (void)workgroup_len;
    snprintf(username, (size_t)username_len, "%s", SWEEP_CREDS.username);
    snprintf(password, (size_t)password_len, "%s", SWEEP_CREDS.password);
}

/* A sweep looks at each file once: the names the child held lately, so none is held twice (a
 * placeholder made anew under the same name is not held again). */
#define SWEEP_SEEN_MAX 64
static char SWEEP_SEEN[SWEEP_SEEN_MAX][STORE_FILE_NAME_MAX + 1];

static int sweep_seen(const char *name)
{
    for (int i = 0; i < SWEEP_SEEN_MAX; i++)
        if (strcmp(SWEEP_SEEN[i], name) == 0)
            return 1;
    return 0;
}

/* The child: never returns, never calls cmocka; ends by SIGKILL from the parent or its alarm. */
static void sweep_child(const char *dir_url, struct sweep_counts *c)
{
    struct errbuf err = {""};
    SMBCCTX *ctx;

    alarm(SWEEP_CHILD_MAX_S);
    if (smb_lib_load(&err) < 0 || credfile_load(SMBD.credentials, &SWEEP_CREDS, &err) < 0 ||
        !(ctx = smbc.new_context())) {
        atomic_store(&c->ready, -1);
        _exit(2);
    }
    smbc.setFunctionAuthDataWithContext(ctx, sweep_auth);
    smbc.setOptionNoAutoAnonymousLogin(ctx, 1);
    smbc.setOptionUseKerberos(ctx, 0);
    smbc.setOptionFallbackAfterKerberos(ctx, 0);
    smbc.setPort(ctx, (uint16_t)atoi(SMBD.port));
    if (!smbc.init_context(ctx)) {
        atomic_store(&c->ready, -1);
        _exit(2);
    }
    smbc.setOptionProtocols(ctx, "SMB2_02", "SMB3");
    for (unsigned next_seen = 0;;) {
        char names[SWEEP_NAMES_MAX][STORE_FILE_NAME_MAX + 1];
        const struct libsmb_file_info *fi;
        struct stat s;
        int n = 0;
        SMBCFILE *d = smbc.getFunctionOpendir(ctx)(ctx, dir_url);

        if (!d && atomic_load(&c->ready) == 0) {
            atomic_store(&c->ready, -1);
            _exit(2);
        }
        if (!d) {
            sleep_ms(1);
            continue;
        }
        atomic_store(&c->ready, 1);
        /* only empty ones: a placeholder (holding the lock moved aside would make its removal
         * busy, a different matter: no ccs client opens another's temporary files) */
        while ((fi = smbc.getFunctionReaddirPlus2(ctx)(ctx, d, &s)) != NULL)
            if (n < SWEEP_NAMES_MAX && store_is_temp_name(fi->name) && s.st_size == 0 &&
                !sweep_seen(fi->name))
                snprintf(names[n++], sizeof(names[0]), "%s", fi->name);
        smbc.getFunctionClosedir(ctx)(ctx, d);
        atomic_fetch_add(&c->listings, 1);
        for (int i = 0; i < n; i++) {
            char url[PATH_MAX + 2 * STORE_FILE_NAME_MAX];
            SMBCFILE *fh;

            snprintf(SWEEP_SEEN[next_seen++ % SWEEP_SEEN_MAX], sizeof(SWEEP_SEEN[0]), "%s",
                     names[i]);
            snprintf(url, sizeof(url), "%s/%s", dir_url, names[i]);
            fh = smbc.getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0);
            if (!fh)
                continue;
            atomic_fetch_add(&c->held, 1);
            if (smbc.getFunctionFstat(ctx)(ctx, fh, &s) == 0 && s.st_size == 0) {
                atomic_fetch_add(&c->held_empty, 1);
                sleep_ms(SWEEP_HOLD_MS);
            }
            smbc.getFunctionClose(ctx)(ctx, fh);
        }
    }
}

/* A failed release's error: 1 the one this case is about (the lock could not be moved aside), 0
 * the sweeping child's own doing (see below), -1 anything else. */
static int sweep_failure_kind(const char *msg)
{
    if (strstr(msg, "cannot move .ccs-lock aside"))
        return 1;
    /* The child opens an empty .ccs-tmp-* and holds it only while it is still empty, but the
     * lock can be moved onto it between its listing and its open: it then holds the moved lock
     * for a round trip, without delete sharing (libsmbclient's open cannot share delete), and the
     * lease's removal of it finds it busy — a failure too: smb_remove retries a busy file. */
    if (strstr(msg, ".ccs-tmp-lease-") && strstr(msg, "cannot remove: Device or resource busy"))
        return 0;
    return -1;
}

static void test_smb_lease_release_under_sweep(void **state)
{
    struct sweep_counts *c =
        mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char aside_error[ERRBUF_SIZE] = "", other_error[ERRBUF_SIZE] = "", lock_path[PATH_MAX + 16];
    char dir_url[PATH_MAX + 64];
    struct backend_location loc;
    struct store *st = NULL;
    struct errbuf err = {""};
    int rounds = 0, aside_failures = 0, busy_removals = 0, other_failures = 0, ready, status = 0;
    long long start, elapsed = 0;
    long held_empty;
    pid_t pid;
    (void)state;

    assert_true(c != MAP_FAILED);
    memset(c, 0, sizeof(*c));
    assert_int_equal(make_smb(&loc), 0);
    snprintf(lock_path, sizeof(lock_path), "%s/.ccs-lock", loc.backing_dir);
    /* the port goes in by smbc_setPort, as the backend does */
    snprintf(dir_url, sizeof(dir_url), "smb://127.0.0.1/rw/%s", strrchr(loc.backing_dir, '/') + 1);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        sweep_child(dir_url, c);
    /* From here on nothing may fail before the child is killed. */
    start = now_ms();
    while ((ready = atomic_load(&c->ready)) == 0 && now_ms() - start < EVENT_DEADLINE_MS)
        sleep_ms(5);
    if (ready != 1) {
        other_failures++;
        snprintf(other_error, sizeof(other_error), "the sweeping child could not list %s", dir_url);
    } else if (store_open(loc.location, &loc.opts, &st, &err) < 0) {
        other_failures++;
        snprintf(other_error, sizeof(other_error), "open: %s", err.msg);
    } else {
        start = now_ms();
        for (; rounds < SWEEP_ROUNDS && now_ms() - start < SWEEP_PARENT_MAX_MS; rounds++) {
            int kind;

            if (store_lock(st, &err) < 0) {
                if (other_failures++ == 0)
                    snprintf(other_error, sizeof(other_error), "lock: %s", err.msg);
                continue;
            }
            if (store_unlock(st, &err) == 0)
                continue;
            kind = sweep_failure_kind(err.msg);
            if (kind == 1 && aside_failures++ == 0)
                snprintf(aside_error, sizeof(aside_error), "release: %s", err.msg);
            busy_removals += kind == 0;
            if (kind < 0 && other_failures++ == 0)
                snprintf(other_error, sizeof(other_error), "release: %s", err.msg);
            unlink(lock_path); /* a release that failed may leave it: clear it for the next round */
        }
        elapsed = now_ms() - start;
        store_close(st);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    held_empty = atomic_load(&c->held_empty);
    print_message("smb lease under a sweep: %d rounds in %lld ms; releases failed: %d could not "
                  "move the lock aside, %d found the moved lock busy, %d other failures; the "
                  "sweep listed %ld times, held %ld placeholders open\n",
                  rounds, elapsed, aside_failures, busy_removals, other_failures,
                  atomic_load(&c->listings), held_empty);
    munmap(c, sizeof(*c));
    destroy_smb(&loc);
    if (aside_failures)
        fail_msg("%d of %d releases failed: %s", aside_failures, rounds, aside_error);
    if (other_failures)
        fail_msg("%s", other_error);
    if (busy_removals)
        fail_msg("%d of %d releases could not remove the moved lock (busy)", busy_removals, rounds);
    /* the race really happened: the sweep held placeholders open while releases went on */
    assert_true(held_empty > 0);
}

/* ---- the matrix ------------------------------------------------------------------------------ */

struct conformance_case {
    const char *name;
    CMUnitTestFunction run;
};

static const struct conformance_case CASES[] = {
    {"declares its capabilities", test_declares_its_capabilities},
    {"atomic replace under a concurrent reader", test_atomic_replace_concurrent_reader},
    {"missing vs unreadable", test_missing_vs_unreadable},
    {"symbolic links refused", test_symlink_refused},
    {"lock between processes", test_lock_between_processes},
    {"lock between threads of one store", test_lock_between_threads},
    {"temp files never listed as *.pfx", test_temp_never_listed_as_pfx},
    {"change events, default watch", test_change_events_default},
    {"change events, polling watch", test_change_events_polling},
    {"write options honest", test_write_options_honest},
    {"remove and stat", test_remove_and_stat},
};
#define CASE_COUNT (sizeof(CASES) / sizeof(CASES[0]))

int main(void)
{
    static struct CMUnitTest tests[ROW_COUNT * CASE_COUNT + 4];
    static char names[ROW_COUNT * CASE_COUNT][128];
    size_t n = 0;

    for (size_t r = 0; r < ROW_COUNT; r++)
        for (size_t c = 0; c < CASE_COUNT; c++, n++) {
            snprintf(names[n], sizeof(names[n]), "%s: %s", ROWS[r].name, CASES[c].name);
            tests[n] =
                (struct CMUnitTest){names[n], CASES[c].run, setup, teardown, (void *)&ROWS[r]};
        }
    tests[n++] = (struct CMUnitTest){"smb locations never show credentials",
                                     test_smb_location_display, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"smb credentials never shown (real server)",
                                     test_smb_credentials_never_shown, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"smb server that never answers: timed out",
                                     test_smb_silent_server_times_out, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"smb lease release while a sweep holds temp files open",
                                     test_smb_lease_release_under_sweep, NULL, NULL, NULL};
    return _cmocka_run_group_tests("backend_conformance", tests, n, NULL, NULL);
}
