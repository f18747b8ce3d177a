/* backend_smb.c — a store in a folder on an SMB share, through libsmbclient (no mount, no root).
 *
 * Capabilities: change notification only (SMB2 CHANGE_NOTIFY, below). No POSIX modes (the share's
 * own permissions apply), no durable sync (the server decides), no symbolic links (the server
 * resolves them; ccs never sees one), and no atomic replace: libsmbclient 4.17's smbc_rename
 * renames without ReplaceIfExists and, when the target exists, unlinks it and renames again
 * (source3/libsmb/libsmb_dir.c, SMBC_rename_ctx; cli_rename(..., replace=false)). The public API
 * has no other rename, so a reader may find no file for one round trip to the server; the
 * torn-read test over SMB measures how often (tests/e2e/test_smb_torn_reads.sh).
 *
 * Locking: no handle lock reaches other machines, so the store uses the core's lease lock file
 * (lease.c). Its rename_noreplace is built here from what is atomic on SMB (see
 * smb_rename_noreplace).
 *
 * Threads: libsmbclient is not thread-safe, not even with one context per thread (field notes §7:
 * two threads with their own contexts crashed in talloc). Every libsmbclient call in this process
 * therefore runs under one process-wide mutex (LIB_MUTEX), inside the store's own I/O mutex, so the
 * lock order is always store I/O mutex, then LIB_MUTEX (then libtevent's own, inside the library).
 * The notification helper is forked holding LIB_MUTEX, so it never inherits libsmbclient half-way
 * through a call. (Not with pthread_atfork: libtevent's fork handler takes its mutex before any
 * handler registered earlier, which inverts that order — TSan saw it.) Any other fork() while a
 * thread is inside libsmbclient gives a child that must exec before using a store.
 *
 * Transport security: SMB2 or later only (smbc_setOptionProtocols). Signing is required: the one
 * way libsmbclient's public API asks for required signing is an encryption level above "none"
 * (SMBC_server_internal sets SMB_SIGNING_REQUIRED then), so by default ccs asks for encryption
 * when the server offers it, which also signs every message. `encrypt = yes` requires encryption;
 * as libsmbclient 4.17 does not refuse a server that cannot encrypt (it prints a line and goes on
 * unencrypted), the server is asked first (smb_probe.c) and refused here when it cannot.
 * Guest access cannot sign (there is no session key): `guest = yes` drops the requirement.
 *
 * Errors name the store and say which of: server unreachable, authentication failed, share not
 * found, directory not found, access denied, disk full, timed out (SMB_FAILURE_TEXT). */
#include "store/backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "store/names.h"
#include "store/smb_lib.h"
#include "store/smb_location.h"
#include "store/smb_probe.h"
#include "util/credfile.h"
#include "util/log.h"

/* The systemd credential holding a Samba credentials file (LoadCredential=ccs-smb-credentials:...).
 */
#define SMB_CREDENTIAL_NAME "ccs-smb-credentials"
/* Longest URL built: scheme, host, port, share, folder and a file name, percent-encoded. */
#define SMB_URL_MAX (3 * (SMB_HOST_MAX + SMB_SHARE_MAX + SMB_DIR_MAX + STORE_FILE_NAME_MAX) + 32)
/* SMB2 and later: libsmbclient's names for the lowest and highest dialect. */
#define SMB_MIN_PROTOCOL "SMB2_02"
#define SMB_MAX_PROTOCOL "SMB3"
/* A busy target (a reader has it open without delete sharing) is retried for up to 10 s: first
 * after 5 ms, doubling to at most 100 ms, with jitter so that the retry does not beat in step with
 * a reader's loop. A reader of a few-KiB PFX holds it for a round trip or two; 10 s outlasts any
 * reader that is not holding the file open for good (then the deploy fails, saying so). */
#define RENAME_BUSY_TOTAL_MS 10000
#define RENAME_BUSY_FIRST_MS 5
#define RENAME_BUSY_MAX_MS 100
#define NS_PER_MS 1000000L
/* Writes go out in pieces of this size, LIB_MUTEX let go between them (a PFX is a few KiB: one). */
#define WRITE_CHUNK (64u << 10)

/* LeakSanitizer (the ASan builds) reads this at start: libsmbclient 4.17 leaks its log file name
 * each time its module set-up runs again after the last context was freed (smbc_new_context ->
 * reopen_logs -> debug_set_logfile, a talloc_strdup never freed). Not ours, nothing to free from
 * here. LSan's default fast unwinder stops inside libtalloc (built without frame pointers), so the
 * suppression names the library: ccs itself never calls talloc. Unused in other builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libtalloc.so\n";
}

/* ... and without its "Suppressions used" table on stderr at every exit, which would land in the
 * output that tests read (a JSON report beside its messages). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* ---- failures ------------------------------------------------------------------------------- */

enum smb_failure {
    SMB_FAIL_UNREACHABLE,
    SMB_FAIL_AUTH,
    SMB_FAIL_NO_SHARE,
    SMB_FAIL_NO_DIR,
    SMB_FAIL_DENIED,
    SMB_FAIL_FULL,
    SMB_FAIL_TIMEOUT,
    SMB_FAIL_OTHER,
};

/* What a message says, word for word: store_error_is_transient() and users' scripts match it. */
static const char *const SMB_FAILURE_TEXT[] = {
    [SMB_FAIL_UNREACHABLE] = "server unreachable",
    [SMB_FAIL_AUTH] = "authentication failed",
    [SMB_FAIL_NO_SHARE] = "share not found",
    [SMB_FAIL_NO_DIR] = "directory not found",
    [SMB_FAIL_DENIED] = "access denied",
    [SMB_FAIL_FULL] = "disk full",
    [SMB_FAIL_TIMEOUT] = "timed out",
    [SMB_FAIL_OTHER] = "failed",
};

