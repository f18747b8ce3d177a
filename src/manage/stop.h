/* stop.h — a graceful stop: SIGTERM (systemctl stop, a shutdown, systemd's start timeout) or
 * SIGINT (Ctrl-C) asks `ccs renew` and `ccs task run` to stop, not to die.
 *
 * What a stop does: no new work starts (no certificate, order or task after the signal); work in
 * progress reaches a safe point: an order is abandoned at its next step (a poll of the CA, a
 * wait between two: acme_options.stop_asked), its challenges withdrawn as after any order (a
 * dns-01 hook's done/failed still runs, util/spawn.h's clean-ups), its key and record kept so the
 * next run finishes the renewal with that key; a task that writes files finishes its renames;
 * programs we run — hooks and task scripts — are stopped as at their timeout (util/spawn.h:
 * SIGTERM to their process group, SIGKILL after the grace); what was left undone stays owed
 * (manage/owed.h) for the next run; the lock is released and the run exits with its own status.
 * A stop is nobody's failure: it adds to no backoff.
 *
 * The first signal restores the default action, so a second one ends the process at once. */
#ifndef CCS_MANAGE_STOP_H
#define CCS_MANAGE_STOP_H

#include <signal.h>

struct stop_saved {
    struct sigaction term, intr;
};

/* Install the handlers (clearing an earlier stop request); SAVED keeps the old ones. */
int stop_watch(struct stop_saved *saved);
/* Put the old handlers back. The request, if one came, stays visible to stop_requested. */
void stop_unwatch(const struct stop_saved *saved);

/* The signal that asked to stop, or 0. Any thread may ask, at any time. */
int stop_requested(void);

/* Ask to stop as the handler does (for tests, and for a caller that must stop on its own). */
void stop_request(int signo);

/* Forget a request (stop_watch does it too): for tests that stop more than once. */
void stop_clear(void);

#endif
