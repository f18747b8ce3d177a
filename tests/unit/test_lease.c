/* Unit tests for src/store/lease.c: the lease lock file, driven through store.h as its users do
 * (store_open with STORE_LOCK_LEASE, store_lock / store_lock_keepalive / store_unlock).
 *
 * Leases are 1-2 s so the whole file runs in a few seconds; the waits are exact where the lease
 * rules make them exact (a lease is expired when now > expires, in whole seconds). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "store/backend.h" /* only to interpose on rename_noreplace: see "races made to happen" */
#include "store/store.h"

#define FOREIGN_TOKEN "0123456789abcdef0123456789abcdef"
#define SECOND_TOKEN "22222222222222222222222222222222"
#define THIRD_TOKEN "33333333333333333333333333333333"
/* How long a contender stays inside the lock: long enough that a broken lock shows as overlap. */
#define INSIDE_MS 20

struct fixture {
    char dir[64];
    char log[80]; /* outside the store: the enter/leave record of the exclusion tests */
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Unix seconds from CLOCK_REALTIME, the clock lease.c reads (time(2) may lag it by a tick). */
static long long now_s(void)
{
    return real_ns() / 1000000000LL;
}

/* Sleep until the wall clock's whole seconds reach SECONDS. */
static void sleep_until_second(long long seconds)
{
    while (now_s() < seconds)
        sleep_ms(20);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int fd;

    snprintf(f->dir, sizeof(f->dir), "/tmp/ccs-lease-XXXXXX");
    snprintf(f->log, sizeof(f->log), "/tmp/ccs-lease-log-XXXXXX");
    if (!mkdtemp(f->dir) || (fd = mkstemp(f->log)) < 0)
        return -1;
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    char path[400];

    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    unlink(f->log);
    free(f);
    return 0;
}

static struct store *open_lease_store(const char *dir, unsigned seconds)
{
    struct store *st = NULL;
    struct errbuf err = {""};
    const struct store_open_options opts = {.lock = STORE_LOCK_LEASE, .lease_seconds = seconds};

    if (store_open(dir, &opts, &st, &err) < 0)
        fail_msg("store_open %s: %s", dir, err.msg);
    assert_int_equal(store_lock_kind(st), STORE_LOCK_LEASE);
    return st;
}

static void lock_or_fail(struct store *st)
{
    struct errbuf err = {""};
    if (store_lock(st, &err) < 0)
        fail_msg("store_lock: %s", err.msg);
}

static void unlock_or_fail(struct store *st)
{
    struct errbuf err = {""};
    if (store_unlock(st, &err) < 0)
        fail_msg("store_unlock: %s", err.msg);
}

static void lock_path(const struct fixture *f, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->dir, STORE_LOCK_FILE);
}

/* The lock file's text ("" when there is none). */
static void read_lock(const struct fixture *f, char *out, size_t size)
{
    char path[128];
    FILE *fp;
    size_t n = 0;

    lock_path(f, path, sizeof(path));
    fp = fopen(path, "r");
    if (fp) {
        n = fread(out, 1, size - 1, fp);
        fclose(fp);
    }
    out[n] = '\0';
}

/* The number after "KEY " in the lock file; fails the test when absent. */
static long long lock_field(const struct fixture *f, const char *key)
{
    char text[4096], pattern[64], *at;

    read_lock(f, text, sizeof(text));
    snprintf(pattern, sizeof(pattern), "\n%s ", key);
    at = strstr(text, pattern);
    if (!at)
        fail_msg("lock file has no \"%s\" line: \"%s\"", key, text);
    return strtoll(at + strlen(pattern), NULL, 10);
}

