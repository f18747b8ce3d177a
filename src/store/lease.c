/* lease.c — the lease lock: a lock file inside the store, for backends where a handle lock (flock)
 * is not shared between machines, or when a store is opened with STORE_LOCK_LEASE.
 *
 * The lock file STORE_LOCK_FILE is small text, for programs and for people:
 *     ccs-lease 1
 *     host <the holder's host name>
 *     pid <the holder's process id>
 *     token <32 hex digits, random per acquisition>
 *     acquired <unix seconds>
 *     expires <unix seconds>
 * Only the token says whose lease it is; host and pid are there to tell a person who holds it.
 * Everything is built on store.h I/O and the two wrappers of backend.h (create_exclusive,
 * rename_noreplace), so it works on any backend.
 *
 * Invariants:
 * - The lock file is only ever created by create_exclusive: two writers never both create it.
 * - A lease is expired when now > expires (whole seconds, so it lasts at least its length whatever
 *   the second boundary), and only an expired lease may be broken. A lock file that does not parse
 *   counts as held until its mtime is older than the lease, then as expired: a lock file being
 *   created is empty for a moment, and a writer that died there left no expiry to go by.
 * - A lock file is removed only after being *taken*: renamed to a name of the remover's own
 *   (STORE_TEMP_PREFIX "lease-<random>", so stale-temp cleanup sweeps any debris) and read back
 *   byte for byte equal to what the remover decided to remove. Two breakers racing on one expired
 *   lease therefore remove it once, and a breaker that finds it took a fresh lease (the other
 *   breaker's) puts it back with rename_noreplace. Bytes, not only the token, are compared, so a
 *   lease renewed under the same token is never mistaken for the expired one.
 * - The holder rewrites its lock file (keepalive) with store_write_atomic only while its lease is
 *   unexpired and the file still carries its token: no one may break an unexpired lease, so the
 *   rewrite replaces nothing but its own file. An expired lease is renewed by taking it and
 *   creating it afresh, which fails (lease lost) if another writer got in first.
 * - A waiter blocks as flock does: it polls the lock file (50 ms, doubling to 1 s) and wakes when
 *   the lease it saw runs out, so a dead holder costs at most the rest of its lease.
 *
 * What this cannot promise:
 * - The put-back above fails when a third writer created a new lock file in the moment the fresh
 *   lease was aside. Its holder (the displaced one) then learns "lease lost" only at its next
 *   keepalive or release, and until then two writers may both believe they hold the lock. It takes
 *   an expired lease and three writers at once; a writer that renews at every step (deploy does)
 *   keeps the window to one step.
 * - Expiry compares the holder's clock with the breaker's (and, for an unparseable file, with the
 *   server's mtime): clock skew between machines shortens or lengthens a lease by that much.
 * - A holder that stalls past its expiry without a keepalive may be broken; its next keepalive or
 *   release then fails with "lease lost" and it must not trust what it wrote meanwhile. */
#include "store/backend.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/log.h"

/* First line of the file: a later format says "ccs-lease 2" and old readers treat it as garbage
 * (held until its mtime is older than the lease), never as free. */
#define LEASE_FORMAT_LINE "ccs-lease 1"
/* A lock file is a few lines. A larger one is not a lease: store_read refuses it, naming it, and
 * store_lock fails rather than wait on it. */
#define LEASE_FILE_MAX 4096
/* 128 random bits: no two acquisitions anywhere share a token. */
#define LEASE_TOKEN_BYTES 16
/* Room for a host name read from a lock file written by any machine (POSIX: 255 octets max). */
#define LEASE_HOST_MAX 255
/* Waiting for a held lease: 50 ms first, so a lock released on a local store is taken at once,
 * doubling to 1 s, so a waiter on a share costs the server at most one read a second. */
#define LEASE_BACKOFF_MIN_MS 50
#define LEASE_BACKOFF_MAX_MS 1000
/* Renew once more than a third of the lease has passed, as store.h promises. */
#define LEASE_RENEW_FRACTION 3
#define NS_PER_SECOND 1000000000LL
#define NS_PER_MS 1000000L
/* The lines lease_parse() must see: without either a file is garbage. */
#define SEEN_TOKEN 1u
#define SEEN_EXPIRES 2u

