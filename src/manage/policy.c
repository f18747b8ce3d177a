/* policy.c — when to renew (policy.h). Pure: the clock, the CA's window and the failure history
 * are all inputs; nothing here reads the time, a file or the network.
 *
 * The decision in three steps:
 *   1. renew_at: the policy's point (percent / days before expiry / days after renewal, clamped to
 *      the certificate's validity); with ARI, a random point in the CA's window but never later
 *      than the policy's point. No certificate: now (and step 3 still applies, as in Certify:
 *      failing to get a first certificate backs off too). --force: due now, step 3 skipped.
 *   2. due = now >= renew_at.
 *   3. A floor on the attempt: our own backoff after failures (Certify's rule, below) and the CA's
 *      Retry-After. Inside the last POLICY_EXPIRY_GRACE_S of a certificate's life our own backoff
 *      no longer holds — a certificate about to expire is retried at every check — but the CA's
 *      Retry-After always does: asking again before it only earns another rateLimited.
 *      Certify keeps backing off to the end; we prefer a late retry to an outage. */
#include "manage/policy.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "acme/ari.h"
#include "store/certinfo.h"

#define SECONDS_PER_HOUR 3600
#define SECONDS_PER_DAY 86400
/* Lifetime assumed when it is unknown (no certificate yet): policy.h's 90 days, the lifetime
 * Let's Encrypt has issued since 2015. */
#define POLICY_ASSUMED_LIFETIME_S (90 * SECONDS_PER_DAY)
/* Certify: maxWait is 10% of the lifetime ... */
#define BACKOFF_LIFETIME_DIVISOR 10
/* ... and each failure adds (1 + maxWait_hours / 10) hours. */
#define BACKOFF_FACTOR_DIVISOR 10
/* Our own backoff never delays an attempt past not_after minus this: a day's worth of checks to
 * get a certificate before it expires (our choice, not Certify's). */
#define POLICY_EXPIRY_GRACE_S (24 * SECONDS_PER_HOUR)
#define UTC_SIZE sizeof("2026-12-01T00:00:00Z")

/* The policy's point before clamping, in seconds since the epoch (double: VALUE is fractional,
 * and a silly VALUE must not overflow a time_t before it is clamped). */
static double unclamped_point(const struct renewal_policy *p, time_t not_before, time_t not_after,
                              time_t last_renewal)
{
    switch (p->mode) {
    case RENEWAL_DAYS_BEFORE_EXPIRY:
        return (double)not_after - p->value * SECONDS_PER_DAY;
    case RENEWAL_DAYS_AFTER_RENEWAL:
        return (double)(last_renewal ? last_renewal : not_before) + p->value * SECONDS_PER_DAY;
    case RENEWAL_PERCENT_OF_LIFETIME:
    default:
        return (double)not_before + difftime(not_after, not_before) * p->value / 100;
    }
}

time_t policy_renewal_point(const struct renewal_policy *p, time_t not_before, time_t not_after,
                            time_t last_renewal)
{
    double at;

    if (not_after <= not_before)
        return not_after; /* no lifetime to take a share of: the earlier bound */
    at = unclamped_point(p, not_before, not_after, last_renewal);
    /* A days-based policy at least as long as the certificate lives (30 days before expiry of a
     * 6-day certificate) would renew at issuance forever, or at the moment of expiry: fall back to
     * the default share of the lifetime, as Certify does when the lifetime is shorter. */
    if (p->mode != RENEWAL_PERCENT_OF_LIFETIME &&
        (at <= (double)not_before || at >= (double)not_after)) {
        struct renewal_policy fallback = {RENEWAL_PERCENT_OF_LIFETIME, RENEWAL_DEFAULT_PERCENT};
        at = unclamped_point(&fallback, not_before, not_after, last_renewal);
    }
    if (!(at > (double)not_before)) /* also a NaN value: renew rather than never */
        return not_before;
    if (at >= (double)not_after)
        return not_after;
    return (time_t)at; /* rounded down to the second */
}

/* Certify's backoff, from webprofusion/certify src/Certify.Models/Config/ManagedCertificate.cs,
 * ManagedCertificate.CalculateNextRenewalAttempt (field notes §2):
 *
 *     if (RenewalFailureCount < 4)  -> due at the next check
 *     maxWaitHrs  = min(lifetime.TotalHours * 0.1, 48)
 *     factor      = 1 + (maxWaitHrs / 10)
 *     calcWaitHrs = min(1 * (factor * RenewalFailureCount), maxWaitHrs)
 *     next        = DateLastRenewalAttempt + calcWaitHrs
 *
 * factor hours are 3600 + maxWait_s / 10 seconds, so this stays in integer seconds (Certify uses
 * float hours; the results agree to the second). Where Certify does not know the lifetime it waits
 * max(0.25 h × failures, 1 h) at most; policy.h assumes 90 days instead (up to 48 h). */