static void write_lock(const struct fixture *f, const char *text)
{
    char path[128];
    FILE *fp;

    lock_path(f, path, sizeof(path));
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* A lock file in the format lease.c writes, as another machine's writer would leave it. */
static void format_lease(const char *token, long long expires, char *out, size_t size)
{
    snprintf(out, size,
             "ccs-lease 1\nhost elsewhere\npid 4242\ntoken %s\nacquired %lld\nexpires %lld\n",
             token, expires - 2, expires);
}

static void write_foreign_lease(const struct fixture *f, long long expires)
{
    char text[512];
    format_lease(FOREIGN_TOKEN, expires, text, sizeof(text));
    write_lock(f, text);
}

static int lock_exists(const struct fixture *f)
{
    char path[128];
    struct stat s;
    lock_path(f, path, sizeof(path));
    return lstat(path, &s) == 0;
}

/* Temp files left in the store (a lock file moved aside and never removed, say). */
static int debris_count(const struct fixture *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, STORE_TEMP_PREFIX, strlen(STORE_TEMP_PREFIX)) == 0)
            n++;
    closedir(d);
    return n;
}

static void keepalive_or_fail(struct store *st)
{
    struct errbuf err = {""};
    if (store_lock_keepalive(st, &err) < 0)
        fail_msg("store_lock_keepalive: %s", err.msg);
}

/* Unlock, and see the lock file gone and nothing left behind. */
static void unlock_and_close_clean(const struct fixture *f, struct store *st)
{
    unlock_or_fail(st);
    assert_false(lock_exists(f));
    assert_int_equal(debris_count(f), 0);
    store_close(st);
}

/* ---- exclusion between processes --------------------------------------------------------------
 */