/* What a lock file says. */
struct lease_file {
    char host[LEASE_HOST_MAX + 1];
    long pid;
    char token[LEASE_TOKEN_BYTES * 2 + 1];
    long long acquired;
    long long expires;
};

static long long realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * NS_PER_SECOND + ts.tv_nsec;
}

/* Unix seconds from the same clock as realtime_ns(): time(2) may read a coarser clock that lags it
 * by a tick, and a lease judged by two clocks could be taken a tick early. */
static long long now_seconds(void)
{
    return realtime_ns() / NS_PER_SECOND;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * NS_PER_MS};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* LEN random octets as hex into OUT (2 * LEN + 1 chars). */
static int random_hex(size_t len, char *out, struct errbuf *err)
{
    unsigned char rnd[LEASE_TOKEN_BYTES];

    if (len > sizeof(rnd) || RAND_bytes(rnd, (int)len) != 1)
        return errbuf_set_ssl(err, "cannot make a random lease token");
    hex_encode(rnd, len, out);
    return 0;
}

/* This machine's name as one printable word (it goes on a line of its own in the file). */
static void this_host(char *out, size_t size)
{
    if (gethostname(out, size) < 0)
        snprintf(out, size, "unknown");
    out[size - 1] = '\0';
    for (char *p = out; *p; p++)
        if (*p <= ' ' || *p > '~')
            *p = '?';
    if (!*out)
        snprintf(out, size, "unknown");
}