int store_error_is_transient(const struct errbuf *err)
{
    return strstr(err->msg, SMB_FAILURE_TEXT[SMB_FAIL_UNREACHABLE]) != NULL ||
           strstr(err->msg, SMB_FAILURE_TEXT[SMB_FAIL_TIMEOUT]) != NULL;
}

/* The kind of failure an errno from a file operation means. */
static enum smb_failure failure_of(int e)
{
    switch (e) {
    case ETIMEDOUT:
        return SMB_FAIL_TIMEOUT;
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ENOTSOCK:
    case EBADF:
        return SMB_FAIL_UNREACHABLE;
    case EACCES:
    case EPERM:
    case EROFS:
        return SMB_FAIL_DENIED;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return SMB_FAIL_FULL;
    default:
        return SMB_FAIL_OTHER;
    }
}

/* ---- the store ------------------------------------------------------------------------------ */

struct smb_store {
    SMBCCTX *ctx;
    struct smb_location loc;
    struct credentials creds;
    int kerberos, guest, encrypt;
    unsigned timeout_ms;
    char url[SMB_URL_MAX]; /* the folder */
};

static pthread_mutex_t LIB_MUTEX = PTHREAD_MUTEX_INITIALIZER;

static void lib_lock(void)
{
    pthread_mutex_lock(&LIB_MUTEX);
}

static void lib_unlock(void)
{
    pthread_mutex_unlock(&LIB_MUTEX);
}

/* Between two libsmbclient calls of one operation: let another thread's call in (a store's
 * readers and writers on other store objects interleave as they would from other processes). */
static void lib_yield(void)
{
    pthread_mutex_unlock(&LIB_MUTEX);
    sched_yield();
    pthread_mutex_lock(&LIB_MUTEX);
}

static struct smb_store *smb_of(struct store *st)
{
    return st->impl;
}

/* "store S: NAME: KIND (WHAT: strerror)" — always -1. NAME may be NULL (the folder). */
static int fail(const struct store *st, const char *name, enum smb_failure kind, int e,
                const char *what, struct errbuf *err)
{
    return errbuf_set(err, "store %s: %s%s%s (%s: %s)", st->display, name ? name : "",
                      name ? ": " : "", SMB_FAILURE_TEXT[kind], what, strerror(e));
}

static int fail_errno(const struct store *st, const char *name, const char *what,
                      struct errbuf *err)
{
    int e = errno;
    return fail(st, name, failure_of(e), e, what, err);
}

static int url_of(struct store *st, const char *name, char *out, struct errbuf *err)
{
    if (smb_location_url(&smb_of(st)->loc, name, out, SMB_URL_MAX) < 0)
        return errbuf_set(err, "store %s: %s: the name is too long for a URL", st->display,
                          name ? name : "");
    return 0;
}

/* libsmbclient asks for credentials through this, with the context it was given. */
static void auth_callback(SMBCCTX *ctx, const char *server, const char *share, char *workgroup,
                          int workgroup_len, char *username, int username_len, char *password,
                          int password_len)
{
    const struct smb_store *ss = smbc.getOptionUserData(ctx);

    (void)server;
    (void)share;
    if (ss->guest || ss->kerberos) {
        /* guest: nothing (anonymous, mapped to the guest account by the server); Kerberos: the
         * credential cache's principal, found by libsmbclient itself */
        if (ss->kerberos && ss->creds.username[0])
            snprintf(username, (size_t)username_len, "%s", ss->creds.username);
        return;
    }
    if (ss->creds.domain[0])
        snprintf(workgroup, (size_t)workgroup_len, "%s", ss->creds.domain);
    snprintf(username, (size_t)username_len, "%s", ss->creds.username);
    snprintf(password, (size_t)password_len, "%s", ss->creds.password);
}

/* libsmbclient's own log (its DEBUG() lines at level 0: "Bad SMB2 signature" with hex dumps when
 * a server offers a guest session in place of the account, GSSAPI errors for an expired ticket)
 * goes to ccs's debug log, printed only with CCS_DEBUG=1: ccs says what failed in its own words,
 * naming the store, and these lines on stderr looked like part of it. They may quote what the
 * server sent: escaped like a name, so no control character reaches the terminal. */
static void smb_log_line(void *unused, int level, const char *msg)
{
    size_t len = strlen(msg);
    char shown[1024];

    (void)unused;
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    if (len == 0)
        return;
    store_name_escape(msg, len, shown, sizeof(shown));
    log_debug("libsmbclient (level %d): %s", level, shown);
}

/* A context for SS. Called with LIB_MUTEX held (or in the notification helper, alone). */
static SMBCCTX *new_context(struct smb_store *ss)
{
    SMBCCTX *ctx = smbc.new_context();

    if (!ctx)
        return NULL;
    smbc.setOptionUserData(ctx, ss);
    smbc.setFunctionAuthDataWithContext(ctx, auth_callback);
    smbc.setOptionDebugToStderr(ctx, 1);
    smbc.setDebug(ctx, 0);
    smbc.setLogCallback(ctx, NULL, smb_log_line); /* global in Samba: the same for every context */
    smbc.setOptionNoAutoAnonymousLogin(ctx, !ss->guest);
    smbc.setOptionUseKerberos(ctx, ss->kerberos);
    smbc.setOptionFallbackAfterKerberos(ctx, 0);
    smbc.setOptionUseCCache(ctx, ss->kerberos);
    smbc.setOptionSmbEncryptionLevel(ctx, ss->guest     ? SMBC_ENCRYPTLEVEL_NONE
                                          : ss->encrypt ? SMBC_ENCRYPTLEVEL_REQUIRE
                                                        : SMBC_ENCRYPTLEVEL_REQUEST);
    smbc.setTimeout(ctx, (int)ss->timeout_ms);
    smbc.setPort(ctx, (uint16_t)ss->loc.port);
    if (!smbc.init_context(ctx)) {
        smbc.free_context(ctx, 1);
        return NULL;
    }
    smbc.setOptionProtocols(ctx, SMB_MIN_PROTOCOL, SMB_MAX_PROTOCOL);
    return ctx;
}

