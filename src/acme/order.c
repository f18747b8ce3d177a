#include "acme/order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/b64url.h"
#include "acme/csr.h"
#include "acme/jws.h"
#include "util/log.h"
#include "util/testpoint.h"

/* Polling: first look after POLL_FIRST_MS, doubling to POLL_CAP_MS, unless the CA sends
 * Retry-After (honoured up to the client's maximum wait). */
/* 100 ms: most authorizations are still pending at the immediate first look, and a CA that
 * validates in well under a second (Pebble; busy real CAs in about one) is then caught within a
 * few cheap polls instead of a quarter-second sleep per certificate (measured: 100 renewals with
 * --jobs 4 went from ~9 s at 250 ms towards ~3 s). */
#define POLL_FIRST_MS 100
#define POLL_CAP_MS 8000

/* One authorization being worked on. */
struct authz_work {
    char *url;
    struct acme_authorization authz;
    const struct acme_challenge *challenge; /* inside authz */
    struct challenge_solver *solver;
    char *key_authorization;
    char *dns_txt_value;
    int begun, valid;
};

int acme_check_profile(const struct acme_client *c, const char *profile, struct errbuf *err)
{
    char offered[512] = "";
    size_t o = 0;

    if (!profile)
        return 0;
    if (c->dir.profile_count == 0)
        return errbuf_set(err, "%s offers no certificate profiles (profile %s was asked for)",
                          c->directory_url, profile);
    for (size_t i = 0; i < c->dir.profile_count; i++) {
        if (strcmp(c->dir.profiles[i].name, profile) == 0)
            return 0;
        o += (size_t)snprintf(offered + o, sizeof(offered) - o, "%s%s", i ? ", " : "",
                              c->dir.profiles[i].name);
    }
    return errbuf_set(err, "profile \"%s\" is not offered by %s (offered: %s)", profile,
                      c->directory_url, offered);
}

/* POST-as-GET URL until PARSE's status is not one of the WAITING ones, or the limit passes, or
 * the caller asks to stop (acme_options.stop_asked): then the poll is abandoned at once, before
 * its next look or during the wait, and the order stays at the CA as it is. KIND names what
 * is polled ("authorization", "order", "finalized-order") for the test point before each look. */
typedef int (*status_parser)(const struct http_response *resp, void *out, const char **status,
                             struct errbuf *err);

static int poll_resource(struct acme_client *c, const char *kind, const char *url,
                         const char *const *waiting, status_parser parse, void *out,
                         void (*free_out)(void *), long limit_s, struct errbuf *err)
{
    time_t deadline = time(NULL) + limit_s;
    long delay_ms = POLL_FIRST_MS;

    for (;;) {
        struct http_response resp;
        const char *status = NULL;
        int still_waiting = 0;
        long ra;

        /* A stop is seen before every look, and during the wait between two (acme_wait_ms).
         * The test point (KIND: "authorization", "order", "finalized-order") comes after a first
         * look at it, so that once stopped no other job's thread stops the process there again. */
        if (!acme_stop_asked(c))
            test_point("acme-poll:%s", kind);
        if (acme_stop_asked(c))
            return errbuf_set(err, "%s: abandoned: asked to stop", url);
        if (acme_post(c, url, NULL, 0, &resp, NULL, err) < 0)
            return -1;
        if (parse(&resp, out, &status, err) < 0) {
            http_response_free(&resp);
            return -1;
        }
        for (const char *const *w = waiting; *w; w++)
            still_waiting |= strcmp(status, *w) == 0;
        if (!still_waiting) {
            http_response_free(&resp);
            return 0;
        }
        if (time(NULL) >= deadline) {
            http_response_free(&resp);
            return errbuf_set(err, "%s: still %s after %ld s", url, status, limit_s);
        }
        ra = http_retry_after_seconds(resp.retry_after, time(NULL));
        http_response_free(&resp);
        free_out(out);
        if (ra > 0) {
            if (acme_wait_ms(c, (ra < c->max_retry_wait_s ? ra : c->max_retry_wait_s) * 1000, url,
                             err) < 0)
                return -1;
        } else {
            if (acme_wait_ms(c, delay_ms, url, err) < 0)
                return -1;
            delay_ms = delay_ms * 2 < POLL_CAP_MS ? delay_ms * 2 : POLL_CAP_MS;
        }
    }
}