static int append_line(const char *log, char what)
{
    char line[32];
    int fd = open(log, O_WRONLY | O_APPEND);
    int n = snprintf(line, sizeof(line), "%c %ld\n", what, (long)getpid());
    int ok = fd >= 0 && write(fd, line, (size_t)n) == n;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* A child: wait for the start signal, then ROUNDS times lock, record enter, stay, record leave,
 * unlock. Exits 0 on success, 1 on any error (printed). */
static void contender(const struct fixture *f, unsigned lease, int rounds, int start_fd)
{
    struct store *st = NULL;
    struct errbuf err = {""};
    const struct store_open_options opts = {.lock = STORE_LOCK_LEASE, .lease_seconds = lease};
    char c;

    if (read(start_fd, &c, 1) < 0 || store_open(f->dir, &opts, &st, &err) < 0)
        goto fail;
    for (int i = 0; i < rounds; i++) {
        if (store_lock(st, &err) < 0 || append_line(f->log, 'E') < 0)
            goto fail;
        sleep_ms(INSIDE_MS);
        if (store_lock_keepalive(st, &err) < 0 || append_line(f->log, 'L') < 0 ||
            store_unlock(st, &err) < 0)
            goto fail;
    }
    store_close(st);
    _exit(0);
fail:
    fprintf(stderr, "contender %ld: %s\n", (long)getpid(), err.msg);
    _exit(1);
}

/* Run NPROC contenders released at once; check the record: every enter followed by the same
 * process's leave, NPROC * ROUNDS times. */
static void run_contenders(const struct fixture *f, unsigned lease, int nproc, int rounds)
{
    int start[2];
    pid_t pids[8];
    char line[64], what;
    long pid, entered = 0;
    int pairs = 0;
    FILE *fp;

    assert_true(nproc <= 8);
    assert_int_equal(pipe(start), 0);
    for (int i = 0; i < nproc; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(start[1]);
            contender(f, lease, rounds, start[0]);
        }
    }
    close(start[0]);
    close(start[1]); /* EOF: every child starts now */
    for (int i = 0; i < nproc; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    fp = fopen(f->log, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        assert_int_equal(sscanf(line, "%c %ld", &what, &pid), 2);
        if (what == 'E') {
            if (entered)
                fail_msg("process %ld entered while %ld was inside", pid, entered);
            entered = pid;
        } else {
            assert_int_equal(pid, entered);
            entered = 0;
            pairs++;
        }
    }
    fclose(fp);
    assert_int_equal(entered, 0);
    assert_int_equal(pairs, nproc * rounds);
}

static void test_processes_exclude_each_other(void **state)
{
    struct fixture *f = *state;

    run_contenders(f, 2, 3, 5);
    assert_false(lock_exists(f));
    assert_int_equal(debris_count(f), 0);
}

/* Several waiters find one expired lease at the same moment: it is broken once and they still take
 * turns (the take-and-compare of lease.c, not luck, decides). */
static void test_racing_breakers_exclude_each_other(void **state)
{
    struct fixture *f = *state;

    write_foreign_lease(f, now_s() - 10);
    run_contenders(f, 2, 6, 1);
    assert_false(lock_exists(f));
    assert_int_equal(debris_count(f), 0);
}

/* ---- breaking and waiting ---------------------------------------------------------------------
 */

static void test_dead_holders_expired_lease_is_broken(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    char text[4096];
    long long t0;

    write_foreign_lease(f, now_s() - 10);
    t0 = mono_ms();
    lock_or_fail(st);
    assert_true(mono_ms() - t0 < 500); /* no waiting for a lease that is over */
    read_lock(f, text, sizeof(text));
    assert_null(strstr(text, FOREIGN_TOKEN));
    assert_int_equal(lock_field(f, "pid"), (long long)getpid());
    assert_true(lock_field(f, "expires") >= now_s() + 1);
    unlock_and_close_clean(f, st);
}

static void test_foreign_unexpired_lease_blocks_until_expiry(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    char text[4096];
    long long expires;

    /* A lease that runs to the end of this second: unexpired for at least 300 ms from here. */
    if (real_ns() % 1000000000LL > 700000000LL)
        sleep_until_second(now_s() + 1);
    expires = now_s();
    write_foreign_lease(f, expires);
    lock_or_fail(st);
    /* Taken only once the lease is over by the rule "now > expires"... */
    assert_true(now_s() > expires);
    /* ...and promptly: the waiter wakes when the lease it saw runs out. */
    assert_true(real_ns() - (expires + 1) * 1000000000LL < 200000000LL);
    read_lock(f, text, sizeof(text));
    assert_null(strstr(text, FOREIGN_TOKEN));
    assert_int_equal(lock_field(f, "pid"), (long long)getpid());
    unlock_or_fail(st);
    store_close(st);
}

/* A child waiting for the parent's lease gets it only after the parent released it. */
static void test_held_lease_blocks_another_process(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    int ready[2], done[2];
    long long released, child_got;
    pid_t pid;
    int status;
    char c;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    lock_or_fail(st);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *mine = NULL;
        struct errbuf err = {""};
        const struct store_open_options opts = {.lock = STORE_LOCK_LEASE, .lease_seconds = 2};
        long long got;
        if (store_open(f->dir, &opts, &mine, &err) < 0 || write(ready[1], "r", 1) != 1 ||
            store_lock(mine, &err) < 0)
            _exit(1);
        got = mono_ms();
        if (write(done[1], &got, sizeof(got)) != sizeof(got) || store_unlock(mine, &err) < 0)
            _exit(1);
        store_close(mine);
        _exit(0);
    }
    assert_int_equal(read(ready[0], &c, 1), 1);
    sleep_ms(500); /* the child is waiting now, and must keep waiting */
    released = mono_ms();
    unlock_or_fail(st);
    assert_int_equal(read(done[0], &child_got, sizeof(child_got)), sizeof(child_got));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(child_got >= released);
    /* ...and promptly: the waiter's backoff is at most 1 s (lease.c). */
    assert_true(child_got - released < 1500);
    printf("waiter took the lease %lld ms after its release\n", child_got - released);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(done[i]);
    }
    store_close(st);
}

/* ---- keepalive --------------------------------------------------------------------------------
 */

static void test_keepalive_renews(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    struct errbuf err = {""};
    long long first, acquired;

    lock_or_fail(st);
    first = lock_field(f, "expires");
    acquired = lock_field(f, "acquired");
    assert_int_equal(store_lock_keepalive(st, &err), 0);
    assert_int_equal(lock_field(f, "expires"), first); /* fresh: nothing to do yet */
    sleep_until_second(acquired + 1);                  /* more than a third of 2 s */
    keepalive_or_fail(st);
    assert_true(lock_field(f, "expires") > first);
    assert_int_equal(lock_field(f, "acquired"), acquired);
    unlock_and_close_clean(f, st);
}

/* A lease that ran out while nobody wanted it is renewed (taken and created afresh). */
static void test_keepalive_after_expiry_renews_when_unbroken(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 1);
    long long expires;

    lock_or_fail(st);
    expires = lock_field(f, "expires");
    sleep_until_second(expires + 1);
    keepalive_or_fail(st);
    assert_true(lock_field(f, "expires") > expires);
    assert_int_equal(lock_field(f, "pid"), (long long)getpid());
    unlock_and_close_clean(f, st);
}