time_t policy_backoff_until(int failures, time_t last_attempt, time_t lifetime_s)
{
    long long max_wait, per_failure, wait;

    if (failures < POLICY_BACKOFF_FREE_FAILURES)
        return last_attempt;
    if (lifetime_s <= 0)
        lifetime_s = POLICY_ASSUMED_LIFETIME_S;
    max_wait = (long long)lifetime_s / BACKOFF_LIFETIME_DIVISOR;
    if (max_wait > POLICY_BACKOFF_MAX_WAIT_CAP_S)
        max_wait = POLICY_BACKOFF_MAX_WAIT_CAP_S;
    per_failure = SECONDS_PER_HOUR + max_wait / BACKOFF_FACTOR_DIVISOR;
    wait = per_failure * failures; /* at most ~2^31 × 20880: no overflow in 64 bits */
    if (wait > max_wait)
        wait = max_wait;
    return last_attempt + (time_t)wait;
}

/* "75% of lifetime", "30 days before expiry", "60 days after the last renewal". Returns whether
 * the point was clamped to the certificate's validity. */
static int describe_policy(const struct policy_input *in, char *out, size_t size)
{
    const struct renewal_policy *p = &in->policy;
    const char *days = p->value == 1 ? "day" : "days";
    double at = unclamped_point(p, in->not_before, in->not_after, in->last_renewal);

    switch (p->mode) {
    case RENEWAL_DAYS_BEFORE_EXPIRY:
        snprintf(out, size, "%g %s before expiry", p->value, days);
        break;
    case RENEWAL_DAYS_AFTER_RENEWAL:
        snprintf(out, size, "%g %s after %s", p->value, days,
                 in->last_renewal ? "the last renewal" : "issuance");
        break;
    case RENEWAL_PERCENT_OF_LIFETIME:
    default:
        snprintf(out, size, "%g%% of lifetime", p->value);
        break;
    }
    return !(at > (double)in->not_before && at < (double)in->not_after);
}

/* The sentence for the policy's POINT alone. */
static void explain_point(const struct policy_input *in, time_t point, char *why, size_t size)
{
    char policy[96], at[UTC_SIZE];
    int clamped = describe_policy(in, policy, sizeof(policy));

    const char *note = !clamped ? ""
                       : in->policy.mode == RENEWAL_PERCENT_OF_LIFETIME
                           ? "clamped to the certificate's validity"
                           : "outside the certificate's life: 75% of lifetime instead";

    format_utc(point, at, sizeof(at));
    if (in->now >= point)
        snprintf(why, size, "%s reached on %s%s%s%s", policy, at, clamped ? " (" : "", note,
                 clamped ? ")" : "");
    else
        snprintf(why, size, "due on %s (%s%s%s)", at, policy, clamped ? ", " : "", note);
}

/* Step 1 for a certificate: the policy's point, or ARI's pick when that is earlier. Writes the
 * sentence that explains the choice (for the moment it is due, or still to come). */
static time_t choose_renew_at(const struct policy_input *in, char *why, size_t size)
{
    struct acme_suggested_window w = {.start = in->ari_start, .end = in->ari_end};
    time_t point =
        policy_renewal_point(&in->policy, in->not_before, in->not_after, in->last_renewal);
    char at[UTC_SIZE], start[UTC_SIZE], end[UTC_SIZE];
    double r = in->unit_random;
    time_t pick;

    if (!in->has_ari || in->ari_start >= in->ari_end) {
        explain_point(in, point, why, size);
        return point;
    }
    /* RFC 9773 §4.2: a uniformly random time in the window; if it is in the past, now. */
    if (!(r >= 0 && r < 1))
        r = 0; /* also NaN, which acme_ari_pick_time would pass on to a cast */
    pick = acme_ari_pick_time(&w, r);
    format_utc(in->ari_start, start, sizeof(start));
    format_utc(in->ari_end, end, sizeof(end));
    if (point < pick) {
        char policy[96];
        describe_policy(in, policy, sizeof(policy));
        format_utc(point, at, sizeof(at));
        snprintf(why, size, "due on %s (%s, before the ARI window %s .. %s)", at, policy, start,
                 end);
        return point;
    }
    format_utc(pick, at, sizeof(at));
    snprintf(why, size, "due on %s (ARI window %s .. %s%s)", at, start, end,
             in->ari_end < in->now ? ", passed" : "");
    return pick;
}

