/* handshake.c — the certificate of a handshake, chosen in OpenSSL's ClientHello callback.
 *
 *   1. the SNI name, read from the raw hello, must be printable ASCII (RFC 6066) and is planned
 *      (validated) by store_resolve_plan(): an invalid name (`..`, '/', 300 octets, a NUL,
 *      non-ASCII) is refused here and never becomes a file name;
 *   2. store_resolve() answers from the cache alone (STORE_CACHE_NOWAIT): a cached certificate is
 *      served with no I/O and no wait; a stale one is served while a loader thread refreshes it;
 *   3. a name whose file is not cached yet suspends the handshake (SSL_CLIENT_HELLO_RETRY) until a
 *      loader thread has loaded it; then OpenSSL calls this callback again and step 2 finds it;
 *   4. no certificate for the name (or no name): the default certificate, found the same way, or
 *      with `default-certificate = reject` an alert (unrecognized_name with SNI, handshake_failure
 *      without).
 * The callback runs in the worker's thread, inside SSL_do_handshake(). */
#include <string.h>

#include <openssl/ssl.h>

#include "serve/conn.h"
#include "serve/tls.h"
#include "store/resolve.h"
#include "util/log.h"

enum pick {
    PICK_SERVED, /* a certificate is on the SSL */
    PICK_WAIT,   /* a load is queued: suspend */
    PICK_NONE,   /* nothing for this name */
};

/* Suspend C until FILE is loaded. A load is queued unless another connection of this worker
 * already waits for the same file (the loader's completion wakes every waiter of the file). */
static enum pick wait_for(struct conn *c, const char *file)
{
    struct worker *w = c->w;
    int queued = 0;

    if (c->load_rounds++ >= CONN_LOAD_ROUNDS_MAX) {
        log_warning("host %s: %s was due for a reload %d times in a row during one handshake; "
                    "serving without it",
                    c->host[0] ? c->host : "(no SNI)", file, CONN_LOAD_ROUNDS_MAX);
        return PICK_NONE;
    }
    for (struct conn *o = w->waiting; o && !queued; o = o->wnext)
        queued = strcmp(o->wait_file, file) == 0;
    if (!queued && loader_submit(w->ctx->loader, file, c->host[0] ? c->host : NULL,
                                 worker_load_done, w) < 0) {
        STAT_INC(w->counters->loads_refused);
        return PICK_NONE;
    }
    snprintf(c->wait_file, sizeof(c->wait_file), "%s", file);
    STAT_INC(w->counters->load_waits);
    conn_waiting_add(c);
    return PICK_WAIT;
}

/* Resolve R->plan without waiting, and act on the answer. */
static enum pick try_plan(struct conn *c, struct store_resolution *r)
{
    struct worker *w = c->w;
    enum pick pick = PICK_NONE;
    struct errbuf err;

    if (store_resolve_planned(w->ctx->cache, &r->plan, STORE_CACHE_NOWAIT, r, &err) < 0) {
        log_warning("host %s: %s", r->plan.host.ace, err.msg);
        return PICK_NONE;
    }
    if (r->cert) {
        if (r->load_needed) /* stale: serve the last good one, refresh it off the loop */
            loader_submit(w->ctx->loader, r->load_needed, c->host[0] ? c->host : NULL, NULL,
                          NULL);
        if (tls_use_cert(c->ssl, r->cert) == 0) {
            c->rule = r->rule == STORE_RESOLVE_WILDCARD ? RULE_WILDCARD : RULE_EXACT;
            c->cert_not_after = r->cert->insp.summary.not_after;
            pick = PICK_SERVED;
        } else {
            log_error("host %s: %s: OpenSSL refuses its certificate and key", r->plan.host.ace,
                      r->file);
        }
    } else if (r->load_needed) {
        pick = wait_for(c, r->load_needed);
    }
    store_resolution_release(r);
    return pick;
}

/* RFC 6066 §3: a host_name is ASCII (an IDN travels as its A-labels). store_resolve_plan() would
 * take a Unicode name, as `ccs store lookup` takes one from a person; from the wire, anything but
 * printable ASCII is refused before it is planned. */
static int printable_ascii(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* The certificate for the client's SNI name, if it has a valid one that the store serves. */
static enum pick pick_by_sni(struct conn *c, enum sni_problem *problem)
{
    struct store_resolution r;
    const unsigned char *sni;
    struct errbuf err;
    size_t len;
    int found = tls_hello_sni(c->ssl, &sni, &len);

    if (found <= 0) {
        *problem = found == 0 ? SNI_MISSING : SNI_INVALID;
        return PICK_NONE;
    }
    if (!printable_ascii(sni, len) ||
        store_resolve_plan((const char *)sni, len, &r.plan, &err) < 0) {
        *problem = SNI_INVALID;
        return PICK_NONE;
    }
    snprintf(c->host, sizeof(c->host), "%s", r.plan.host.ace);
    *problem = SNI_UNKNOWN;
    return try_plan(c, &r);
}

static enum pick pick_default(struct conn *c)
{
    struct store_resolution r;
    enum pick pick;

    if (c->settings->reject)
        return PICK_NONE;
    r.plan = c->settings->default_plan;
    pick = try_plan(c, &r);
    if (pick == PICK_NONE)
        log_warning("the default certificate (%s) cannot be served: see `ccs serve --check`",
                    c->settings->default_plan.host.ace);
    return pick;
}

int conn_client_hello(SSL *ssl, int *alert, void *arg)
{
    struct conn *c = SSL_get_app_data(ssl);
    enum sni_problem problem = SNI_MISSING;
    enum pick pick;

    (void)arg;
    if (c->cert_set) /* a second ClientHello, after a HelloRetryRequest */
        return SSL_CLIENT_HELLO_SUCCESS;
    pick = pick_by_sni(c, &problem);
    if (pick == PICK_NONE) {
        pick = pick_default(c);
        if (pick == PICK_SERVED)
            c->rule = RULE_DEFAULT;
    }
    if (pick == PICK_WAIT)
        return SSL_CLIENT_HELLO_RETRY; /* called again once the load is done; counted then */
    if (c->rule == RULE_DEFAULT || pick == PICK_NONE)
        STAT_INC(c->w->counters->sni_problems[problem]);
    c->cert_set = 1;
    if (pick == PICK_SERVED) {
        STAT_INC(c->w->counters->rules[c->rule]);
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    c->alerted = 1;
    c->rule = RULE_REJECT;
    STAT_INC(c->w->counters->rules[RULE_REJECT]);
    *alert = problem == SNI_MISSING ? SSL_AD_HANDSHAKE_FAILURE : SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
}
