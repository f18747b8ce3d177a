/* testpoint.h — named points where a test stops the process, to kill or signal it at a chosen
 * moment rather than a random one (a kill between two renames cannot be hit reliably by timing).
 *
 * With CCS_TEST_STOP_AT=NAME in the environment, the process stops itself (SIGSTOP) when it
 * reaches the point NAME. The test waits until it is stopped (state T in /proc/PID/stat), then
 * sends SIGKILL, or SIGTERM and SIGCONT. Without the variable — always, outside tests — a point
 * costs a getenv. Names are "what:detail", e.g. "task-done:www.ccs", "export-renamed:www.pem:2";
 * tests/e2e/renew_lib.sh lists the points the tests use. (Header only: nothing to link.) */
#ifndef CCS_UTIL_TESTPOINT_H
#define CCS_UTIL_TESTPOINT_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEST_POINT_ENV "CCS_TEST_STOP_AT"
#define TEST_POINT_NAME_MAX 512

/* After the stop: a signal the test sent while we were stopped (SIGTERM, then SIGCONT) is taken
 * by whichever thread the kernel picks, maybe not this one, and this one must not take another
 * step before the handler has run (it would not see the stop it is tested for). So wait until no
 * such signal is pending, then a moment more for the handler to return (it only stores a flag). */
#define TEST_POINT_SETTLE_MS 50
#define TEST_POINT_PENDING_MAX_MS 2000

static inline void test_point_settle(void)
{
    struct timespec step = {0, 1000000L}, settle = {0, TEST_POINT_SETTLE_MS * 1000000L};
    sigset_t pending;

    for (int ms = 0; ms < TEST_POINT_PENDING_MAX_MS; ms++) {
        if (sigpending(&pending) < 0 ||
            (!sigismember(&pending, SIGTERM) && !sigismember(&pending, SIGINT)))
            break;
        nanosleep(&step, NULL);
    }
    nanosleep(&settle, NULL);
}

static inline void test_point(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void test_point(const char *fmt, ...)
{
    const char *want = getenv(TEST_POINT_ENV);
    char name[TEST_POINT_NAME_MAX];
    va_list ap;

    if (!want || !want[0])
        return;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    /* raise, not kill(getpid()): the signal must stop this thread before it takes another step.
     * A process-directed SIGSTOP is taken by whichever thread the kernel picks (the main one,
     * waiting in pthread_join), and this one would run on until the group stop reached it. */
    if (strcmp(name, want) == 0) {
        raise(SIGSTOP);
        test_point_settle();
    }
}

#endif