static void decide_forced(const struct policy_input *in, struct policy_decision *out)
{
    out->due = 1;
    out->renew_at = in->now;
    if (in->retry_not_before > in->now) {
        char until[UTC_SIZE];
        format_utc(in->retry_not_before, until, sizeof(until));
        snprintf(out->why, sizeof(out->why), "forced (the CA asked us to wait until %s)", until);
    } else {
        snprintf(out->why, sizeof(out->why), "forced");
    }
}

/* Step 3: the floor from our own backoff (0: none), never past not_after − the grace. Sets
 * *LIFTED when the backoff would have held but the certificate is too close to expiry. */
static time_t own_backoff(const struct policy_input *in, int *lifted)
{
    time_t lifetime = in->has_cert ? in->not_after - in->not_before : 0;
    time_t until, latest;

    *lifted = 0;
    if (in->failure_count < POLICY_BACKOFF_FREE_FAILURES)
        return 0;
    until = policy_backoff_until(in->failure_count, in->last_attempt, lifetime);
    if (!in->has_cert)
        return until;
    latest = in->not_after - POLICY_EXPIRY_GRACE_S;
    if (until > latest) {
        *lifted = until > in->now && latest <= in->now;
        until = latest;
    }
    return until;
}

/* Step 1 and its sentence. */
static time_t choose_start(const struct policy_input *in, char *why, size_t size)
{
    time_t at;

    if (!in->has_cert) {
        snprintf(why, size, "no certificate yet");
        return in->now;
    }
    at = choose_renew_at(in, why, size);
    if (in->now >= in->not_after) { /* past every point: the expiry is what matters */
        char expiry[UTC_SIZE];
        format_utc(in->not_after, expiry, sizeof(expiry));
        snprintf(why, size, "expired on %s", expiry);
    }
    return at;
}

/* The sentence: BASE, after what holds the attempt back (HELD_BY_CA: the CA's Retry-After, else
 * our backoff), or with a note that our backoff was LIFTED near expiry. */
static void explain(const struct policy_input *in, struct policy_decision *out, const char *base,
                    int held_by_ca, int lifted)
{
    char until[UTC_SIZE], expiry[UTC_SIZE];
    size_t size = sizeof(out->why);

    format_utc(out->not_before, until, sizeof(until));
    format_utc(in->not_after, expiry, sizeof(expiry));
    if (in->now < out->renew_at || (!out->not_before && !lifted))
        snprintf(out->why, size, "%s", base);
    else if (out->not_before && held_by_ca)
        snprintf(out->why, size, "rate limited by the CA until %s; %s", until, base);
    else if (out->not_before)
        snprintf(out->why, size, "backing off after %d failures until %s; %s", in->failure_count,
                 until, base);
    else if (in->now >= in->not_after)
        snprintf(out->why, size, "%s; retrying despite %d failures", base, in->failure_count);
    else
        snprintf(out->why, size, "%s; retrying despite %d failures: expires on %s", base,
                 in->failure_count, expiry);
}

void policy_decide(const struct policy_input *in, struct policy_decision *out)
{
    char base[200];
    time_t ours;
    int lifted;

    memset(out, 0, sizeof(*out));
    if (in->forced) {
        decide_forced(in, out);
        return;
    }
    out->renew_at = choose_start(in, base, sizeof(base));
    ours = own_backoff(in, &lifted);
    out->not_before = ours > in->retry_not_before ? ours : in->retry_not_before;
    if (out->not_before <= in->now)
        out->not_before = 0; /* nothing holds */
    out->due = in->now >= out->renew_at && !out->not_before;
    explain(in, out, base, in->retry_not_before >= ours, lifted);
}

double policy_unit_random(const char *name, const char *serial)
{
    unsigned char md[32];
    char buf[512];
    unsigned long long v = 0;

    snprintf(buf, sizeof(buf), "%s/%s", name, serial);
    EVP_Digest(buf, strlen(buf), md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 7; i++)
        v = v << 8 | md[i];
    return (double)v / (double)(1ULL << 56);
}