static void test_stolen_lease_is_lost(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    struct errbuf err = {""};
    char text[4096];
    long long acquired;

    lock_or_fail(st);
    acquired = lock_field(f, "acquired");
    write_foreign_lease(f, now_s() + 30);
    sleep_until_second(acquired + 1);
    assert_int_equal(store_lock_keepalive(st, &err), -1);
    if (!strstr(err.msg, "lost") || !strstr(err.msg, f->dir) || !strstr(err.msg, "elsewhere"))
        fail_msg("keepalive message: \"%s\"", err.msg);
    err.msg[0] = '\0';
    assert_int_equal(store_unlock(st, &err), -1);
    if (!strstr(err.msg, "lost"))
        fail_msg("unlock message: \"%s\"", err.msg);
    /* The other writer's lock file is untouched. */
    read_lock(f, text, sizeof(text));
    assert_non_null(strstr(text, FOREIGN_TOKEN));
    /* The store is usable again once the other lease is gone. */
    write_foreign_lease(f, now_s() - 10);
    lock_or_fail(st);
    unlock_or_fail(st);
    store_close(st);
}

static void test_removed_lease_is_lost(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    struct errbuf err = {""};
    char path[128];

    lock_or_fail(st);
    lock_path(f, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(store_unlock(st, &err), -1);
    if (!strstr(err.msg, "lost") || !strstr(err.msg, "gone"))
        fail_msg("unlock message: \"%s\"", err.msg);
    store_close(st);
}

/* ---- a lock file that does not parse ----------------------------------------------------------
 */

static void test_garbage_lock_file_held_until_older_than_lease(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 1);
    char path[128];
    struct stat s;
    long long mtime_ns, got_ns;

    write_lock(f, "not a lease at all\n");
    lock_path(f, path, sizeof(path));
    /* Written half a lease ago, so the wait is short. */
    {
        long long half_ago = real_ns() - 500000000LL;
        struct timespec t[2] = {
            {.tv_sec = half_ago / 1000000000LL, .tv_nsec = half_ago % 1000000000LL},
            {.tv_sec = half_ago / 1000000000LL, .tv_nsec = half_ago % 1000000000LL}};
        assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
    }
    assert_int_equal(stat(path, &s), 0);
    mtime_ns = (long long)s.st_mtim.tv_sec * 1000000000LL + s.st_mtim.tv_nsec;
    lock_or_fail(st);
    got_ns = real_ns();
    assert_true(got_ns - mtime_ns > 1000000000LL); /* older than the 1 s lease when broken */
    assert_true(got_ns - mtime_ns < 1200000000LL); /* and promptly */
    assert_int_equal(lock_field(f, "pid"), (long long)getpid());
    unlock_or_fail(st);
    assert_int_equal(debris_count(f), 0);
    store_close(st);
}

static void test_old_garbage_lock_file_is_broken_at_once(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_lease_store(f->dir, 2);
    char path[128];
    struct timespec old[2] = {{.tv_sec = time(NULL) - 100}, {.tv_sec = time(NULL) - 100}};
    long long t0;

    write_lock(f, "ccs-lease 1\ntoken torn-in-the-middl");
    lock_path(f, path, sizeof(path));
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    t0 = mono_ms();
    lock_or_fail(st);
    assert_true(mono_ms() - t0 < 500);
    unlock_or_fail(st);
    assert_false(lock_exists(f));
    store_close(st);
}

/* ---- races made to happen ----------------------------------------------------------------------
 * The moments between reading a lock file and renaming it aside, and between renaming it aside and
 * putting it back, are too short to hit by chance. These tests open a real store and wrap its
 * backend's rename_noreplace so that another writer's move happens exactly there: they know that
 * lease.c takes a lock file by renaming STORE_LOCK_FILE aside and puts one back by renaming to it.
 */

