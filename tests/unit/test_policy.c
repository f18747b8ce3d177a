/* Unit tests for src/manage/policy.c: when a certificate is due, with the clock set by the test.
 *
 * The certificate under test, unless a test says otherwise: 90 days from
 * 2026-01-01T00:00:00Z (NB) to 2026-04-01T00:00:00Z (NA90). Its 75% point is day 67.5:
 * NB + 5,832,000 s = 2026-03-09T12:00:00Z (Jan 31 + Feb 28 = 59 days to March 1, +8.5 days). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "manage/policy.h"

#define HOUR 3600
#define DAY 86400
#define NB ((time_t)1767225600)     /* 2026-01-01T00:00:00Z */
#define NA90 (NB + 90 * DAY)        /* 2026-04-01T00:00:00Z */
#define P75 (NB + 5832000)          /* 2026-03-09T12:00:00Z: 75% of 90 days */
#define NA6 (NB + 6 * DAY)          /* a 6-day (Let's Encrypt "shortlived") certificate */
#define ARI_TWO_DAYS_AT_0999 172627 /* (time_t)(2 × 86400 × 0.999) = 172627.2 rounded down */

static struct policy_input cert90(time_t now)
{
    struct policy_input in;

    memset(&in, 0, sizeof(in));
    in.now = now;
    in.has_cert = 1;
    in.not_before = NB;
    in.not_after = NA90;
    in.policy.mode = RENEWAL_PERCENT_OF_LIFETIME;
    in.policy.value = 75;
    return in;
}

static struct policy_decision decide(const struct policy_input *in)
{
    struct policy_decision out;

    memset(&out, 0xA5, sizeof(out)); /* policy_decide must set every field */
    policy_decide(in, &out);
    return out;
}

static void assert_why(const struct policy_decision *d, const char *expected)
{
    if (strcmp(d->why, expected) != 0)
        fail_msg("why: \"%s\"\n  expected \"%s\"", d->why, expected);
}

static void assert_why_has(const struct policy_decision *d, const char *part)
{
    if (!strstr(d->why, part))
        fail_msg("why: \"%s\"\n  lacks \"%s\"", d->why, part);
}

static struct renewal_policy policy(enum renewal_mode mode, double value)
{
    struct renewal_policy p = {.mode = mode, .value = value};
    return p;
}

/* ---- the policy's point ---- */

static void test_percent_75_of_90_days(void **state)
{
    struct renewal_policy p = policy(RENEWAL_PERCENT_OF_LIFETIME, 75);
    struct policy_input in;
    struct policy_decision d;
    (void)state;

    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), P75);

    in = cert90(P75 - 1);
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, P75);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "due on 2026-03-09T12:00:00Z (75% of lifetime)");

    in.now = P75;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.renew_at, P75);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "75% of lifetime reached on 2026-03-09T12:00:00Z");

    in.now = P75 + 10 * DAY;
    d = decide(&in);
    assert_true(d.due);
}

static void test_percent_other_values(void **state)
{
    struct renewal_policy p = policy(RENEWAL_PERCENT_OF_LIFETIME, 50);
    (void)state;

    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NB + 45 * DAY);
    p.value = 66.5; /* 7,776,000 × 0.665 = 5,171,040 */
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NB + 5171040);
    p.value = 75; /* 6 days × 0.75 = 4.5 days */
    assert_int_equal(policy_renewal_point(&p, NB, NA6, 0), NB + 4 * DAY + 12 * HOUR);
    p.value = 0;
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NB);
    p.value = 100;
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NA90);
}

static void test_days_before_expiry(void **state)
{
    struct policy_input in = cert90(0);
    struct policy_decision d;
    time_t point = NA90 - 30 * DAY; /* NB + 60 days = 2026-03-02T00:00:00Z */
    (void)state;

    in.policy = policy(RENEWAL_DAYS_BEFORE_EXPIRY, 30);
    assert_int_equal(policy_renewal_point(&in.policy, NB, NA90, 0), point);
    assert_int_equal(policy_renewal_point(&in.policy, NB, NA90, NB + DAY), point); /* ignored */

    in.now = point - 1;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, point);
    assert_why(&d, "due on 2026-03-02T00:00:00Z (30 days before expiry)");
    in.now = point;
    d = decide(&in);
    assert_true(d.due);
    assert_why(&d, "30 days before expiry reached on 2026-03-02T00:00:00Z");

    in.policy.value = 2.5;
    assert_int_equal(policy_renewal_point(&in.policy, NB, NA90, 0), NA90 - 2 * DAY - 12 * HOUR);
    in.policy.value = 1;
    in.now = NA90 - DAY;
    d = decide(&in);
    assert_why(&d, "1 day before expiry reached on 2026-03-31T00:00:00Z");
}

