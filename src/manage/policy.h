/* policy.h — when to renew. Pure functions of their inputs: the clock is a parameter, so tests
 * set it.
 *
 * The policy's point: percent of lifetime (default 75%), days before expiry, or days after the
 * last renewal. When the CA offers ARI, renew at a random point inside its suggested window, and
 * never later than the policy's point. After failures, back off as Certify does (field notes §2):
 * under 4 consecutive failures retry at the next check; from 4, wait
 * min((1 + maxWait/10) × failures, maxWait) hours, maxWait = 10% of the lifetime capped at 48 h.
 * A CA's Retry-After (rate limit) is a floor on the next attempt. */
#ifndef CCS_MANAGE_POLICY_H
#define CCS_MANAGE_POLICY_H

#include <time.h>

#include "manage/config.h"

#define POLICY_BACKOFF_FREE_FAILURES 4
#define POLICY_BACKOFF_MAX_WAIT_CAP_S (48 * 3600)

struct policy_input {
    time_t now;
    int has_cert; /* no certificate yet: due now */
    time_t not_before, not_after;
    time_t last_renewal; /* 0: unknown (treated as not_before) */
    struct renewal_policy policy;
    int has_ari;
    time_t ari_start, ari_end;
    double unit_random; /* [0,1): where in the ARI window (fixed by the caller: stable per cert) */
    int failure_count;
    time_t last_attempt;
    time_t retry_not_before; /* the CA's Retry-After, or 0 */
    int forced;              /* --force or named on the command line with --force */
};

struct policy_decision {
    int due;          /* renew now */
    time_t renew_at;  /* the point the policy (and ARI) chose */
    time_t not_before; /* backoff / Retry-After: no attempt before this (0 = none) */
    char why[256];    /* "75% of lifetime reached on 2026-...", "ARI window ...", "backing off ..." */
};

/* A stable number in [0,1) per certificate and serial: where in an ARI window it renews, the same
 * on every run and in `ccs status` (so the point does not move every time ccs looks). */
double policy_unit_random(const char *name, const char *serial);

void policy_decide(const struct policy_input *in, struct policy_decision *out);

/* The policy's point alone (no ARI, no backoff). */
time_t policy_renewal_point(const struct renewal_policy *p, time_t not_before, time_t not_after,
                            time_t last_renewal);

/* When the next attempt is allowed after FAILURES consecutive failures, the last at LAST_ATTEMPT,
 * for a certificate whose lifetime is LIFETIME_S (0 when unknown: 90 days assumed). */
time_t policy_backoff_until(int failures, time_t last_attempt, time_t lifetime_s);

#endif