/* The lock file for ST's lease into BUF; returns its length. */
static size_t lease_format(const struct store *st, long long acquired, long long expires, char *buf,
                           size_t size)
{
    char host[LEASE_HOST_MAX + 1];
    int n;

    this_host(host, sizeof(host));
    n = snprintf(buf, size,
                 LEASE_FORMAT_LINE "\nhost %s\npid %ld\ntoken %s\nacquired %lld\nexpires %lld\n",
                 host, (long)getpid(), st->lease.token, acquired, expires);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

static int parse_number(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return (errno == 0 && end != s && *end == '\0') ? 0 : -1;
}

static int is_token(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == LEASE_TOKEN_BYTES * 2 && s[n] == '\0';
}

/* Parse one "key value" line into OUT; unknown keys are skipped (a later version may add some). */
static int parse_line(char *line, struct lease_file *out, unsigned *seen)
{
    char *value = strchr(line, ' ');
    long long number;

    if (!value)
        return -1;
    *value++ = '\0';
    if (strcmp(line, "host") == 0) {
        snprintf(out->host, sizeof(out->host), "%s", value);
    } else if (strcmp(line, "pid") == 0) {
        if (parse_number(value, &number) < 0)
            return -1;
        out->pid = (long)number;
    } else if (strcmp(line, "token") == 0) {
        if (!is_token(value))
            return -1;
        snprintf(out->token, sizeof(out->token), "%s", value);
        *seen |= SEEN_TOKEN;
    } else if (strcmp(line, "acquired") == 0) {
        if (parse_number(value, &out->acquired) < 0)
            return -1;
    } else if (strcmp(line, "expires") == 0) {
        if (parse_number(value, &out->expires) < 0)
            return -1;
        *seen |= SEEN_EXPIRES;
    }
    return 0;
}

/* 0 when DATA is a lock file of this format with a token and an expiry, -1 when it is garbage. */
static int lease_parse(const struct bytes *data, struct lease_file *out)
{
    char text[LEASE_FILE_MAX + 1], *line, *next;
    unsigned seen = 0;

    memset(out, 0, sizeof(*out));
    if (data->len == 0 || data->len > LEASE_FILE_MAX || memchr(data->data, '\0', data->len))
        return -1;
    memcpy(text, data->data, data->len);
    text[data->len] = '\0';
    next = strchr(text, '\n');
    if (!next)
        return -1;
    *next++ = '\0';
    if (strcmp(text, LEASE_FORMAT_LINE) != 0)
        return -1;
    for (line = next; *line; line = next) {
        next = strchr(line, '\n');
        if (!next)
            return -1; /* a torn last line: not a file we wrote whole */
        *next++ = '\0';
        if (parse_line(line, out, &seen) < 0)
            return -1;
    }
    return seen == (SEEN_TOKEN | SEEN_EXPIRES) ? 0 : -1;
}

static int bytes_equal(const struct bytes *a, const struct bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* "store S: lease lost: WHY; ...". Always -1. */
static int lease_lost(const struct store *st, const char *why, struct errbuf *err)
{
    return errbuf_set(err, "store %s: lease lost: %s; another writer may have written meanwhile",
                      store_display_name(st), why);
}

/* Put a file we took back as STORE_LOCK_FILE. When a new lock file is there already, drop ours: its
 * holder finds its lease lost at its next keepalive or release (see the top of the file). */
static int put_back(struct store *st, const char *aside, struct errbuf *err)
{
    int exists = 0, missing = 0;

    if (store_io_rename_noreplace(st, aside, STORE_LOCK_FILE, &exists, &missing, err) < 0)
        return -1;
    if (exists)
        return store_remove(st, aside, err);
    return 0;
}

/* Take the lock file away if it is still exactly EXPECT: rename it to a name of our own, read it
 * back, remove it when equal (*TAKEN = 1), otherwise put it back (*TAKEN = 0). A lock file that is
 * gone already is *TAKEN = 0 too. */
static int lease_take(struct store *st, const struct bytes *expect, int *taken, struct errbuf *err)
{
    char aside[sizeof(STORE_TEMP_PREFIX "lease-") + LEASE_TOKEN_BYTES * 2];
    char rnd[LEASE_TOKEN_BYTES * 2 + 1];
    struct bytes got = {NULL, 0};
    int exists = 0, missing = 0, rc = -1;

    *taken = 0;
    if (random_hex(LEASE_TOKEN_BYTES, rnd, err) < 0)
        return -1;
    snprintf(aside, sizeof(aside), "%slease-%s", STORE_TEMP_PREFIX, rnd);
    if (store_io_rename_noreplace(st, STORE_LOCK_FILE, aside, &exists, &missing, err) < 0)
        return -1;
    if (missing)
        return 0;
    if (exists) /* 128 random bits collided: not a thing to retry quietly */
        return errbuf_set(err, "store %s: cannot move %s aside: %s exists", store_display_name(st),
                          STORE_LOCK_FILE, aside);
    if (store_read(st, aside, LEASE_FILE_MAX, &got, &missing, err) < 0) {
        struct errbuf ignored; /* the read's error is the one to report */
        put_back(st, aside, &ignored);
        goto out;
    }
    if (missing) { /* swept as debris by a stale-temp cleanup: its holder has lost it */
        rc = 0;
        goto out;
    }
    if (bytes_equal(&got, expect)) {
        rc = store_remove(st, aside, err);
        *taken = rc == 0;
        goto out;
    }
    rc = put_back(st, aside, err);
out:
    bytes_free(&got);
    return rc;
}

/* Try to create the lock file with a fresh lease: *GOT = 1 when it is ours now. */
static int try_create(struct store *st, long long acquired, int *got, struct errbuf *err)
{
    char buf[LEASE_FILE_MAX];
    long long now = now_seconds(), expires = now + (long long)st->lease_seconds;
    struct bytes data = {(unsigned char *)buf, 0};
    int exists = 0;

    *got = 0;
    data.len = lease_format(st, acquired ? acquired : now, expires, buf, sizeof(buf));
    if (store_io_create_exclusive(st, STORE_LOCK_FILE, &data, &exists, err) < 0)
        return -1;
    if (exists)
        return 0;
    st->lease.held = 1;
    st->lease.expires = expires;
    st->lease.renewed = now;
    *got = 1;
    return 0;
}

/* SECONDS in nanoseconds, clamped so that a lock file claiming the year 300 billion stays a far
 * future rather than an overflow. */
static long long seconds_to_ns(long long seconds)
{
    const long long limit = LLONG_MAX / NS_PER_SECOND - 1;
    return (seconds > limit ? limit : seconds < -limit ? -limit : seconds) * NS_PER_SECOND;
}

/* When (realtime ns) the lock file that was read counts as expired: the first instant of the
 * second after its expiry (now > expires); a file that does not parse (PARSED_OK 0) one lease
 * after its mtime. *GONE = 1 when it disappeared meanwhile. */
static int lease_expiry_ns(struct store *st, const struct lease_file *parsed, int parsed_ok,
                           long long *expiry_ns, int *gone, struct errbuf *err)
{
    struct store_entry e;

    *gone = 0;
    if (parsed_ok) {
        *expiry_ns = seconds_to_ns(parsed->expires) + NS_PER_SECOND;
        return 0;
    }
    if (store_stat(st, STORE_LOCK_FILE, &e, gone, err) < 0)
        return -1;
    *expiry_ns = e.version.mtime_ns + seconds_to_ns((long long)st->lease_seconds) + 1;
    return 0;
}

/* The lock file exists: break it if it is expired. *RETRY_NOW = 1 when it is gone (or we removed
 * it) and creating may succeed at once; otherwise the caller waits, at most *WAIT_MS (until the
 * lease it saw expires, so a dead holder's lease is broken as soon as it may be). */
static int try_break(struct store *st, int *retry_now, unsigned *wait_ms, struct errbuf *err)
{
    struct bytes seen = {NULL, 0};
    struct lease_file parsed;
    long long expiry_ns = 0, left_ns;
    int missing = 0, rc = -1;

    *retry_now = 0;
    *wait_ms = LEASE_BACKOFF_MAX_MS;
    if (store_read(st, STORE_LOCK_FILE, LEASE_FILE_MAX, &seen, &missing, err) < 0)
        goto out;
    if (!missing && lease_expiry_ns(st, &parsed, lease_parse(&seen, &parsed) == 0, &expiry_ns,
                                    &missing, err) < 0)
        goto out;
    left_ns = expiry_ns - realtime_ns();
    if (missing) {
        *retry_now = 1;
    } else if (left_ns <= 0) {
        int parsed_ok = lease_parse(&seen, &parsed) == 0;
        if (lease_take(st, &seen, retry_now, err) < 0)
            goto out;
        /* A writer died or stalled holding the lock: say whose lease was broken. */
        if (*retry_now && parsed_ok)
            log_warning("store %s: took over the expired lease of host %s, pid %ld (expired %lld "
                        "s ago); that writer may have died mid-write",
                        store_display_name(st), parsed.host, parsed.pid,
                        (long long)(-left_ns / NS_PER_SECOND));
        else if (*retry_now)
            log_warning("store %s: removed a stale lock file %s that does not parse",
                        store_display_name(st), STORE_LOCK_FILE);
    } else if (left_ns < (long long)LEASE_BACKOFF_MAX_MS * NS_PER_MS) {
        *wait_ms = (unsigned)((left_ns + NS_PER_MS - 1) / NS_PER_MS);
    }
    rc = 0;
out:
    bytes_free(&seen);
    return rc;
}

int store_lease_acquire(struct store *st, struct errbuf *err)
{
    unsigned backoff_ms = LEASE_BACKOFF_MIN_MS;

    st->lease.held = 0;
    if (random_hex(LEASE_TOKEN_BYTES, st->lease.token, err) < 0)
        return -1;
    for (;;) {
        unsigned wait_ms = 0;
        int got = 0, retry_now = 0;

        if (try_create(st, 0, &got, err) < 0)
            return -1;
        if (got)
            return 0;
        if (try_break(st, &retry_now, &wait_ms, err) < 0)
            return -1;
        if (!retry_now) {
            sleep_ms(wait_ms < backoff_ms ? wait_ms : backoff_ms);
            backoff_ms =
                backoff_ms * 2 > LEASE_BACKOFF_MAX_MS ? LEASE_BACKOFF_MAX_MS : backoff_ms * 2;
        }
    }
}

/* Whose the lock file is, as the holder sees it. */
enum lease_owner {
    LEASE_OURS,
    LEASE_GONE,    /* no lock file */
    LEASE_GARBAGE, /* a lock file that does not parse */
    LEASE_OTHERS,  /* another writer's token */
};

/* Read the lock file into DATA (parsed into PARSED) and say whose it is. */
static int read_owner(struct store *st, struct bytes *data, struct lease_file *parsed,
                      enum lease_owner *owner, struct errbuf *err)
{
    int missing = 0;

    if (store_read(st, STORE_LOCK_FILE, LEASE_FILE_MAX, data, &missing, err) < 0)
        return -1;
    if (missing)
        *owner = LEASE_GONE;
    else if (lease_parse(data, parsed) < 0)
        *owner = LEASE_GARBAGE;
    else
        *owner = strcmp(parsed->token, st->lease.token) == 0 ? LEASE_OURS : LEASE_OTHERS;
    return 0;
}

/* The lease is lost because the lock file is not ours (OWNER; P when another writer's). -1. */
static int not_ours(const struct store *st, enum lease_owner owner, const struct lease_file *p,
                    struct errbuf *err)
{
    char why[LEASE_HOST_MAX + 128];

    if (owner == LEASE_GONE)
        snprintf(why, sizeof(why), "the lock file %s is gone", STORE_LOCK_FILE);
    else if (owner == LEASE_GARBAGE)
        snprintf(why, sizeof(why), "the lock file %s was replaced by one that does not parse",
                 STORE_LOCK_FILE);
    else
        snprintf(why, sizeof(why), "%s now holds the lease of host %s, pid %ld", STORE_LOCK_FILE,
                 p->host, p->pid);
    return lease_lost(st, why, err);
}

/* Renew an unexpired lease in place: nobody may break it, so the rewrite replaces only our file. */
static int renew_in_place(struct store *st, const struct lease_file *ours, struct errbuf *err)
{
    static const struct store_write_options plain = {.mode = 0, .gid = -1};
    char buf[LEASE_FILE_MAX];
    long long now = now_seconds(), expires = now + (long long)st->lease_seconds;
    struct bytes data = {(unsigned char *)buf, 0};

    data.len = lease_format(st, ours->acquired, expires, buf, sizeof(buf));
    if (store_write_atomic(st, STORE_LOCK_FILE, &data, &plain, err) < 0)
        return errbuf_prefix(err, "store %s: cannot renew the lease", store_display_name(st));
    st->lease.expires = expires;
    st->lease.renewed = now;
    return 0;
}

/* Renew an expired lease that is still ours: another writer may be breaking it right now, so take
 * it first and create it afresh; whoever is faster wins. */
static int renew_expired(struct store *st, const struct bytes *data, const struct lease_file *ours,
                         struct errbuf *err)
{
    int taken = 0, got = 0;

    if (lease_take(st, data, &taken, err) < 0)
        return -1;
    if (!taken)
        return lease_lost(st, "it expired and another writer broke it", err);
    if (try_create(st, ours->acquired, &got, err) < 0)
        return -1;
    if (!got)
        return lease_lost(st, "it expired and another writer took the lock", err);
    return 0;
}

int store_lease_keepalive(struct store *st, struct errbuf *err)
{
    struct bytes data = {NULL, 0};
    struct lease_file parsed;
    enum lease_owner owner;
    int rc = -1;

    if (!st->lease.held)
        return errbuf_set(err, "store %s: the lease is not held", store_display_name(st));
    if ((now_seconds() - st->lease.renewed) * LEASE_RENEW_FRACTION <= (long long)st->lease_seconds)
        return 0;
    if (read_owner(st, &data, &parsed, &owner, err) < 0)
        goto out;
    if (owner != LEASE_OURS)
        not_ours(st, owner, &parsed, err);
    else if (now_seconds() <= st->lease.expires && store_has(st, STORE_CAP_ATOMIC_REPLACE))
        rc = renew_in_place(st, &parsed, err);
    else /* expired, or a backend whose replace has a moment with no file a waiter could fill */
        rc = renew_expired(st, &data, &parsed, err);
out:
    bytes_free(&data);
    return rc;
}

int store_lease_release(struct store *st, struct errbuf *err)
{
    struct bytes data = {NULL, 0};
    struct lease_file parsed;
    enum lease_owner owner;
    int taken = 0, rc = -1;

    if (!st->lease.held)
        return errbuf_set(err, "store %s: the lease is not held", store_display_name(st));
    if (read_owner(st, &data, &parsed, &owner, err) < 0)
        goto out;
    if (owner != LEASE_OURS) {
        not_ours(st, owner, &parsed, err);
        goto out;
    }
    if (lease_take(st, &data, &taken, err) < 0)
        goto out;
    if (!taken) {
        lease_lost(st, "another writer broke it while it was being released", err);
        goto out;
    }
    rc = 0;
out:
    st->lease.held = 0;
    bytes_free(&data);
    return rc;
}
