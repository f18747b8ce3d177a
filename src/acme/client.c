#include "acme/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/jws.h"
#include "util/log.h"

#define PROBLEM_PREFIX "urn:ietf:params:acme:error:"

void acme_sleep_ms(long milliseconds)
{
    struct timespec ts = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    while (milliseconds > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void acme_sleep(long seconds)
{
    acme_sleep_ms(seconds * 1000);
}

/* How often a wait looks whether its caller asked to stop: a stop (SIGTERM from systemd) is
 * then seen within a tenth of a second, at the cost of ten wake-ups a second while waiting. */
#define STOP_CHECK_MS 100

int acme_stop_asked(const struct acme_client *c)
{
    return c->stop_asked && c->stop_asked();
}

int acme_wait_ms(struct acme_client *c, long milliseconds, const char *what, struct errbuf *err)
{
    for (;;) {
        long slice = milliseconds < STOP_CHECK_MS ? milliseconds : STOP_CHECK_MS;
        if (acme_stop_asked(c))
            return errbuf_set(err, "%s: abandoned: asked to stop", what);
        if (milliseconds <= 0)
            return 0;
        acme_sleep_ms(slice);
        milliseconds -= slice;
    }
}

/* Backoff for server errors: 1, 2, 4, ... seconds, capped at the maximum wait. */
static long backoff_s(int attempt, long cap)
{
    long s = 1L << (attempt < 10 ? attempt : 10);
    return s < cap ? s : cap;
}

static int is_server_error(long status)
{
    return status >= 500 && status != 503;
}

/* GET/HEAD with retries for transport errors and 5xx, honouring Retry-After on 503. */
static int request_with_retries(struct acme_client *c, const char *method, const char *url,
                                struct http_response *resp, struct errbuf *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = http_request(c->http, method, url, NULL, resp, err);
        long wait;
        if (rc == 0 && resp->status < 500)
            return 0;
        if (attempt + 1 >= c->max_attempts) {
            if (rc == 0) {
                errbuf_set(err, "%s %s: HTTP %ld after %d attempts", method, url, resp->status,
                           attempt + 1);
                http_response_free(resp);
            }
            return -1;
        }
        wait = backoff_s(attempt, c->max_retry_wait_s);
        if (rc == 0 && resp->status == 503) {
            long ra = http_retry_after_seconds(resp->retry_after, time(NULL));
            if (ra > c->max_retry_wait_s)
                return errbuf_set(err, "%s %s: service unavailable; retry after %ld s",
                                  method, url, ra);
            if (ra >= 0)
                wait = ra;
        }
        log_debug("%s %s: %s; retrying in %ld s", method, url,
                  rc < 0 ? err->msg : "server error", wait);
        if (rc == 0)
            http_response_free(resp);
        c->server_error_retries++;
        if (acme_wait_ms(c, wait * 1000, url, err) < 0)
            return -1;
    }
}

static int take_nonce(struct acme_client *c, char **out, struct errbuf *err)
{
    struct http_response resp;

    if (c->nonce) {
        *out = c->nonce;
        c->nonce = NULL;
        return 0;
    }
    if (request_with_retries(c, "HEAD", c->dir.new_nonce, &resp, err) < 0)
        return errbuf_prefix(err, "cannot get a nonce");
    if (!resp.replay_nonce) {
        http_response_free(&resp);
        return errbuf_set(err, "%s: the CA sent no Replay-Nonce", c->dir.new_nonce);
    }
    *out = resp.replay_nonce;
    resp.replay_nonce = NULL;
    http_response_free(&resp);
    return 0;
}

/* Every response may carry a fresh nonce: keep the newest. */
static void keep_nonce(struct acme_client *c, struct http_response *resp)
{
    if (resp->replay_nonce) {
        free(c->nonce);
        c->nonce = resp->replay_nonce;
        resp->replay_nonce = NULL;
    }
}

int acme_client_open(const struct acme_options *opts, struct acme_client **out, struct errbuf *err)
{
    struct acme_client *c = calloc(1, sizeof(*c));
    struct http_response resp;

    *out = NULL;
    if (!c || !(c->directory_url = strdup(opts->directory_url))) {
        free(c);
        return errbuf_set(err, "out of memory");
    }
    c->max_retry_wait_s = opts->max_retry_wait_s > 0 ? opts->max_retry_wait_s
                                                     : ACME_DEFAULT_MAX_RETRY_WAIT_S;
    c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : ACME_DEFAULT_MAX_ATTEMPTS;
    c->stop_asked = opts->stop_asked;
    if (http_client_new(opts->ca_bundle, opts->timeout_s > 0 ? opts->timeout_s
                                                             : ACME_DEFAULT_TIMEOUT_S,
                        &c->http, err) < 0)
        goto fail;
    http_client_set_stop(c->http, c->stop_asked);
    if (request_with_retries(c, "GET", c->directory_url, &resp, err) < 0) {
        errbuf_prefix(err, "cannot reach the ACME directory");
        goto fail;
    }
    if (resp.status != 200) {
        errbuf_set(err, "ACME directory %s: HTTP %ld", c->directory_url, resp.status);
        http_response_free(&resp);
        goto fail;
    }
    if (acme_parse_directory(resp.body, resp.body_len, &c->dir, err) < 0) {
        errbuf_prefix(err, "%s", c->directory_url);
        http_response_free(&resp);
        goto fail;
    }
    http_response_free(&resp);
    *out = c;
    return 0;
fail:
    acme_client_close(c);
    return -1;
}

void acme_client_close(struct acme_client *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    acme_directory_free(&c->dir);
    free(c->directory_url);
    free(c->nonce);
    free(c->kid);
    free(c);
}

int acme_client_set_account(struct acme_client *c, EVP_PKEY *key, const char *kid,
                            struct errbuf *err)
{
    char *copy = NULL;

    if (kid && !(copy = strdup(kid)))
        return errbuf_set(err, "out of memory");
    free(c->kid);
    c->kid = copy;
    c->account_key = key;
    return 0;
}

static int problem_type_is(const struct acme_problem *p, const char *short_type)
{
    return p->type && strncmp(p->type, PROBLEM_PREFIX, sizeof(PROBLEM_PREFIX) - 1) == 0 &&
           strcmp(p->type + sizeof(PROBLEM_PREFIX) - 1, short_type) == 0;
}

/* Turn an error response into ERR (and PROBLEM). */
static int report_problem(const char *url, struct http_response *resp, struct acme_problem *out,
                          struct errbuf *err)
{
    struct acme_problem p;
    struct errbuf perr;
    char text[ERRBUF_SIZE];

    if (acme_parse_problem(resp->body, resp->body_len, &p, &perr) < 0) {
        acme_problem_free(&p);
        return errbuf_set(err, "%s: HTTP %ld (%.200s)", url, resp->status,
                          resp->body_len ? resp->body : "empty body");
    }
    acme_problem_describe(&p, text, sizeof(text));
    errbuf_set(err, "%s: HTTP %ld: %s", url, resp->status, text);
    if (out)
        *out = p;
    else
        acme_problem_free(&p);
    return -1;
}

/* Sign and send once; the caller loops for retries. BODY_PREBUILT skips signing. */
static int post_once(struct acme_client *c, const char *url, const char *payload, int use_jwk,
                     const char *body_prebuilt, struct http_response *resp, struct errbuf *err)
{
    char *nonce = NULL, *body = NULL;
    int rc;

    if (!body_prebuilt) {
        if (!c->account_key)
            return errbuf_set(err, "%s: no account key to sign with", url);
        if (!use_jwk && !c->kid)
            return errbuf_set(err, "%s: no account yet (register first)", url);
        if (take_nonce(c, &nonce, err) < 0)
            return -1;
        body = jws_sign(c->account_key, use_jwk ? NULL : c->kid, nonce, url, payload, err);
        free(nonce);
        if (!body)
            return -1;
    }
    rc = http_request(c->http, "POST", url, body_prebuilt ? body_prebuilt : body, resp, err);
    free(body);
    if (rc == 0)
        keep_nonce(c, resp);
    return rc;
}

static int post_with_retries(struct acme_client *c, const char *url, const char *payload,
                             int use_jwk, const char *prebuilt, struct http_response *resp,
                             struct acme_problem *problem, struct errbuf *err)
{
    unsigned bad_nonces = 0;
    int failures = 0;

    if (problem)
        memset(problem, 0, sizeof(*problem));
    for (;;) {
        struct acme_problem p = {0};
        long wait;

        if (post_once(c, url, payload, use_jwk, prebuilt, resp, err) < 0) {
            /* Transport error: back off and retry, bounded. */
            if (++failures >= c->max_attempts)
                return -1;
            wait = backoff_s(failures - 1, c->max_retry_wait_s);
            log_debug("%s; retrying in %ld s", err->msg, wait);
            c->server_error_retries++;
            if (acme_wait_ms(c, wait * 1000, url, err) < 0)
                return -1;
            continue;
        }
        if (resp->status < 400)
            return 0;
        if (report_problem(url, resp, &p, err) < 0 && problem_type_is(&p, "badNonce") &&
            !prebuilt && bad_nonces < ACME_MAX_BAD_NONCE_RETRIES) {
            bad_nonces++;
            c->bad_nonce_retries++;
            acme_problem_free(&p);
            http_response_free(resp);
            continue;
        }
        if (resp->status == 429 || resp->status == 503 || problem_type_is(&p, "rateLimited")) {
            long ra = http_retry_after_seconds(resp->retry_after, time(NULL));
            if (ra < 0)
                ra = backoff_s(failures, c->max_retry_wait_s);
            if (ra > c->max_retry_wait_s || ++failures >= c->max_attempts) {
                char when[64];
                time_t at = time(NULL) + ra;
                c->retry_not_before = at;
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
                errbuf_prefix(err, "not retrying before %s (in %ld s)", when, ra);
                goto fail;
            }
            log_info("%s: %s; waiting %ld s as the CA asks", url,
                     resp->status == 503 ? "service unavailable" : "rate limited", ra);
            c->rate_limit_waits++;
            acme_problem_free(&p);
            http_response_free(resp);
            if (acme_wait_ms(c, ra * 1000, url, err) < 0)
                return -1;
            continue;
        }
        if (is_server_error(resp->status) && ++failures < c->max_attempts) {
            wait = backoff_s(failures - 1, c->max_retry_wait_s);
            log_debug("%s; retrying in %ld s", err->msg, wait);
            c->server_error_retries++;
            acme_problem_free(&p);
            http_response_free(resp);
            if (acme_wait_ms(c, wait * 1000, url, err) < 0)
                return -1;
            continue;
        }
    fail:
        if (problem)
            *problem = p;
        else
            acme_problem_free(&p);
        http_response_free(resp);
        return -1;
    }
}

int acme_post(struct acme_client *c, const char *url, const char *payload, int use_jwk,
              struct http_response *resp, struct acme_problem *problem, struct errbuf *err)
{
    return post_with_retries(c, url, payload, use_jwk, NULL, resp, problem, err);
}

int acme_get(struct acme_client *c, const char *url, struct http_response *resp,
             struct errbuf *err)
{
    return request_with_retries(c, "GET", url, resp, err);
}