static const struct store_backend_ops *real_ops;
static struct store_backend_ops racing_ops;
static char race_dir[64];
static char plant_before_aside[512];    /* lock file another writer puts in place just before */
static char plant_before_put_back[512]; /* ...and just before a put-back */

/* Another writer's lock file replaces whatever STORE_LOCK_FILE is (or creates it). */
static void plant(char *text)
{
    char tmp[128], lock[128];
    FILE *fp;

    snprintf(tmp, sizeof(tmp), "%s/planted", race_dir);
    snprintf(lock, sizeof(lock), "%s/%s", race_dir, STORE_LOCK_FILE);
    fp = fopen(tmp, "w");
    if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0 || rename(tmp, lock) != 0)
        abort();
    text[0] = '\0'; /* once */
}

static int racing_rename(struct store *st, const char *from, const char *to, int *exists,
                         int *missing, struct errbuf *err)
{
    if (strcmp(from, STORE_LOCK_FILE) == 0 && plant_before_aside[0])
        plant(plant_before_aside);
    else if (strcmp(to, STORE_LOCK_FILE) == 0 && plant_before_put_back[0])
        plant(plant_before_put_back);
    return real_ops->rename_noreplace(st, from, to, exists, missing, err);
}

static struct store *open_racing_store(const struct fixture *f)
{
    struct store *st = open_lease_store(f->dir, 2);

    snprintf(race_dir, sizeof(race_dir), "%s", f->dir);
    real_ops = st->ops;
    racing_ops = *st->ops;
    racing_ops.rename_noreplace = racing_rename;
    st->ops = &racing_ops;
    return st;
}

static void close_racing_store(struct store *st)
{
    st->ops = real_ops;
    store_close(st);
    plant_before_aside[0] = plant_before_put_back[0] = '\0';
}

/* store_lock() in a thread, held until the test says release (the writers' lock is a mutex of
 * the thread that took it, so the same thread unlocks). */
struct locker {
    struct store *st;
    atomic_int locked, release;
    int lock_rc, unlock_rc;
    char error[ERRBUF_SIZE];
};

static void *lock_in_thread(void *p)
{
    struct locker *l = p;
    struct errbuf err = {""};

    l->lock_rc = store_lock(l->st, &err);
    atomic_store(&l->locked, 1);
    if (l->lock_rc == 0) {
        while (!atomic_load(&l->release))
            sleep_ms(5);
        l->unlock_rc = store_unlock(l->st, &err);
    }
    snprintf(l->error, sizeof(l->error), "%s", err.msg);
    return NULL;
}

/* Start store_lock() in a thread, see it still waiting after a while with the lock file carrying
 * TOKEN and no debris, then release that lock file as its holder would and see the lock taken. */
static void expect_waiting_behind(struct fixture *f, struct store *st, const char *token)
{
    struct locker l = {.st = st};
    pthread_t thread;
    char text[4096], path[128];
    long long give_up;
    int got;

    assert_int_equal(pthread_create(&thread, NULL, lock_in_thread, &l), 0);
    sleep_ms(300);
    read_lock(f, text, sizeof(text));
    lock_path(f, path, sizeof(path));
    if (atomic_load(&l.locked) || !strstr(text, token) || debris_count(f) != 0) {
        atomic_store(&l.release, 1);
        pthread_join(thread, NULL);
        fail_msg("should wait behind %s: locked %d, lock file \"%s\", %d temp files", token,
                 atomic_load(&l.locked), text, debris_count(f));
    }
    assert_int_equal(unlink(path), 0);
    for (give_up = mono_ms() + 3000; !atomic_load(&l.locked) && mono_ms() < give_up;)
        sleep_ms(5);
    got = atomic_load(&l.locked) && l.lock_rc == 0;
    if (got)
        assert_int_equal(lock_field(f, "pid"), (long long)getpid());
    atomic_store(&l.release, 1);
    assert_int_equal(pthread_join(thread, NULL), 0);
    if (!got || l.lock_rc != 0 || l.unlock_rc != 0)
        fail_msg("store_lock %d, store_unlock %d: %s", l.lock_rc, l.unlock_rc, l.error);
}

/* Another breaker removed the expired lease and created a fresh one just before we renamed the
 * lock file aside: we took the fresh one, must see it is not what we judged, and put it back. */