/* ---- reading -------------------------------------------------------------------------------- */

static void fill_entry(const char *name, const struct stat *s, struct store_entry *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->type = S_ISREG(s->st_mode)   ? STORE_ENTRY_FILE
              : S_ISDIR(s->st_mode) ? STORE_ENTRY_DIR
                                    : STORE_ENTRY_OTHER;
    e->version.size = (long long)s->st_size;
    e->version.mtime_ns = (long long)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    e->version.file_id = (unsigned long long)s->st_ino;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct store_entry *)a)->name, ((const struct store_entry *)b)->name);
}

static int add_listed(struct store_entries *out, size_t *cap, const char *name,
                      const struct stat *s)
{
    if (out->count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 64;
        struct store_entry *grown = realloc(out->items, grown_cap * sizeof(*grown));
        if (!grown)
            return -1;
        out->items = grown;
        *cap = grown_cap;
    }
    fill_entry(name, s, &out->items[out->count++]);
    return 0;
}

static int smb_list(struct store *st, struct store_entries *out, struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    const struct libsmb_file_info *fi;
    SMBCFILE *dir;
    struct stat s;
    size_t cap = 0;
    int rc = -1;

    out->items = NULL;
    out->count = 0;
    lib_lock();
    dir = smbc.getFunctionOpendir(ctx)(ctx, smb_of(st)->url);
    if (!dir) {
        int e = errno;
        fail(st, NULL, e == ENOENT ? SMB_FAIL_NO_DIR : failure_of(e), e, "cannot list the folder",
             err);
        goto out;
    }
    while ((errno = 0, fi = smbc.getFunctionReaddirPlus2(ctx)(ctx, dir, &s)) != NULL) {
        if (strcmp(fi->name, ".") == 0 || strcmp(fi->name, "..") == 0)
            continue;
        if (add_listed(out, &cap, fi->name, &s) < 0) {
            errbuf_set(err, "out of memory listing store %s", st->display);
            goto close;
        }
    }
    if (errno != 0 && errno != ENOENT) {
        fail_errno(st, NULL, "cannot list the folder", err);
        goto close;
    }
    rc = 0;
close:
    smbc.getFunctionClosedir(ctx)(ctx, dir);
out:
    lib_unlock();
    if (rc < 0)
        store_entries_free(out);
    else if (out->count > 1)
        qsort(out->items, out->count, sizeof(*out->items), compare_entries);
    return rc;
}

static int smb_stat(struct store *st, const char *name, struct store_entry *out, int *missing,
                    struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    char url[SMB_URL_MAX];
    struct stat s;
    int rc;

    *missing = 0;
    if (url_of(st, name, url, err) < 0)
        return -1;
    lib_lock();
    rc = smbc.getFunctionStat(ctx)(ctx, url, &s);
    if (rc < 0 && errno == ENOENT)
        *missing = 1;
    else if (rc < 0)
        fail_errno(st, name, "cannot describe", err);
    else
        fill_entry(name, &s, out);
    lib_unlock();
    return rc < 0 && !*missing ? -1 : 0;
}

/* Read an open file whole into OUT, refusing more than MAX_LEN. LIB_MUTEX held. */
static int read_open(struct store *st, SMBCCTX *ctx, SMBCFILE *f, const char *name, size_t max_len,
                     struct bytes *out, struct errbuf *err)
{
    size_t cap = 0;

    for (;;) {
        ssize_t n;
        if (out->len == cap) {
            size_t grown_cap = cap ? cap * 2 : 8192;
            unsigned char *grown;
            if (cap > max_len)
                return errbuf_set(err, "store %s: %s: larger than %zu octets", st->display, name,
                                  max_len);
            grown = realloc(out->data, grown_cap);
            if (!grown)
                return errbuf_set(err, "out of memory reading %s", name);
            out->data = grown;
            cap = grown_cap;
        }
        n = smbc.getFunctionRead(ctx)(ctx, f, out->data + out->len, cap - out->len);
        if (n < 0)
            return fail_errno(st, name, "cannot read", err);
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    if (out->len > max_len)
        return errbuf_set(err, "store %s: %s: larger than %zu octets", st->display, name, max_len);
    return 0;
}

static int smb_read(struct store *st, const char *name, size_t max_len, struct bytes *out,
                    int *missing, struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    char url[SMB_URL_MAX];
    SMBCFILE *f;
    struct stat s;
    int rc = -1;

    *missing = 0;
    out->data = NULL;
    out->len = 0;
    if (url_of(st, name, url, err) < 0)
        return -1;
    lib_lock();
    f = smbc.getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0);
    if (!f) {
        if (errno == ENOENT) {
            *missing = 1;
            rc = 0;
        } else if (errno == EISDIR) {
            errbuf_set(err, "store %s: %s: is a directory, not a file", st->display, name);
        } else {
            fail_errno(st, name, "cannot open", err);
        }
        goto out;
    }
    if (smbc.getFunctionFstat(ctx)(ctx, f, &s) < 0)
        fail_errno(st, name, "cannot describe", err);
    else if (S_ISDIR(s.st_mode))
        errbuf_set(err, "store %s: %s: is a directory, not a file", st->display, name);
    else
        rc = read_open(st, ctx, f, name, max_len, out, err);
    smbc.getFunctionClose(ctx)(ctx, f);
out:
    lib_unlock();
    if (rc < 0)
        bytes_free(out);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * NS_PER_MS};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Create NAME exclusively and write DATA. *EXISTS when NAME exists. Messages name SHOWN (the
 * target, when NAME is its temporary file). LIB_MUTEX held. */
