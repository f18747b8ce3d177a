#include "acme/http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#ifndef CCS_VERSION
#define CCS_VERSION "0.1.0"
#endif

struct http_client {
    CURL *curl;
    char *ca_bundle;
    long timeout_s;
    int (*stop_asked)(void);
};

void http_client_set_stop(struct http_client *c, int (*stop_asked)(void))
{
    c->stop_asked = stop_asked;
}

/* libcurl's progress callback: non-zero abandons the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct http_client *c = clientp;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return c->stop_asked() ? 1 : 0;
}

/* libcurl's global setup, once per process (http.h). The once-guard is what keeps a second call
 * from running curl_global_init again; the call before any thread is the caller's (the renewer
 * makes it before its jobs open their clients in parallel). */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_global_init(struct errbuf *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return errbuf_set(err, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
    return 0;
}

int http_client_new(const char *ca_bundle, long timeout_s, struct http_client **out,
                    struct errbuf *err)
{
    struct http_client *c;

    *out = NULL;
    if (http_global_init(err) < 0)
        return -1;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->curl = curl_easy_init()) || (ca_bundle && !(c->ca_bundle = strdup(ca_bundle)))) {
        http_client_free(c);
        return errbuf_set(err, "out of memory");
    }
    c->timeout_s = timeout_s;
    *out = c;
    return 0;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->ca_bundle);
    free(c);
}

void http_response_free(struct http_response *r)
{
    free(r->body);
    free(r->content_type);
    free(r->location);
    free(r->replay_nonce);
    free(r->retry_after);
    for (size_t i = 0; i < r->link_count; i++) {
        free(r->links[i].url);
        free(r->links[i].rel);
    }
    free(r->links);
    memset(r, 0, sizeof(*r));
}

struct sink {
    struct http_response *resp;
    size_t cap;
    int too_big;
    int oom;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    struct http_response *r = s->resp;
    size_t n = size * nmemb;