static void test_days_after_renewal(void **state)
{
    struct policy_input in = cert90(0);
    struct policy_decision d;
    time_t last = NB + HOUR; /* 2026-01-01T01:00:00Z */
    (void)state;

    in.policy = policy(RENEWAL_DAYS_AFTER_RENEWAL, 60);

    /* Without a last renewal: from not_before. NB + 60 days = 2026-03-02T00:00:00Z. */
    assert_int_equal(policy_renewal_point(&in.policy, NB, NA90, 0), NB + 60 * DAY);
    in.now = NB + 60 * DAY - 1;
    d = decide(&in);
    assert_false(d.due);
    assert_why(&d, "due on 2026-03-02T00:00:00Z (60 days after issuance)");
    in.now = NB + 60 * DAY;
    d = decide(&in);
    assert_true(d.due);
    assert_why(&d, "60 days after issuance reached on 2026-03-02T00:00:00Z");

    /* With one: from it. */
    in.last_renewal = last;
    assert_int_equal(policy_renewal_point(&in.policy, NB, NA90, last), last + 60 * DAY);
    in.now = last + 60 * DAY - 1;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, last + 60 * DAY);
    assert_why(&d, "due on 2026-03-02T01:00:00Z (60 days after the last renewal)");
    in.now = last + 60 * DAY;
    d = decide(&in);
    assert_true(d.due);
}

static void test_clamping(void **state)
{
    struct renewal_policy p;
    struct policy_input in = cert90(NB + HOUR);
    struct policy_decision d;
    (void)state;

    p = policy(RENEWAL_PERCENT_OF_LIFETIME, 150);
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NA90);
    p = policy(RENEWAL_PERCENT_OF_LIFETIME, -10);
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NB);
    p = policy(RENEWAL_PERCENT_OF_LIFETIME, NAN); /* renew rather than never */
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), NB);
    /* Days-based points outside the certificate's life fall back to 75% of it (as Certify
     * does): renewing at issuance forever, or at the moment of expiry, helps nobody. */
    p = policy(RENEWAL_DAYS_BEFORE_EXPIRY, 100);
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), P75);
    p = policy(RENEWAL_DAYS_BEFORE_EXPIRY, 1e300); /* no overflow on the way */
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), P75);
    p = policy(RENEWAL_DAYS_AFTER_RENEWAL, 100);
    assert_int_equal(policy_renewal_point(&p, NB, NA90, 0), P75);
    assert_int_equal(policy_renewal_point(&p, NB, NA90, NA90 + DAY), P75);
    p = policy(RENEWAL_DAYS_AFTER_RENEWAL, 5); /* renewed 10 days before this cert's not_before */
    assert_int_equal(policy_renewal_point(&p, NB, NA90, NB - 10 * DAY), P75);
    /* No lifetime at all: its not_after. */
    assert_int_equal(policy_renewal_point(&p, NB, NB, 0), NB);
    assert_int_equal(policy_renewal_point(&p, NB, NB - DAY, 0), NB - DAY);

    /* A 30-days-before-expiry policy on a 6-day certificate: 75% of its 6 days, and said. */
    in.not_after = NA6;
    in.policy = policy(RENEWAL_DAYS_BEFORE_EXPIRY, 30);
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, NB + 6 * DAY * 3 / 4);
    assert_why(&d, "due on 2026-01-05T12:00:00Z (30 days before expiry, outside the "
                   "certificate's life: 75% of lifetime instead)");
    in.policy = policy(RENEWAL_DAYS_AFTER_RENEWAL, 30);
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, NB + 6 * DAY * 3 / 4);
}

/* ---- ARI (RFC 9773 §4.2): a random point in the window, never later than the policy's ---- */