static int parse_authz(const struct http_response *resp, void *out, const char **status,
                       struct errbuf *err)
{
    struct acme_authorization *a = out;
    if (acme_parse_authorization(resp->body, resp->body_len, a, err) < 0) {
        acme_authorization_free(a);
        return -1;
    }
    *status = a->status;
    return 0;
}

static void free_authz(void *p)
{
    acme_authorization_free(p);
}

static int parse_order(const struct http_response *resp, void *out, const char **status,
                       struct errbuf *err)
{
    struct acme_order *o = out;
    if (acme_parse_order(resp->body, resp->body_len, o, err) < 0) {
        acme_order_free(o);
        return -1;
    }
    *status = o->status;
    return 0;
}

static void free_order(void *p)
{
    acme_order_free(p);
}

static json_t *identifiers_json(const struct acme_identifier *ids, size_t count)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < count; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "type", ids[i].type, "value",
                                             ids[i].value));
    return arr;
}

static int new_order(struct acme_client *c, const struct acme_issue_request *req,
                     struct acme_order *order, char **order_url, struct errbuf *err)
{
    json_t *payload = json_pack("{s:o}", "identifiers",
                                identifiers_json(req->identifiers, req->identifier_count));
    struct http_response resp;
    char *text;
    int rc;

    if (!payload)
        return errbuf_set(err, "out of memory");
    if (req->profile)
        json_object_set_new(payload, "profile", json_string(req->profile));
    if (req->replaces)
        json_object_set_new(payload, "replaces", json_string(req->replaces));
    text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text)
        return errbuf_set(err, "out of memory");
    rc = acme_post(c, c->dir.new_order, text, 0, &resp, NULL, err);
    free(text);
    if (rc < 0)
        return errbuf_prefix(err, "new order");
    if (!resp.location || acme_parse_order(resp.body, resp.body_len, order, err) < 0) {
        if (!resp.location)
            errbuf_set(err, "%s: the CA did not say the order URL", c->dir.new_order);
        http_response_free(&resp);
        return -1;
    }
    *order_url = resp.location;
    resp.location = NULL;
    http_response_free(&resp);
    return 0;
}