    if (r->body_len + n > HTTP_BODY_MAX) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (r->body_len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *grown;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        grown = realloc(r->body, cap);
        if (!grown) {
            s->oom = 1;
            return 0;
        }
        r->body = grown;
        s->cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static char *trimmed_copy(const char *start, const char *end)
{
    char *out;
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    out = malloc((size_t)(end - start) + 1);
    if (out) {
        memcpy(out, start, (size_t)(end - start));
        out[end - start] = '\0';
    }
    return out;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static void add_link(struct http_response *r, const char *url, const char *url_end,
                     const char *rel, const char *rel_end)
{
    struct http_link *grown = realloc(r->links, (r->link_count + 1) * sizeof(*grown));
    struct http_link *l;

    if (!grown)
        return;
    r->links = grown;
    l = &grown[r->link_count++];
    l->url = trimmed_copy(url, url_end);
    l->rel = trimmed_copy(rel, rel_end);
    for (char *c = l->rel; c && *c; c++) /* relation types compare case-insensitively */
        *c = (char)tolower((unsigned char)*c);
}

/* Link values (RFC 8288 §3): <url> *( ";" name [ "=" ( token / quoted-string ) ] ), several
 * separated by ','. Quoted strings may hold ';' and ','; parameter names are case-insensitive;
 * rel="a b" is one link per relation type. Only the first rel parameter counts (§3.3). */
static void parse_link_values(struct http_response *r, const char *v, const char *end)
{
    while (v < end) {
        const char *lt = memchr(v, '<', (size_t)(end - v)), *gt, *rel = NULL, *rel_end = NULL;

        if (!lt || !(gt = memchr(lt, '>', (size_t)(end - lt))))
            return;
        v = gt + 1;
        while (v < end && *v != ',') {
            const char *name, *name_end, *val = NULL, *val_end = NULL;
            if (*v != ';') { /* blanks, CR LF, or junk between parameters */
                v++;
                continue;
            }
            name = v = skip_blanks(v + 1, end);
            while (v < end && *v != '=' && *v != ';' && *v != ',' && *v != ' ' && *v != '\t')
                v++;
            name_end = v;
            v = skip_blanks(v, end);
            if (v < end && *v == '=') {
                v = skip_blanks(v + 1, end);
                if (v < end && *v == '"') {
                    val = ++v;
                    while (v < end && *v != '"')
                        v += *v == '\\' && v + 1 < end ? 2 : 1;
                    val_end = v < end ? v : end;
                    if (v < end)
                        v++;
                } else {
                    val = v;
                    while (v < end && *v != ';' && *v != ',' && !isspace((unsigned char)*v))
                        v++;
                    val_end = v;
                }
            }
            if (!rel && val && name_end - name == 3 && strncasecmp(name, "rel", 3) == 0) {
                rel = val;
                rel_end = val_end;
            }
        }
        for (const char *t = rel; t && t < rel_end;) {
            const char *t_end;
            while (t < rel_end && isspace((unsigned char)*t))
                t++;
            for (t_end = t; t_end < rel_end && !isspace((unsigned char)*t_end); t_end++)
                ;
            if (t_end > t)
                add_link(r, lt + 1, gt, t, t_end);
            t = t_end;
        }
        if (v < end)
            v++; /* the ',' */
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    struct http_response *r = s->resp;
    size_t n = size * nmemb;
    const char *colon = memchr(data, ':', n), *end = data + n;
    size_t name_len;
    char **slot = NULL;

    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or 100-continue): forget the previous headers. */
        struct http_response fresh = {0};
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        s->cap = 0;
        http_response_free(r);
        *r = fresh;
        return n;
    }
    if (!colon)
        return n;
    name_len = (size_t)(colon - data);
#define HEADER_IS(name) (name_len == strlen(name) && strncasecmp(data, name, name_len) == 0)
    if (HEADER_IS("Content-Type"))
        slot = &r->content_type;
    else if (HEADER_IS("Location"))
        slot = &r->location;
    else if (HEADER_IS("Replay-Nonce"))
        slot = &r->replay_nonce;
    else if (HEADER_IS("Retry-After"))
        slot = &r->retry_after;
    else if (HEADER_IS("Link"))
        parse_link_values(r, colon + 1, end);
#undef HEADER_IS
    if (slot) {
        free(*slot);
        *slot = trimmed_copy(colon + 1, end);
    }
    return n;
}

int http_request(struct http_client *c, const char *method, const char *url, const char *body,
                 struct http_response *out, struct errbuf *err)
{
    char user_agent[64];
    struct curl_slist *headers = NULL;
    struct sink sink = {out, 0, 0, 0};
    char curl_error[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    CURL *h = c->curl;

    memset(out, 0, sizeof(*out));
    curl_easy_reset(h);
    snprintf(user_agent, sizeof(user_agent), "ccs/%s", CCS_VERSION);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_bundle)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_s < 30 ? c->timeout_s : 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    if (c->stop_asked) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    headers = curl_slist_append(headers, "Accept-Language: en");
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        headers = curl_slist_append(headers, "Content-Type: application/jose+json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        if (sink.too_big)
            errbuf_set(err, "%s %s: response larger than %d bytes", method, url, HTTP_BODY_MAX);
        else
            errbuf_set(err, "%s %s: %s", method, url, curl_error[0] ? curl_error : curl_easy_strerror(rc));
        http_response_free(out);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body && (out->body = calloc(1, 1)) == NULL) {
        http_response_free(out);
        return errbuf_set(err, "out of memory");
    }
    return 0;
}

const char *http_link_get(const struct http_response *r, const char *rel, size_t n)
{
    for (size_t i = 0; i < r->link_count; i++)
        if (r->links[i].rel && r->links[i].url && strcmp(r->links[i].rel, rel) == 0 && n-- == 0)
            return r->links[i].url;
    return NULL;
}

long http_retry_after_seconds(const char *value, time_t now)
{
    char *end;
    long secs;
    time_t when;

    if (!value || !*value)
        return -1;
    secs = strtol(value, &end, 10);
    if (end != value && *end == '\0')
        return secs < 0 ? 0 : secs;
    when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return -1;
    return when > now ? (long)(when - now) : 0;
}

int http_content_type_is(const struct http_response *r, const char *type)
{
    size_t n = strlen(type);
    return r->content_type && strncasecmp(r->content_type, type, n) == 0 &&
           (r->content_type[n] == '\0' || r->content_type[n] == ';' || r->content_type[n] == ' ');
}