static void test_ari_window_before_policy_point(void **state)
{
    struct policy_input in = cert90(NB + DAY);
    struct policy_decision d;
    time_t start = P75 - 10 * DAY; /* 2026-02-27T12:00:00Z */
    (void)state;

    in.has_ari = 1;
    in.ari_start = start;
    in.ari_end = start + 2 * DAY; /* 2026-03-01T12:00:00Z */

    in.unit_random = 0;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, start);
    assert_why(&d, "due on 2026-02-27T12:00:00Z (ARI window 2026-02-27T12:00:00Z .. "
                   "2026-03-01T12:00:00Z)");

    in.unit_random = 0.999;
    d = decide(&in);
    assert_int_equal(d.renew_at, start + ARI_TWO_DAYS_AT_0999);
    in.now = start + ARI_TWO_DAYS_AT_0999 - 1;
    d = decide(&in);
    assert_false(d.due);
    in.now = start + ARI_TWO_DAYS_AT_0999;
    d = decide(&in);
    assert_true(d.due);
    assert_why(&d, "due on 2026-03-01T11:57:07Z (ARI window 2026-02-27T12:00:00Z .. "
                   "2026-03-01T12:00:00Z)");
}

static void test_ari_window_after_policy_point(void **state)
{
    struct policy_input in = cert90(NB + DAY);
    struct policy_decision d;
    (void)state;

    in.has_ari = 1;
    in.ari_start = P75 + DAY;
    in.ari_end = P75 + 3 * DAY;
    in.unit_random = 0;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, P75);
    assert_why(&d, "due on 2026-03-09T12:00:00Z (75% of lifetime, before the ARI window "
                   "2026-03-10T12:00:00Z .. 2026-03-12T12:00:00Z)");
    in.now = P75;
    d = decide(&in);
    assert_true(d.due);
}

static void test_ari_window_around_policy_point(void **state)
{
    struct policy_input in = cert90(NB + DAY);
    struct policy_decision d;
    (void)state;

    in.has_ari = 1;
    in.ari_start = P75 - DAY;
    in.ari_end = P75 + DAY;
    in.unit_random = 0; /* the window's start: before the policy's point */
    d = decide(&in);
    assert_int_equal(d.renew_at, P75 - DAY);
    in.unit_random = 0.999; /* start + 172,627 s: after the policy's point, so the point */
    d = decide(&in);
    assert_int_equal(d.renew_at, P75);
    assert_why_has(&d, "before the ARI window");
}

static void test_ari_window_passed(void **state)
{
    struct policy_input in = cert90(NB + 10 * DAY);
    struct policy_decision d;
    (void)state;

    in.has_ari = 1;
    in.ari_start = NB + 5 * DAY;
    in.ari_end = NB + 7 * DAY;
    in.unit_random = 0.5;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.renew_at, NB + 6 * DAY);
    assert_why(&d, "due on 2026-01-07T00:00:00Z (ARI window 2026-01-06T00:00:00Z .. "
                   "2026-01-08T00:00:00Z, passed)");
}

static void test_ari_bad_inputs(void **state)
{
    struct policy_input in = cert90(NB + DAY);
    struct policy_decision d;
    (void)state;

    in.has_ari = 1;
    /* A window that ends where it starts (or before): ignored, the policy's point holds. */
    in.ari_start = in.ari_end = NB + 2 * DAY;
    d = decide(&in);
    assert_int_equal(d.renew_at, P75);
    in.ari_end = NB + DAY;
    d = decide(&in);
    assert_int_equal(d.renew_at, P75);
    /* unit_random outside [0, 1), or NaN: the window's start. */
    in.ari_start = NB + 2 * DAY;
    in.ari_end = NB + 4 * DAY;
    in.unit_random = 1.0;
    assert_int_equal(decide(&in).renew_at, NB + 2 * DAY);
    in.unit_random = -0.5;
    assert_int_equal(decide(&in).renew_at, NB + 2 * DAY);
    in.unit_random = NAN;
    assert_int_equal(decide(&in).renew_at, NB + 2 * DAY);
    /* has_ari unset: the window is not looked at. */
    in.has_ari = 0;
    in.unit_random = 0;
    assert_int_equal(decide(&in).renew_at, P75);
}

