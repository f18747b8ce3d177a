/* stop.c — SIGTERM and SIGINT as a request to stop (stop.h). The handler only stores the signal
 * (a lock-free atomic: async-signal-safe, and read without a data race by every thread) and tells
 * spawn to stop the programs we run; the work itself looks at stop_requested between steps. */
#include "manage/stop.h"

#include <stdatomic.h>
#include <string.h>

#include "util/spawn.h"

static atomic_int requested;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free int");

void stop_request(int signo)
{
    atomic_store(&requested, signo);
    spawn_stop_all();
}

static void on_signal(int signo)
{
    stop_request(signo);
}

int stop_requested(void)
{
    return atomic_load(&requested);
}

void stop_clear(void)
{
    atomic_store(&requested, 0);
    spawn_stop_reset();
}

int stop_watch(struct stop_saved *saved)
{
    struct sigaction sa;

    stop_clear();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESETHAND: a second signal takes the default action (ends the process). SA_RESTART: the
     * threads' system calls are not cut short; they look at the request between steps. */
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    if (sigaction(SIGTERM, &sa, &saved->term) < 0)
        return -1;
    if (sigaction(SIGINT, &sa, &saved->intr) < 0) {
        sigaction(SIGTERM, &saved->term, NULL);
        return -1;
    }
    return 0;
}

void stop_unwatch(const struct stop_saved *saved)
{
    sigaction(SIGTERM, &saved->term, NULL);
    sigaction(SIGINT, &saved->intr, NULL);
}