/* Whether ORDER is for exactly the identifiers of REQ (in any order; DNS names ignoring case). */
static int same_identifiers(const struct acme_order *order, const struct acme_issue_request *req)
{
    if (order->identifier_count != req->identifier_count)
        return 0;
    for (size_t i = 0; i < req->identifier_count; i++) {
        int found = 0;
        for (size_t j = 0; j < order->identifier_count && !found; j++)
            found = order->identifiers[j].type && order->identifiers[j].value &&
                    strcmp(order->identifiers[j].type, req->identifiers[i].type) == 0 &&
                    strcasecmp(order->identifiers[j].value, req->identifiers[i].value) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* Take up REQ->resume_order when the CA still has it for these identifiers and it can still end
 * in a certificate. Returns -1 (nothing set, the reason logged) when a new order is needed. */
static int resume_order(struct acme_client *c, const struct acme_issue_request *req,
                        struct acme_order *order, char **order_url)
{
    struct http_response resp;
    struct errbuf err;
    const char *why = NULL;

    if (acme_post(c, req->resume_order, NULL, 0, &resp, NULL, &err) < 0) {
        log_info("order %s cannot be taken up (%s): placing a new one", req->resume_order, err.msg);
        return -1;
    }
    if (acme_parse_order(resp.body, resp.body_len, order, &err) < 0)
        why = err.msg;
    else if (strcmp(order->status, "invalid") == 0)
        why = "it is invalid";
    else if (!same_identifiers(order, req))
        why = "it is for other identifiers";
    http_response_free(&resp);
    if (why || !(*order_url = strdup(req->resume_order))) {
        log_info("order %s cannot be taken up (%s): placing a new one", req->resume_order,
                 why ? why : "out of memory");
        acme_order_free(order);
        return -1;
    }
    log_info("taking up order %s where it stands (%s)", req->resume_order, order->status);
    return 0;
}

static const char *display_ident(const struct authz_work *w, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", w->authz.wildcard ? "*." : "", w->authz.identifier.value);
    return buf;
}

/* Pick the challenge and solver for one pending authorization, and compute what to publish. */
static int choose_challenge(struct authz_work *w, const struct acme_issue_request *req,
                            const char *thumbprint, struct errbuf *err)
{
    char offered[256] = "", name[300];
    size_t o = 0;
    unsigned char md[32];

    for (size_t s = 0; s < req->solver_count && !w->challenge; s++)
        for (size_t i = 0; i < w->authz.challenge_count; i++)
            if (strcmp(w->authz.challenges[i].type, req->solvers[s]->ops->type) == 0 &&
                w->authz.challenges[i].token) {
                w->challenge = &w->authz.challenges[i];
                w->solver = req->solvers[s];
                break;
            }
    if (!w->challenge) {
        for (size_t i = 0; i < w->authz.challenge_count; i++)
            o += (size_t)snprintf(offered + o, sizeof(offered) - o, "%s%s", i ? ", " : "",
                                  w->authz.challenges[i].type);
        return errbuf_set(err, "%s: no challenge we can answer (the CA offers: %s)",
                          display_ident(w, name, sizeof(name)), offered[0] ? offered : "none");
    }
    w->key_authorization = malloc(strlen(w->challenge->token) + strlen(thumbprint) + 2);
    if (!w->key_authorization)
        return errbuf_set(err, "out of memory");
    sprintf(w->key_authorization, "%s.%s", w->challenge->token, thumbprint);
    EVP_Digest(w->key_authorization, strlen(w->key_authorization), md, NULL, EVP_sha256(), NULL);
    w->dns_txt_value = b64url_encode(md, sizeof(md));
    return w->dns_txt_value ? 0 : errbuf_set(err, "out of memory");
}

static struct acme_challenge_data challenge_data(const struct authz_work *w)
{
    return (struct acme_challenge_data){
        .type = w->challenge->type,
        .identifier_type = w->authz.identifier.type,
        .identifier = w->authz.identifier.value,
        .wildcard = w->authz.wildcard,
        .token = w->challenge->token,
        .key_authorization = w->key_authorization,
        .dns_txt_value = w->dns_txt_value,
    };
}

static void finish_all(struct authz_work *work, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct errbuf err;
        struct acme_challenge_data data;
        char name[300];
        if (!work[i].begun)
            continue;
        data = challenge_data(&work[i]);
        if (work[i].solver->ops->finish(work[i].solver, &data, work[i].valid, &err) < 0)
            log_warning("%s: cleaning up the %s challenge: %s",
                        display_ident(&work[i], name, sizeof(name)), data.type, err.msg);
        work[i].begun = 0;
    }
}

static void work_free(struct authz_work *work, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(work[i].url);
        acme_authorization_free(&work[i].authz);
        free(work[i].key_authorization);
        free(work[i].dns_txt_value);
    }
    free(work);
}

/* Why an authorization is invalid: the chosen challenge's error, else the first error found. */
static void authz_failure(const struct authz_work *w, const struct acme_authorization *a,
                          char *out, size_t size)
{
    const struct acme_problem *p = NULL;
    char name[300], text[ERRBUF_SIZE];

    for (size_t i = 0; i < a->challenge_count && !p; i++)
        if (a->challenges[i].error && (!w->challenge || strcmp(a->challenges[i].type,
                                                               w->challenge->type) == 0))
            p = a->challenges[i].error;
    if (p)
        acme_problem_describe(p, text, sizeof(text));
    snprintf(out, size, "%s: %s challenge failed: %s", display_ident(w, name, sizeof(name)),
             w->challenge ? w->challenge->type : "?", p ? text : "authorization invalid");
}