/* ---- backoff (Certify's rule, field notes §2) ----
 *
 * wait = min((1 + maxWait_h / 10) × failures, maxWait_h) hours from 4 failures; none below.
 *
 * 90 days: maxWait = min(10% × 2160 h = 216 h, 48 h) = 48 h; per failure 1 + 4.8 = 5.8 h
 *   failures  1..3   4        5       6        7        8        9        10
 *   hours     0      23.2     29      34.8     40.6     46.4     48(52.2) 48(58)
 *   seconds   0      83520    104400  125280   146160   167040   172800   172800
 *
 * 6 days: maxWait = min(10% × 144 h = 14.4 h, 48 h) = 14.4 h; per failure 1 + 1.44 = 2.44 h
 *   failures  1..3   4        5       6            7..10
 *   hours     0      9.76     12.2    14.4(14.64)  14.4
 *   seconds   0      35136    43920   51840        51840 */

static const time_t backoff_90_days[11] = {0,      0,      0,      0,      83520, 104400,
                                           125280, 146160, 167040, 172800, 172800};
static const time_t backoff_6_days[11] = {0,     0,     0,     0,     35136, 43920,
                                          51840, 51840, 51840, 51840, 51840};

static void check_backoff_table(const time_t *table, time_t lifetime)
{
    time_t last = NB + 40 * DAY;
    int failures;

    for (failures = 0; failures <= 10; failures++) {
        time_t got = policy_backoff_until(failures, last, lifetime) - last;
        if (got != table[failures])
            fail_msg("lifetime %lld s, %d failures: wait %lld s, expected %lld s",
                     (long long)lifetime, failures, (long long)got, (long long)table[failures]);
    }
}

static void test_backoff_90_days(void **state)
{
    (void)state;
    check_backoff_table(backoff_90_days, 90 * DAY);
}

static void test_backoff_6_days(void **state)
{
    (void)state;
    check_backoff_table(backoff_6_days, 6 * DAY);
}

static void test_backoff_unknown_lifetime(void **state)
{
    (void)state;
    check_backoff_table(backoff_90_days, 0); /* 90 days assumed */
    check_backoff_table(backoff_90_days, -DAY);
    assert_int_equal(policy_backoff_until(-1, NB, 90 * DAY), NB);
    /* Many failures: the cap, no overflow. */
    assert_int_equal(policy_backoff_until(2147483647, NB, 90 * DAY), NB + 48 * HOUR);
}

static void test_decide_backs_off(void **state)
{
    struct policy_input in = cert90(P75 + 10 * DAY); /* 2026-03-19T12:00:00Z */
    struct policy_decision d;
    time_t until;
    (void)state;

    in.last_attempt = in.now - HOUR;
    in.failure_count = 3; /* under 4: the next check */
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);

    in.failure_count = 5; /* 29 h after 11:00 */
    until = in.last_attempt + 104400;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.renew_at, P75);
    assert_int_equal(d.not_before, until);
    assert_why(&d, "backing off after 5 failures until 2026-03-20T16:00:00Z; 75% of lifetime "
                   "reached on 2026-03-09T12:00:00Z");
    in.now = until - 1;
    assert_false(decide(&in).due);
    in.now = until;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);

    /* Not yet due anyway: not_before still says when the backoff ends. */
    in.now = P75 - 2 * DAY;
    in.last_attempt = in.now - HOUR;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.not_before, in.last_attempt + 104400);
    assert_why(&d, "due on 2026-03-09T12:00:00Z (75% of lifetime)");
}

static void test_retry_after_is_a_floor(void **state)
{
    struct policy_input in = cert90(P75 + DAY);
    struct policy_decision d;
    (void)state;

    in.retry_not_before = in.now + 2 * HOUR; /* no failures of ours */
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.not_before, in.retry_not_before);
    assert_why(&d, "rate limited by the CA until 2026-03-10T14:00:00Z; 75% of lifetime reached "
                   "on 2026-03-09T12:00:00Z");
    in.now = in.retry_not_before;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);

    /* Both: the later wins, and is named. 4 failures: 23.2 h after the last attempt. */
    in.now = P75 + DAY;
    in.failure_count = 4;
    in.last_attempt = in.now - HOUR;
    in.retry_not_before = in.now + 30 * HOUR;
    d = decide(&in);
    assert_int_equal(d.not_before, in.retry_not_before);
    assert_why_has(&d, "rate limited by the CA until");
    in.retry_not_before = in.now + HOUR;
    d = decide(&in);
    assert_int_equal(d.not_before, in.last_attempt + 83520);
    assert_why_has(&d, "backing off after 4 failures until");

    /* A Retry-After in the past holds nothing. */
    in.failure_count = 0;
    in.retry_not_before = in.now - 1;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);
}