static int create_and_write(struct store *st, const char *name, const char *shown,
                            const struct bytes *data, int *exists, struct errbuf *err)
{
    int temp = strcmp(name, shown) != 0;
    SMBCCTX *ctx = smb_of(st)->ctx;
    char url[SMB_URL_MAX];
    SMBCFILE *f;
    size_t done = 0;
    int rc = -1;

    *exists = 0;
    if (url_of(st, name, url, err) < 0)
        return -1;
    f = smbc.getFunctionOpen(ctx)(ctx, url, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!f) {
        if (errno == EEXIST) {
            *exists = 1;
            return 0;
        }
        return fail_errno(st, shown, temp ? "cannot create a temporary file" : "cannot create",
                          err);
    }
    while (done < data->len) {
        size_t chunk = data->len - done < WRITE_CHUNK ? data->len - done : WRITE_CHUNK;
        ssize_t n;

        lib_yield();
        n = smbc.getFunctionWrite(ctx)(ctx, f, data->data + done, chunk);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            fail_errno(st, shown, "cannot write", err);
            break;
        }
        done += (size_t)n;
    }
    if (done == data->len)
        rc = 0;
    if (smbc.getFunctionClose(ctx)(ctx, f) < 0 && rc == 0)
        rc = fail_errno(st, shown, "cannot write", err);
    if (rc < 0)
        smbc.getFunctionUnlink(ctx)(ctx, url);
    return rc;
}