/* Prove every authorization of the order: begin all, ask for validation, wait for each. */
static int authorize(struct acme_client *c, const struct acme_order *order,
                     const struct acme_issue_request *req, long limit_s, struct errbuf *err)
{
    static const char *const waiting[] = {"pending", "processing", NULL};
    size_t n = order->authorization_count;
    struct authz_work *work = calloc(n + 1, sizeof(*work));
    char *thumbprint = jws_thumbprint(c->account_key, err);
    int rc = -1, failed = 0;

    if (!work || !thumbprint) {
        if (!thumbprint)
            goto out;
        errbuf_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct http_response resp;
        struct acme_challenge_data data;
        const char *status;
        if (!(work[i].url = strdup(order->authorizations[i])) ||
            acme_post(c, work[i].url, NULL, 0, &resp, NULL, err) < 0)
            goto out;
        if (parse_authz(&resp, &work[i].authz, &status, err) < 0) {
            http_response_free(&resp);
            goto out;
        }
        http_response_free(&resp);
        if (strcmp(status, "valid") == 0) { /* reused from an earlier order */
            work[i].valid = 1;
            continue;
        }
        if (strcmp(status, "pending") != 0) {
            char name[300];
            errbuf_set(err, "%s: authorization is %s", display_ident(&work[i], name, sizeof(name)),
                       status);
            goto out;
        }
        if (choose_challenge(&work[i], req, thumbprint, err) < 0)
            goto out;
        data = challenge_data(&work[i]);
        if (work[i].solver->ops->begin(work[i].solver, &data, err) < 0) {
            /* A begin cut short by a stop (its hook stopped half-way) may have published: it is
             * withdrawn as any other. A begin that failed on its own published nothing. */
            work[i].begun = acme_stop_asked(c);
            goto out;
        }
        work[i].begun = 1;
    }
    for (size_t i = 0; i < n; i++) {
        struct http_response resp;
        if (work[i].valid)
            continue;
        if (acme_post(c, work[i].challenge->url, "{}", 0, &resp, NULL, err) < 0)
            goto out;
        http_response_free(&resp);
    }
    for (size_t i = 0; i < n; i++) {
        struct acme_authorization polled;
        char why[ERRBUF_SIZE];
        if (work[i].valid)
            continue;
        if (poll_resource(c, "authorization", work[i].url, waiting, parse_authz, &polled,
                          free_authz, limit_s, err) < 0)
            goto out;
        if (strcmp(polled.status, "valid") == 0) {
            work[i].valid = 1;
        } else {
            authz_failure(&work[i], &polled, why, sizeof(why));
            if (failed++ == 0)
                errbuf_set(err, "%s", why);
            else
                log_error("%s", why);
        }
        acme_authorization_free(&polled);
    }
    rc = failed ? -1 : 0;
out:
    if (work) {
        finish_all(work, n);
        work_free(work, n);
    }
    free(thumbprint);
    return rc;
}

/* ---- certificate download and chain choice -------------------------------------------------- */

static STACK_OF(X509) *pem_chain(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *x;

    while (bio && certs && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
        sk_X509_push(certs, x);
    ERR_clear_error();
    BIO_free(bio);
    if (certs && sk_X509_num(certs) == 0) {
        sk_X509_free(certs);
        return NULL;
    }
    return certs;
}

static void cn_of(X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size);
}

/* A chain matches the preferred issuer when any certificate in it (after the leaf) has that
 * subject CN, or its top certificate was issued by that CN (roots are usually not sent). */
static int chain_matches(STACK_OF(X509) *certs, const char *preferred, char *top, size_t top_size)
{
    int n = sk_X509_num(certs);
    char cn[256];

    cn_of(X509_get_issuer_name(sk_X509_value(certs, n - 1)), top, top_size);
    if (!preferred)
        return 0;
    if (strcmp(top, preferred) == 0)
        return 1;
    for (int i = 1; i < n; i++) {
        cn_of(X509_get_subject_name(sk_X509_value(certs, i)), cn, sizeof(cn));
        if (strcmp(cn, preferred) == 0)
            return 1;
    }
    return 0;
}