static void test_expiring_certificate(void **state)
{
    struct policy_input in = cert90(NA90 - 12 * HOUR);
    struct policy_decision d;
    (void)state;

    /* 8 failures would mean 46.4 h; within 24 h of expiry our own backoff is lifted. */
    in.failure_count = 8;
    in.last_attempt = in.now - HOUR;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "75% of lifetime reached on 2026-03-09T12:00:00Z; retrying despite 8 "
                   "failures: expires on 2026-04-01T00:00:00Z");

    /* ... but the CA's Retry-After still holds. */
    in.retry_not_before = in.now + HOUR;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.not_before, in.retry_not_before);
    assert_why_has(&d, "rate limited by the CA until 2026-03-31T13:00:00Z");
    in.retry_not_before = 0;

    /* 30 h before expiry: the backoff holds, but only until not_after − 24 h. */
    in.now = NA90 - 30 * HOUR;
    in.last_attempt = in.now - HOUR;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.not_before, NA90 - 24 * HOUR);
    assert_why_has(&d, "backing off after 8 failures until 2026-03-31T00:00:00Z");

    /* Expired: retried at every check. */
    in.now = NA90 + 5 * DAY;
    in.failure_count = 10;
    in.last_attempt = in.now - HOUR;
    d = decide(&in);
    assert_true(d.due);
    assert_why(&d, "expired on 2026-04-01T00:00:00Z; retrying despite 10 failures");
    in.failure_count = 0;
    d = decide(&in);
    assert_why(&d, "expired on 2026-04-01T00:00:00Z");

    /* A 6-day certificate 20 h from expiry after 6 failures (14.4 h): lifted too. */
    in = cert90(NA6 - 20 * HOUR);
    in.not_after = NA6;
    in.failure_count = 6;
    in.last_attempt = in.now - HOUR;
    d = decide(&in);
    assert_true(d.due);
    assert_why_has(&d, "retrying despite 6 failures");
}

static void test_forced(void **state)
{
    struct policy_input in = cert90(NB + DAY);
    struct policy_decision d;
    (void)state;

    assert_false(decide(&in).due);
    in.forced = 1;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.renew_at, in.now);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "forced");

    /* Forced overrides our backoff and the CA's Retry-After (the CA will say no again). */
    in.failure_count = 10;
    in.last_attempt = in.now - HOUR;
    in.retry_not_before = in.now + HOUR;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "forced (the CA asked us to wait until 2026-01-02T01:00:00Z)");
}

static void test_no_certificate(void **state)
{
    struct policy_input in;
    struct policy_decision d;
    (void)state;

    memset(&in, 0, sizeof(in));
    in.now = NB;
    d = decide(&in);
    assert_true(d.due);
    assert_int_equal(d.renew_at, NB);
    assert_int_equal(d.not_before, 0);
    assert_why(&d, "no certificate yet");

    /* Failing to get the first one backs off too (90-day lifetime assumed: 5 failures = 29 h). */
    in.failure_count = 5;
    in.last_attempt = NB - HOUR;
    d = decide(&in);
    assert_false(d.due);
    assert_int_equal(d.not_before, NB - HOUR + 104400);
    assert_why(&d, "backing off after 5 failures until 2026-01-02T04:00:00Z; no certificate yet");
    in.failure_count = 0;
    in.retry_not_before = NB + HOUR;
    d = decide(&in);
    assert_false(d.due);
    assert_why(&d, "rate limited by the CA until 2026-01-01T01:00:00Z; no certificate yet");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_75_of_90_days),
        cmocka_unit_test(test_percent_other_values),
        cmocka_unit_test(test_days_before_expiry),
        cmocka_unit_test(test_days_after_renewal),
        cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_ari_window_before_policy_point),
        cmocka_unit_test(test_ari_window_after_policy_point),
        cmocka_unit_test(test_ari_window_around_policy_point),
        cmocka_unit_test(test_ari_window_passed),
        cmocka_unit_test(test_ari_bad_inputs),
        cmocka_unit_test(test_backoff_90_days),
        cmocka_unit_test(test_backoff_6_days),
        cmocka_unit_test(test_backoff_unknown_lifetime),
        cmocka_unit_test(test_decide_backs_off),
        cmocka_unit_test(test_retry_after_is_a_floor),
        cmocka_unit_test(test_expiring_certificate),
        cmocka_unit_test(test_forced),
        cmocka_unit_test(test_no_certificate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