static void test_breaker_puts_back_a_fresh_lease_it_took(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_racing_store(f);

    write_foreign_lease(f, now_s() - 10);
    format_lease(SECOND_TOKEN, now_s() + 30, plant_before_aside, sizeof(plant_before_aside));
    expect_waiting_behind(f, st, SECOND_TOKEN);
    assert_int_equal(plant_before_aside[0], '\0'); /* the race did happen */
    close_racing_store(st);
}

/* As above, and a third writer created a lock file while the fresh lease was aside: the put-back
 * fails, the aside file is removed (its holder learns at keepalive), the third one holds. */
static void test_put_back_blocked_by_a_newer_lock(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_racing_store(f);

    write_foreign_lease(f, now_s() - 10);
    format_lease(SECOND_TOKEN, now_s() + 30, plant_before_aside, sizeof(plant_before_aside));
    format_lease(THIRD_TOKEN, now_s() + 30, plant_before_put_back, sizeof(plant_before_put_back));
    expect_waiting_behind(f, st, THIRD_TOKEN);
    assert_int_equal(plant_before_put_back[0], '\0');
    close_racing_store(st);
}

/* Our lease was broken and replaced just as we released it: release must not remove the other
 * writer's lease, and must say ours was lost. */
static void test_release_never_removes_a_lease_that_replaced_ours(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_racing_store(f);
    struct errbuf err = {""};
    char text[4096];

    lock_or_fail(st);
    format_lease(SECOND_TOKEN, now_s() + 30, plant_before_aside, sizeof(plant_before_aside));
    assert_int_equal(store_unlock(st, &err), -1);
    if (!strstr(err.msg, "lost"))
        fail_msg("unlock message: \"%s\"", err.msg);
    assert_int_equal(plant_before_aside[0], '\0');
    read_lock(f, text, sizeof(text));
    assert_non_null(strstr(text, SECOND_TOKEN));
    assert_int_equal(debris_count(f), 0);
    close_racing_store(st);
}

/* ---- threads: two store handles in one process exclude each other through the file ---------- */

struct thread_arg {
    const char *dir;
    atomic_int *inside;
    atomic_int *overlaps;
    char error[ERRBUF_SIZE];
};

static void *thread_contender(void *p)
{
    struct thread_arg *a = p;
    struct store *st = NULL;
    struct errbuf err = {""};
    const struct store_open_options opts = {.lock = STORE_LOCK_LEASE, .lease_seconds = 2};

    if (store_open(a->dir, &opts, &st, &err) < 0)
        goto out;
    for (int i = 0; i < 5; i++) {
        if (store_lock(st, &err) < 0)
            goto out;
        if (atomic_fetch_add(a->inside, 1) != 0)
            atomic_fetch_add(a->overlaps, 1);
        sleep_ms(5);
        atomic_fetch_sub(a->inside, 1);
        if (store_unlock(st, &err) < 0)
            goto out;
    }
    err.msg[0] = '\0';
out:
    snprintf(a->error, sizeof(a->error), "%s", err.msg);
    store_close(st);
    return NULL;
}

static void test_two_handles_in_threads_exclude_each_other(void **state)
{
    struct fixture *f = *state;
    atomic_int inside = 0, overlaps = 0;
    struct thread_arg args[2] = {{f->dir, &inside, &overlaps, ""},
                                 {f->dir, &inside, &overlaps, ""}};
    pthread_t threads[2];

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, thread_contender, &args[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (args[i].error[0])
            fail_msg("thread %d: %s", i, args[i].error);
    }
    assert_int_equal(atomic_load(&overlaps), 0);
    assert_false(lock_exists(f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_processes_exclude_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_breakers_exclude_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_holders_expired_lease_is_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_unexpired_lease_blocks_until_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_held_lease_blocks_another_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_renews, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_after_expiry_renews_when_unbroken, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stolen_lease_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_lease_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_lock_file_held_until_older_than_lease, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_old_garbage_lock_file_is_broken_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_breaker_puts_back_a_fresh_lease_it_took, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_back_blocked_by_a_newer_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_never_removes_a_lease_that_replaced_ours,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_in_threads_exclude_each_other, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