/* A fresh temp name: prefix, pid, 64 random bits (as the local backend names them). */
static int temp_name(char *out, size_t size, struct errbuf *err)
{
    unsigned char rnd[8];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return errbuf_set_ssl(err, "cannot make a temporary name");
    snprintf(out, size, "%s%d-%02x%02x%02x%02x%02x%02x%02x%02x", STORE_TEMP_PREFIX, (int)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    return 0;
}

/* smbc_rename, retried while the target is busy: a reader holds it open without delete sharing
 * (smbclient, IIS), so the unlink inside smbc_rename is refused, and smbc_rename then reports the
 * EEXIST of its first attempt. REPLACING: the caller means to replace TO, so EEXIST is "busy" too
 * — never for rename_noreplace, where another writer's TO must not be unlinked by a retry.
 * LIB_MUTEX held; returns smbc_rename's result and errno. */
/* The wait between tries at a busy file, from RENAME_BUSY_FIRST_MS doubling to RENAME_BUSY_MAX_MS,
 * jittered so that the retries do not beat in step with a reader's loop; LIB_MUTEX is let go
 * meanwhile, so other threads' calls get through. 0 once RENAME_BUSY_TOTAL_MS is spent. */
struct busy_wait {
    long wait_ms, waited_ms;
};

static int busy_wait_next(struct busy_wait *w)
{
    unsigned char jitter = 0;

    if (w->wait_ms == 0)
        w->wait_ms = RENAME_BUSY_FIRST_MS;
    if (w->waited_ms >= RENAME_BUSY_TOTAL_MS)
        return 0;
    (void)RAND_bytes(&jitter, 1);
    lib_unlock();
    sleep_ms(w->wait_ms / 2 + (long)jitter * w->wait_ms / 255);
    lib_lock();
    w->waited_ms += w->wait_ms;
    w->wait_ms = w->wait_ms * 2 > RENAME_BUSY_MAX_MS ? RENAME_BUSY_MAX_MS : w->wait_ms * 2;
    return 1;
}

static int rename_retrying(SMBCCTX *ctx, const char *from, const char *to, int replacing)
{
    struct busy_wait w = {0, 0};

    for (;;) {
        int rc = smbc.getFunctionRename(ctx)(ctx, from, ctx, to);
        int e = errno;
        int busy = e == EBUSY || e == ETXTBSY || e == EACCES || (replacing && e == EEXIST);

        if (rc == 0 || !busy || !busy_wait_next(&w)) {
            errno = e;
            return rc;
        }
    }
}

static int smb_write_atomic(struct store *st, const char *name, const struct bytes *data,
                            const struct store_write_options *opts, struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    char temp[64], from[SMB_URL_MAX], to[SMB_URL_MAX];
    int exists = 0, rc = -1;

    (void)opts; /* always mode 0 / gid -1 here: store.c refuses them without POSIX modes */
    if (temp_name(temp, sizeof(temp), err) < 0 || url_of(st, temp, from, err) < 0 ||
        url_of(st, name, to, err) < 0)
        return -1;
    lib_lock();
    if (create_and_write(st, temp, name, data, &exists, err) < 0)
        goto out;
    if (exists) {
        errbuf_set(err, "store %s: %s: the temporary name %s exists already", st->display, name,
                   temp);
        goto out;
    }
    lib_yield();
    if (rename_retrying(ctx, from, to, 1) < 0) {
        fail_errno(st, name, "cannot rename into place", err);
        smbc.getFunctionUnlink(ctx)(ctx, from);
        goto out;
    }
    rc = 0;
out:
    lib_unlock();
    return rc;
}

static int smb_create_exclusive(struct store *st, const char *name, const struct bytes *data,
                                int *exists, struct errbuf *err)
{
    int rc;

    lib_lock();
    rc = create_and_write(st, name, name, data, exists, err);
    lib_unlock();
    return rc;
}

/* Unlink URL, retrying while it is busy (another client has it open without delete sharing, as
 * libsmbclient's own opens are). LIB_MUTEX held. */
static int unlink_retrying(SMBCCTX *ctx, const char *url)
{
    struct busy_wait w = {0, 0};

    for (;;) {
        int rc = smbc.getFunctionUnlink(ctx)(ctx, url);
        int e = errno;

        if (rc == 0 || e != EBUSY || !busy_wait_next(&w)) {
            errno = e;
            return rc;
        }
    }
}

static int smb_remove(struct store *st, const char *name, struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    char url[SMB_URL_MAX];
    int rc;

    if (url_of(st, name, url, err) < 0)
        return -1;
    lib_lock();
    rc = unlink_retrying(ctx, url);
    if (rc < 0 && errno == ENOENT)
        rc = 0;
    else if (rc < 0)
        fail_errno(st, name, "cannot remove", err);
    lib_unlock();
    return rc;
}

/* Rename FROM to TO only if TO does not exist, from what SMB makes atomic through libsmbclient:
 *  1. TO is reserved by creating it exclusively (empty): from here on nobody else creates it;
 *  2. smbc_rename(FROM, TO) finds TO taken (by us), unlinks it and renames FROM in one more
 *     request — which fails, leaving FROM where it is, if someone else created TO in between.
 * FROM moves in one rename, so whatever FROM holds at that instant is what TO gets. For the lease
 * that matters: the lock file is moved aside whole, never copied. While TO is our empty
 * placeholder a reader of it sees an empty file, which lease.c treats as "being created".
 *
 * Step 2 can also fail with "exists" when TO is still our placeholder: another client that had it
 * open at that instant (any SMB client opening the store's files; which one did in e2e.smb_kill's
 * races is not known — unit.backend_conformance stands one in) leaves our unlink pending until it
 * closes, and the rename then collides with the file being deleted. So an
 * "exists" is believed only when TO is someone else's; while it is our placeholder, or gone, the
 * rename is tried again (the placeholder made anew if gone), within the busy-rename budget. */
#define PLACEHOLDER_TRIES 20

/* Reserve TO (URL TO_URL) with an empty file: *EXISTS when someone else's file is there. LIB_MUTEX
 * held. */
static int reserve_name(struct store *st, const char *to, const char *to_url, struct stat *mine,
                        int *exists, struct errbuf *err)
{
    static const struct bytes empty = {NULL, 0};
    SMBCCTX *ctx = smb_of(st)->ctx;

    if (create_and_write(st, to, to, &empty, exists, err) < 0 || *exists)
        return *exists ? 0 : -1;
    if (smbc.getFunctionStat(ctx)(ctx, to_url, mine) < 0)
        return fail_errno(st, to, "cannot describe", err);
    return 0;
}

/* What is at TO_URL now, after a rename onto it failed: 1 our placeholder MINE, 0 nothing, -1
 * someone else's file (or it cannot be told). LIB_MUTEX held. */
static int placeholder_state(SMBCCTX *ctx, const char *to_url, const struct stat *mine)
{
    struct stat s;

    if (smbc.getFunctionStat(ctx)(ctx, to_url, &s) == 0)
        return s.st_ino == mine->st_ino && s.st_size == 0 ? 1 : -1;
    return errno == ENOENT ? 0 : -1;
}

static int smb_rename_noreplace(struct store *st, const char *from, const char *to, int *exists,
                                int *missing, struct errbuf *err)
{
    SMBCCTX *ctx = smb_of(st)->ctx;
    char from_url[SMB_URL_MAX], to_url[SMB_URL_MAX];
    struct stat s, placeholder;
    int rc = -1, e, at_to = 0;

    *exists = *missing = 0;
    if (url_of(st, from, from_url, err) < 0 || url_of(st, to, to_url, err) < 0)
        return -1;
    lib_lock();
    if (smbc.getFunctionStat(ctx)(ctx, from_url, &s) < 0) {
        if (errno == ENOENT) {
            *missing = 1;
            rc = 0;
        } else {
            fail_errno(st, from, "cannot describe", err);
        }
        goto out;
    }
    if (reserve_name(st, to, to_url, &placeholder, exists, err) < 0 || *exists) {
        rc = *exists ? 0 : -1;
        goto out;
    }
    for (int tries = 1;; tries++) {
        if (rename_retrying(ctx, from_url, to_url, 0) == 0) {
            rc = 0;
            goto out;
        }
        e = errno;
        at_to = placeholder_state(ctx, to_url, &placeholder);
        if (e != EEXIST || at_to < 0 || tries >= PLACEHOLDER_TRIES)
            break;
        lib_unlock();
        sleep_ms(RENAME_BUSY_MAX_MS);
        lib_lock();
        if (placeholder_state(ctx, to_url, &placeholder) == 0) {
            if (reserve_name(st, to, to_url, &placeholder, exists, err) < 0 || *exists) {
                rc = *exists ? 0 : -1;
                goto out;
            }
        }
    }
    /* Our placeholder may still be there: remove it, and only it. */
    if (at_to == 1)
        smbc.getFunctionUnlink(ctx)(ctx, to_url);
    if (e == EEXIST) {
        *exists = 1;
        rc = 0;
    } else if (e == ENOENT) {
        *missing = 1;
        rc = 0;
    } else {
        errno = e;
        fail_errno(st, from, "cannot rename", err);
    }
out:
    lib_unlock();
    return rc;
}

/* ---- change notification: a helper process ------------------------------------------------- */

/* libsmbclient's notify call blocks in its own event loop until a callback says stop, and holds
 * the connection meanwhile, so it cannot share LIB_MUTEX with the store's other calls. It runs in
 * a child process instead, on a context of its own, and sends what it hears through a pipe: the
 * pipe's read end is the descriptor an event loop waits on. Records are
 *     kind (1 octet: 'C' changed, 'R' removed, 'S' rescan, 'A' armed, 'E' error) + length
 *     (2 octets, big-endian) + name or message.
 * 'A' comes once, when the first notify request has been sent; watch_open waits for it, so a
 * change made after watch_open returns is never missed. When the connection breaks the helper
 * says 'S' (changes may have been missed), connects again and re-arms. It stops when the store
 * process goes away (its parent changes) or at watch_close (SIGTERM). */

/* The helper's callback wakes this often with no change, to notice a parent that went away. */
#define NOTIFY_TICK_MS 200
/* Seconds between reconnection attempts after the connection broke. */
#define NOTIFY_RETRY_MS 1000
/* How long watch_open waits for the helper to arm. */
#define NOTIFY_ARM_MS 10000
#define RECORD_HEADER 3
#define RECORD_MAX (RECORD_HEADER + 1024)

struct backend_watch {
    pid_t pid;
    int fd; /* read end */
    unsigned char buf[2 * RECORD_MAX];
    size_t have;
};

struct helper {
    int fd; /* write end */
    pid_t parent;
    int armed;
};

static int send_record(int fd, char kind, const char *text)
{
    unsigned char rec[RECORD_MAX];
    size_t len = strlen(text);

    if (len > RECORD_MAX - RECORD_HEADER)
        len = RECORD_MAX - RECORD_HEADER;
    rec[0] = (unsigned char)kind;
    rec[1] = (unsigned char)(len >> 8);
    rec[2] = (unsigned char)len;
    memcpy(rec + RECORD_HEADER, text, len);
    for (size_t done = 0; done < RECORD_HEADER + len;) {
        ssize_t n = write(fd, rec + done, RECORD_HEADER + len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Called by libsmbclient inside the helper: changes, or (none) a tick. Non-zero stops it. */
static int helper_callback(const struct smbc_notify_callback_action *actions, size_t count,
                           void *priv)
{
    struct helper *h = priv;

    if (getppid() != h->parent)
        return 1;
    if (!h->armed) {
        h->armed = 1;
        if (send_record(h->fd, 'A', "") < 0)
            return 1;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t a = actions[i].action;
        char kind = a == SMBC_NOTIFY_ACTION_REMOVED || a == SMBC_NOTIFY_ACTION_OLD_NAME ? 'R'
                    : a == SMBC_NOTIFY_ACTION_ADDED || a == SMBC_NOTIFY_ACTION_MODIFIED ||
                            a == SMBC_NOTIFY_ACTION_NEW_NAME
                        ? 'C'
                        : 0;
        if (kind && send_record(h->fd, kind, actions[i].filename) < 0)
            return 1;
    }
    return 0;
}

/* The helper's life: connect, open the folder, notify until the connection breaks; again. */
static void helper_main(struct smb_store *ss, int fd, pid_t parent)
{
    struct helper h = {.fd = fd, .parent = parent};
    const uint32_t filter = SMBC_NOTIFY_CHANGE_FILE_NAME | SMBC_NOTIFY_CHANGE_DIR_NAME |
                            SMBC_NOTIFY_CHANGE_SIZE | SMBC_NOTIFY_CHANGE_LAST_WRITE |
                            SMBC_NOTIFY_CHANGE_CREATION;
    sigset_t none;

    /* The fork copied the calling thread's signal mask: `ccs serve` blocks SIGTERM in every
     * thread (it takes it with sigwait), so without this the SIGTERM of watch_close never arrives
     * and watch_close waits for a helper that waits for its parent to go away. */
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    while (getppid() == parent) {
        SMBCCTX *ctx = new_context(ss);
        SMBCFILE *dir = ctx ? smbc.getFunctionOpendir(ctx)(ctx, ss->url) : NULL;
        char why[256];

        if (dir) {
            smbc.getFunctionNotify(ctx)(ctx, dir, 0, filter, NOTIFY_TICK_MS, helper_callback, &h);
            snprintf(why, sizeof(why), "%s", strerror(errno));
        } else {
            snprintf(why, sizeof(why), "%s", ctx ? strerror(errno) : "cannot make a context");
        }
        /* A helper that never armed tells watch_open why; later breaks are a rescan. */
        if (send_record(fd, h.armed ? 'S' : 'E', h.armed ? "" : why) < 0 || !h.armed)
            _exit(1);
        /* The parent's copy of the context is never touched here: only this one is freed. */
        if (ctx)
            smbc.free_context(ctx, 1);
        sleep_ms(NOTIFY_RETRY_MS);
    }
    _exit(0);
}

static int wait_armed(struct store *st, struct backend_watch *w, struct errbuf *err)
{
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    unsigned char head[RECORD_HEADER];
    char text[RECORD_MAX];
    size_t len;

    if (poll(&p, 1, NOTIFY_ARM_MS) <= 0)
        return errbuf_set(err,
                          "store %s: cannot watch the share: no change notification set up "
                          "within %d ms (%s)",
                          st->display, NOTIFY_ARM_MS, SMB_FAILURE_TEXT[SMB_FAIL_TIMEOUT]);
    if (read(w->fd, head, sizeof(head)) != (ssize_t)sizeof(head))
        return errbuf_set(err, "store %s: cannot watch the share: the helper process exited",
                          st->display);
    len = ((size_t)head[1] << 8) | head[2];
    if (len >= sizeof(text) || (len && read(w->fd, text, len) != (ssize_t)len))
        return errbuf_set(err, "store %s: cannot watch the share: garbled helper record",
                          st->display);
    text[len] = '\0';
    if (head[0] != 'A')
        return errbuf_set(err, "store %s: cannot watch the share: %s", st->display, text);
    return 0;
}

static void smb_watch_close(struct backend_watch *w);

static int smb_watch_open(struct store *st, struct backend_watch **out, struct errbuf *err)
{
    struct backend_watch *w = calloc(1, sizeof(*w));
    int fds[2];
    pid_t parent = getpid();

    *out = NULL;
    if (!w)
        return errbuf_set(err, "out of memory");
    if (pipe2(fds, O_CLOEXEC) < 0) {
        free(w);
        return errbuf_set_errno(err, "store %s: cannot watch the share", st->display);
    }
    /* Under LIB_MUTEX: the child never inherits a libsmbclient call half-way. */
    lib_lock();
    w->pid = fork();
    lib_unlock(); /* in both: the child is a copy of this thread, holding it */
    if (w->pid == 0) {
        close(fds[0]);
        helper_main(smb_of(st), fds[1], parent);
    }
    close(fds[1]);
    w->fd = fds[0];
    if (w->pid < 0) {
        close(w->fd);
        free(w);
        return errbuf_set_errno(err, "store %s: cannot start the change-notification helper",
                                st->display);
    }
    if (wait_armed(st, w, err) < 0) {
        smb_watch_close(w);
        return -1;
    }
    if (fcntl(w->fd, F_SETFL, O_NONBLOCK) < 0) {
        errbuf_set_errno(err, "store %s: cannot watch the share", st->display);
        smb_watch_close(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int smb_watch_fd(const struct backend_watch *w)
{
    return w->fd;
}

/* Turn the complete records in W->buf into events; keep a partial one for the next read. */
static int take_records(struct backend_watch *w, struct store_events *out)
{
    size_t at = 0;

    while (w->have - at >= RECORD_HEADER) {
        size_t len = ((size_t)w->buf[at + 1] << 8) | w->buf[at + 2];
        char name[RECORD_MAX];
        int rc = 0;

        if (w->have - at < RECORD_HEADER + len)
            break;
        memcpy(name, w->buf + at + RECORD_HEADER, len);
        name[len] = '\0';
        switch (w->buf[at]) {
        case 'C':
            rc = store_events_add(out, STORE_EVENT_CHANGED, name);
            break;
        case 'R':
            rc = store_events_add(out, STORE_EVENT_REMOVED, name);
            break;
        case 'S':
            rc = store_events_add(out, STORE_EVENT_RESCAN, "");
            break;
        default:
            break;
        }
        if (rc < 0)
            return -1;
        at += RECORD_HEADER + len;
    }
    memmove(w->buf, w->buf + at, w->have - at);
    w->have -= at;
    return 0;
}

static int smb_watch_read(struct backend_watch *w, struct store_events *out, struct errbuf *err)
{
    for (;;) {
        ssize_t n = read(w->fd, w->buf + w->have, sizeof(w->buf) - w->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return errbuf_set_errno(err, "cannot read share changes");
        if (n == 0) {
            /* The helper is gone: say changes may have been missed, and that none will come. */
            store_events_add(out, STORE_EVENT_RESCAN, "");
            return errbuf_set(err, "the share's change-notification helper exited");
        }
        w->have += (size_t)n;
        if (take_records(w, out) < 0)
            return errbuf_set(err, "out of memory reading share changes");
    }
}

static void smb_watch_close(struct backend_watch *w)
{
    if (!w)
        return;
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    close(w->fd);
    free(w);
}

/* ---- opening -------------------------------------------------------------------------------- */

static void smb_close(struct store *st)
{
    struct smb_store *ss = st->impl;

    if (!ss)
        return;
    if (ss->ctx) {
        lib_lock();
        smbc.free_context(ss->ctx, 1);
        lib_unlock();
    }
    credentials_wipe(&ss->creds);
    free(ss);
    st->impl = NULL;
}

static const struct store_backend_ops smb_ops = {
    .kind = "smb",
    .capabilities = STORE_CAP_CHANGE_NOTIFY,
    .default_mode = 0,
    .thread_safe = 0, /* libsmbclient is not: store.c serialises, LIB_MUTEX across stores */
    .list = smb_list,
    .read = smb_read,
    .stat = smb_stat,
    .write_atomic = smb_write_atomic,
    .create_exclusive = smb_create_exclusive,
    .rename_noreplace = smb_rename_noreplace,
    .remove = smb_remove,
    .sync = NULL,
    .lock = NULL,
    .unlock = NULL,
    .watch_open = smb_watch_open,
    .watch_fd = smb_watch_fd,
    .watch_read = smb_watch_read,
    .watch_close = smb_watch_close,
    .close = smb_close,
};

/* Credentials: the file given, else the systemd credential, else Kerberos or guest if asked. */
static int load_credentials(struct store *st, const struct store_smb_options *opts,
                            struct smb_store *ss, struct errbuf *err)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    char path[4096];

    ss->kerberos = opts->kerberos;
    ss->guest = opts->guest;
    /* Guest access is asked for alone: with credentials or Kerberos it would silently drop them
     * (and signing), with encryption it would silently go unencrypted (a guest session has no
     * key to sign or encrypt with). The systemd credential is not read for it either. */
    if (ss->guest && (opts->credentials_file || ss->kerberos))
        return errbuf_set(err,
                          "store %s: guest access takes no credentials: give one of a "
                          "credentials file, Kerberos and guest",
                          st->display);
    if (ss->guest && opts->encrypt)
        return errbuf_set(err,
                          "store %s: guest access cannot be encrypted or signed (a guest session "
                          "has no key): give encryption or guest, not both",
                          st->display);
    if (ss->guest)
        return 0;
    if (opts->credentials_file)
        return credfile_load(opts->credentials_file, &ss->creds, err) < 0
                   ? errbuf_prefix(err, "store %s", st->display)
                   : 0;
    if (dir && *dir) {
        snprintf(path, sizeof(path), "%s/%s", dir, SMB_CREDENTIAL_NAME);
        if (access(path, F_OK) == 0)
            return credfile_load(path, &ss->creds, err) < 0
                       ? errbuf_prefix(err, "store %s", st->display)
                       : 0;
    }
    if (ss->kerberos)
        return 0;
    return errbuf_set(err,
                      "store %s: no credentials for the share: a credentials file (or the systemd "
                      "credential %s), Kerberos or guest access is needed",
                      st->display, SMB_CREDENTIAL_NAME);
}

/* Kerberos tickets are for a service name (cifs/HOST): libsmbclient will not ask for one for an
 * address, and would fail as a bad password does. Say why instead. */
static int check_kerberos_host(struct store *st, const struct smb_store *ss, struct errbuf *err)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (!ss->kerberos || (inet_pton(AF_INET, ss->loc.host, addr) != 1 &&
                          inet_pton(AF_INET6, ss->loc.host, addr) != 1))
        return 0;
    return errbuf_set(err,
                      "store %s: authentication failed (with Kerberos the server must be named by "
                      "its host name, as in its service principal cifs/NAME, not by the address "
                      "%s)",
                      st->display, ss->loc.host);
}

/* Reach the server ourselves first: a clear "unreachable" or "timed out", and whether it can
 * encrypt (see the top of the file). */
static int probe_server(struct store *st, struct smb_store *ss, struct errbuf *err)
{
    struct smb_server_facts facts;
    enum smb_probe_failure why;

    if (smb_probe(ss->loc.host, ss->loc.port, ss->timeout_ms, &facts, &why, err) < 0) {
        /* a server that does not speak SMB2 is reachable, and asking again will not help */
        if (why == SMB_PROBE_PROTOCOL)
            return errbuf_prefix(err, "store %s", st->display);
        return errbuf_prefix(
            err, "store %s: %s", st->display,
            SMB_FAILURE_TEXT[why == SMB_PROBE_TIMEOUT ? SMB_FAIL_TIMEOUT : SMB_FAIL_UNREACHABLE]);
    }
    if (ss->encrypt && !facts.can_encrypt)
        return errbuf_set(err,
                          "store %s: encryption required but "
                          "the server cannot encrypt (it offers no SMB3 cipher; dialect 0x%04x)",
                          st->display, facts.dialect);
    if (ss->encrypt && !facts.dfs)
        return errbuf_set(
            err,
            "store %s: encryption required but "
            "the server does not announce DFS, without which libsmbclient never turns "
            "encryption on",
            st->display);
    return 0;
}

/* Open the share, then the folder, and say precisely what is wrong. LIB_MUTEX held. */
static int check_folder(struct store *st, struct smb_store *ss, struct errbuf *err)
{
    struct smb_location root = ss->loc;
    char url[SMB_URL_MAX];
    SMBCFILE *dir;
    int e;

    root.dir[0] = '\0';
    if (smb_location_url(&root, NULL, url, sizeof(url)) < 0)
        return errbuf_set(err, "store %s: the location is too long", st->display);
    dir = smbc.getFunctionOpendir(ss->ctx)(ss->ctx, url);
    if (!dir) {
        e = errno;
        /* Kerberos without a ticket the client can use (no credential cache, an empty or expired
         * one, no ticket for cifs/HOST to be had): libsmbclient's SPNEGO has no mechanism left to
         * offer and the session setup fails with NT_STATUS_INVALID_PARAMETER, EINVAL here. */
        if (ss->kerberos && e == EINVAL)
            return fail(st, NULL, SMB_FAIL_AUTH, e,
                        "with Kerberos: no usable ticket in the credential cache, run kinit", err);
        if (e == ENOENT || e == ENODEV || e == ENXIO)
            return fail(st, NULL, SMB_FAIL_NO_SHARE, e, ss->loc.share, err);
        if (e == EACCES || e == EPERM) {
            /* The session or the share? Listing the server's shares needs only the session. */
            root.share[0] = '\0';
            snprintf(url, sizeof(url), "smb://%s:%u/", ss->loc.host, ss->loc.port);
            dir = smbc.getFunctionOpendir(ss->ctx)(ss->ctx, url);
            if (!dir && (errno == EACCES || errno == EPERM))
                return fail(st, NULL, SMB_FAIL_AUTH, e,
                            ss->guest ? "as guest"
                            : ss->kerberos
                                ? "with Kerberos: the ticket was refused or has expired, run kinit"
                                : "with the credentials file",
                            err);
            if (dir)
                smbc.getFunctionClosedir(ss->ctx)(ss->ctx, dir);
            return fail(st, NULL, SMB_FAIL_DENIED, e, ss->loc.share, err);
        }
        return fail(st, NULL, failure_of(e), e, "cannot open the share", err);
    }
    smbc.getFunctionClosedir(ss->ctx)(ss->ctx, dir);
    if (!ss->loc.dir[0])
        return 0;
    dir = smbc.getFunctionOpendir(ss->ctx)(ss->ctx, ss->url);
    if (!dir) {
        e = errno;
        if (e == ENOENT)
            return fail(st, NULL, SMB_FAIL_NO_DIR, e, ss->loc.dir, err);
        if (e == ENOTDIR)
            return errbuf_set(err, "store %s: %s is not a directory", st->display, ss->loc.dir);
        return fail(st, NULL, failure_of(e), e, "cannot open the folder", err);
    }
    smbc.getFunctionClosedir(ss->ctx)(ss->ctx, dir);
    return 0;
}

int store_smb_open(const char *location, const struct store_smb_options *opts, struct store *st,
                   struct errbuf *err)
{
    struct smb_store *ss;
    int rc;

    smb_location_display(location, st->display, sizeof(st->display));
    if (smb_lib_load(err) < 0)
        return errbuf_prefix(err, "store %s", st->display);
    ss = calloc(1, sizeof(*ss));
    if (!ss)
        return errbuf_set(err, "out of memory");
    st->impl = ss;
    st->ops = &smb_ops;
    ss->encrypt = opts->encrypt;
    ss->timeout_ms = opts->timeout_ms ? opts->timeout_ms : STORE_SMB_DEFAULT_TIMEOUT_MS;
    if (smb_location_parse(location, &ss->loc, err) < 0 ||
        smb_location_url(&ss->loc, NULL, ss->url, sizeof(ss->url)) < 0 ||
        load_credentials(st, opts, ss, err) < 0 || check_kerberos_host(st, ss, err) < 0 ||
        probe_server(st, ss, err) < 0)
        goto fail;
    lib_lock();
    ss->ctx = new_context(ss);
    rc = ss->ctx ? check_folder(st, ss, err)
                 : errbuf_set_errno(err, "store %s: cannot start libsmbclient", st->display);
    lib_unlock();
    if (rc == 0)
        return 0;
fail:
    smb_close(st);
    st->ops = NULL;
    return -1;
}