static char *pem_of(STACK_OF(X509) *certs, int from, int to)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    for (int i = from; bio && i < to; i++)
        PEM_write_bio_X509(bio, sk_X509_value(certs, i));
    if (bio) {
        /* BIO memory is not NUL-terminated: copy exactly LEN bytes. */
        len = BIO_get_mem_data(bio, &data);
        if (len < 0)
            len = 0;
        out = malloc((size_t)len + 1);
        if (out) {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

/* The leaf must carry the key we made and every identifier we asked for. */
static int verify_leaf(X509 *leaf, const struct acme_issue_request *req, struct errbuf *err)
{
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), req->cert_key) != 1)
        return errbuf_set(err, "the issued certificate does not carry our key");
    for (size_t i = 0; i < req->identifier_count; i++) {
        const struct acme_identifier *id = &req->identifiers[i];
        int ok = strcmp(id->type, "ip") == 0
                     ? X509_check_ip_asc(leaf, id->value, 0) == 1
                     : X509_check_host(leaf, id->value, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
        if (!ok)
            return errbuf_set(err, "the issued certificate does not name %s", id->value);
    }
    return 0;
}

/* Fetch one chain; on the default URL, also collect the alternates' URLs. */
static STACK_OF(X509) *fetch_chain(struct acme_client *c, const char *url, char ***alternates,
                                   size_t *alt_count, struct errbuf *err)
{
    struct http_response resp;
    STACK_OF(X509) *certs;
    const char *alt;

    if (acme_post(c, url, NULL, 0, &resp, NULL, err) < 0)
        return NULL;
    certs = pem_chain(resp.body, resp.body_len);
    while (alternates && (alt = http_link_get(&resp, "alternate", *alt_count))) {
        char **grown = realloc(*alternates, (*alt_count + 1) * sizeof(*grown));
        if (!grown || !(grown[*alt_count] = strdup(alt))) {
            if (grown)
                *alternates = grown;
            break;
        }
        *alternates = grown;
        (*alt_count)++;
    }
    http_response_free(&resp);
    if (!certs)
        errbuf_set(err, "%s: no PEM certificate in the answer", url);
    return certs;
}

static int download(struct acme_client *c, const char *cert_url, const struct acme_issue_request *req,
                    struct acme_issued *out, struct errbuf *err)
{
    STACK_OF(X509) *chosen, *alt_certs;
    char top[256] = "", alt_top[256];
    char **alternates = NULL;
    size_t alt_count = 0;
    int rc = -1;

    chosen = fetch_chain(c, cert_url, &alternates, &alt_count, err);
    if (!chosen)
        goto out;
    out->chains_offered = 1 + alt_count;
    /* The default chain unless it misses the preferred issuer and an alternate has it. */
    if (!chain_matches(chosen, req->preferred_chain, top, sizeof(top)) && req->preferred_chain) {
        for (size_t i = 0; i < alt_count; i++) {
            alt_certs = fetch_chain(c, alternates[i], NULL, NULL, err);
            if (!alt_certs)
                goto out;
            if (chain_matches(alt_certs, req->preferred_chain, alt_top, sizeof(alt_top))) {
                sk_X509_pop_free(chosen, X509_free);
                chosen = alt_certs;
                snprintf(top, sizeof(top), "%s", alt_top);
                break;
            }
            sk_X509_pop_free(alt_certs, X509_free);
        }
        if (!chain_matches(chosen, req->preferred_chain, alt_top, sizeof(alt_top)))
            log_info("no chain of %zu leads to \"%s\"; using the default (to \"%s\")",
                     out->chains_offered, req->preferred_chain, top);
    }
    if (verify_leaf(sk_X509_value(chosen, 0), req, err) < 0)
        goto out;
    out->cert_pem = pem_of(chosen, 0, 1);
    out->chain_pem = pem_of(chosen, 1, sk_X509_num(chosen));
    out->fullchain_pem = pem_of(chosen, 0, sk_X509_num(chosen));
    out->chain_top = strdup(top);
    if (!out->cert_pem || !out->chain_pem || !out->fullchain_pem || !out->chain_top) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    rc = 0;
out:
    sk_X509_pop_free(chosen, X509_free);
    for (size_t i = 0; i < alt_count; i++)
        free(alternates[i]);
    free(alternates);
    return rc;
}

static int finalize(struct acme_client *c, const struct acme_order *order, const char *order_url,
                    const struct acme_issue_request *req, long limit_s, char **cert_url,
                    struct errbuf *err)
{
    static const char *const until_ready[] = {"pending", NULL};
    static const char *const until_done[] = {"ready", "processing", NULL};
    struct acme_order polled;
    struct http_response resp;
    char *csr, *payload;
    int rc;

