/* http.h — HTTPS for talking to a CA, through libcurl. TLS is always verified; a CA bundle may be
 * given for test CAs. One connection is kept alive across requests. */
#ifndef CCS_ACME_HTTP_H
#define CCS_ACME_HTTP_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

/* Largest response body accepted: a certificate chain or a big order is a few tens of KiB. */
#define HTTP_BODY_MAX (1024 * 1024)

struct http_link {
    char *url;
    char *rel;
};

struct http_response {
    long status;
    char *body; /* NUL-terminated (bodies here are JSON or PEM text) */
    size_t body_len;
    char *content_type;
    char *location;
    char *replay_nonce;
    char *retry_after; /* raw header value */
    struct http_link *links;
    size_t link_count;
};

struct http_client;

/* libcurl's process-wide setup (curl_global_init), done once: a program that makes clients on
 * several threads calls this before it starts them (the renewer does, before its jobs), since
 * curl_global_init is not safe beside other threads. http_client_new calls it too, so a
 * single-threaded caller need not. Every call returns the first one's result. */
int http_global_init(struct errbuf *err);

int http_client_new(const char *ca_bundle, long timeout_s, struct http_client **out,
                    struct errbuf *err);
void http_client_free(struct http_client *c);

/* NULL, or asked while a request is in flight (libcurl's progress callback, about once a second
 * at least): once it returns non-zero the request is abandoned with an error, so that a stop
 * does not wait out a slow server's timeout. */
void http_client_set_stop(struct http_client *c, int (*stop_asked)(void));

/* METHOD is "GET", "HEAD" or "POST"; BODY (POST only) is sent as application/jose+json. A
 * transport failure (DNS, connect, TLS, timeout) returns -1; any HTTP status returns 0. */
int http_request(struct http_client *c, const char *method, const char *url, const char *body,
                 struct http_response *out, struct errbuf *err);
void http_response_free(struct http_response *r);

/* The Nth (0-based) Link header URL with relation REL, or NULL. */
const char *http_link_get(const struct http_response *r, const char *rel, size_t n);

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as seconds from NOW (never
 * negative). Returns -1 when VALUE is neither. */
long http_retry_after_seconds(const char *value, time_t now);

/* Nonzero when the response's media type is TYPE ("application/problem+json"), ignoring
 * parameters and case. */
int http_content_type_is(const struct http_response *r, const char *type);

#endif
