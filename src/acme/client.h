/* client.h — one conversation with one ACME server: its directory, nonces, the account key that
 * signs, and the fault handling every request shares (RFC 8555 §6).
 *
 * Faults, handled here once for every request:
 *   badNonce         retried at once with the fresh nonce the error carried (bounded);
 *   rateLimited, 503 retried after Retry-After when that is within the maximum wait, else the
 *                    error says when a retry is allowed;
 *   other 5xx, transport errors (timeouts, resets) retried with exponential backoff (bounded);
 *   anything else    the problem document is returned: type, detail and subproblems. */
#ifndef CCS_ACME_CLIENT_H
#define CCS_ACME_CLIENT_H

#include <time.h>

#include <openssl/evp.h>

#include "acme/http.h"
#include "acme/parse.h"
#include "util/err.h"

struct acme_options {
    const char *directory_url;
    const char *ca_bundle;   /* NULL: the system's trust store */
    long timeout_s;          /* per HTTP request; 0: ACME_DEFAULT_TIMEOUT_S */
    long max_retry_wait_s;   /* longest Retry-After we sleep through; 0: the default */
    int max_attempts;        /* for 5xx and transport errors; 0: the default */
    /* NULL, or asked before every wait and during it: once it returns non-zero, no wait goes on
     * and no request is retried or polled again — the caller is stopping, and the work is
     * abandoned at that step with an error saying so (an order stays at the CA as it is). */
    int (*stop_asked)(void);
};

#define ACME_DEFAULT_TIMEOUT_S 30
#define ACME_DEFAULT_MAX_RETRY_WAIT_S 60
#define ACME_DEFAULT_MAX_ATTEMPTS 5
/* Pebble rejects a configurable share of good nonces (PEBBLE_WFE_NONCEREJECT); even at 50% the
 * chance of this many rejections in a row is below one in a million. */
#define ACME_MAX_BAD_NONCE_RETRIES 20

struct acme_client {
    struct http_client *http;
    char *directory_url;
    struct acme_directory dir;
    char *nonce; /* the one unused nonce we hold, or NULL */
    EVP_PKEY *account_key; /* borrowed */
    char *kid;             /* the account URL once known */
    long max_retry_wait_s;
    int max_attempts;
    /* Counters, for logs and tests. */
    unsigned bad_nonce_retries, rate_limit_waits, server_error_retries;
    /* Set when a request failed because of a rate limit too long to wait for. */
    time_t retry_not_before;
    int (*stop_asked)(void); /* acme_options */
};

int acme_client_open(const struct acme_options *opts, struct acme_client **out, struct errbuf *err);
void acme_client_close(struct acme_client *c);

/* Use KEY (borrowed) to sign, as account KID (copied; NULL until the account URL is known). */
int acme_client_set_account(struct acme_client *c, EVP_PKEY *key, const char *kid,
                            struct errbuf *err);

/* A signed POST of PAYLOAD (JSON text; NULL for POST-as-GET) to URL, with the account's kid, or
 * with the JWK when USE_JWK. On success RESP holds a 2xx response. On an ACME error, returns -1
 * with ERR describing the problem and, when PROBLEM is not NULL, *PROBLEM filled (free it with
 * acme_problem_free). */
int acme_post(struct acme_client *c, const char *url, const char *payload, int use_jwk,
              struct http_response *resp, struct acme_problem *problem, struct errbuf *err);

/* An unauthenticated GET with the same 5xx/Retry-After handling (directory, renewalInfo). */
int acme_get(struct acme_client *c, const char *url, struct http_response *resp,
             struct errbuf *err);

/* Sleep for SECONDS / MILLISECONDS. */
void acme_sleep(long seconds);
void acme_sleep_ms(long milliseconds);

/* Whether C's caller asked to stop (acme_options.stop_asked). */
int acme_stop_asked(const struct acme_client *c);
/* The only way the engine waits: MILLISECONDS, cut short when the caller asks to stop. Returns
 * -1 (ERR: "WHAT: abandoned: asked to stop") when it was asked, before or during the wait. */
int acme_wait_ms(struct acme_client *c, long milliseconds, const char *what, struct errbuf *err);

#endif