    (void)order;
    if (poll_resource(c, "order", order_url, until_ready, parse_order, &polled, free_order,
                      limit_s, err) < 0)
        return -1;
    if (strcmp(polled.status, "processing") == 0) { /* taken up after its finalize was sent */
        acme_order_free(&polled);
        if (poll_resource(c, "finalized-order", order_url, until_done, parse_order, &polled,
                          free_order, limit_s, err) < 0)
            return -1;
    }
    if (strcmp(polled.status, "ready") != 0 && strcmp(polled.status, "valid") != 0) {
        char why[ERRBUF_SIZE] = "";
        if (polled.error)
            acme_problem_describe(polled.error, why, sizeof(why));
        errbuf_set(err, "order %s is %s%s%s", order_url, polled.status, why[0] ? ": " : "", why);
        acme_order_free(&polled);
        return -1;
    }
    if (strcmp(polled.status, "ready") == 0) {
        csr = csr_build_b64url(req->cert_key, req->identifiers, req->identifier_count, err);
        payload = csr ? malloc(strlen(csr) + 16) : NULL;
        if (!payload) {
            free(csr);
            acme_order_free(&polled);
            return csr ? errbuf_set(err, "out of memory") : -1;
        }
        sprintf(payload, "{\"csr\":\"%s\"}", csr);
        free(csr);
        rc = acme_post(c, polled.finalize, payload, 0, &resp, NULL, err);
        free(payload);
        acme_order_free(&polled);
        if (rc < 0)
            return errbuf_prefix(err, "finalize");
        http_response_free(&resp);
        if (poll_resource(c, "finalized-order", order_url, until_done, parse_order, &polled,
                          free_order, limit_s, err) < 0)
            return -1;
    }
    if (strcmp(polled.status, "valid") != 0 || !polled.certificate) {
        char why[ERRBUF_SIZE] = "";
        if (polled.error)
            acme_problem_describe(polled.error, why, sizeof(why));
        errbuf_set(err, "order %s ended %s%s%s", order_url, polled.status, why[0] ? ": " : "",
                   why);
        acme_order_free(&polled);
        return -1;
    }
    *cert_url = polled.certificate;
    polled.certificate = NULL;
    acme_order_free(&polled);
    return 0;
}

int acme_issue(struct acme_client *c, const struct acme_issue_request *req, struct acme_issued *out,
               struct errbuf *err)
{
    long limit_s = req->poll_limit_s > 0 ? req->poll_limit_s : ACME_DEFAULT_POLL_LIMIT_S;
    struct acme_order order = {0};
    char *cert_url = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (req->identifier_count == 0)
        return errbuf_set(err, "no identifiers to order");
    if (acme_check_profile(c, req->profile, err) < 0)
        return -1;
    if (req->replaces && !c->dir.renewal_info)
        log_info("%s has no renewal information (ARI): not sending \"replaces\"", c->directory_url);
    if ((!req->resume_order || resume_order(c, req, &order, &out->order_url) < 0) &&
        new_order(c, req, &order, &out->order_url, err) < 0)
        return -1;
    if (req->on_order)
        req->on_order(req->on_order_ctx, out->order_url);
    if (strcmp(order.status, "pending") == 0 && authorize(c, &order, req, limit_s, err) < 0)
        goto out;
    if (strcmp(order.status, "invalid") == 0) {
        errbuf_set(err, "order %s is invalid", out->order_url);
        goto out;
    }
    if (finalize(c, &order, out->order_url, req, limit_s, &cert_url, err) < 0)
        goto out;
    if (download(c, cert_url, req, out, err) < 0)
        goto out;
    rc = 0;
out:
    free(cert_url);
    acme_order_free(&order);
    if (rc < 0) {
        char *url = out->order_url;
        out->order_url = NULL;
        acme_issued_free(out);
        out->order_url = url; /* still useful to the caller in an error report */
    }
    return rc;
}

void acme_issued_free(struct acme_issued *i)
{
    free(i->order_url);
    free(i->cert_pem);
    free(i->chain_pem);
    free(i->fullchain_pem);
    free(i->chain_top);
    memset(i, 0, sizeof(*i));
}
