#include "acme/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- small helpers: typed, optional fields ------------------------------------------------- */

static json_t *load_object(const char *data, size_t len, const char *what, struct errbuf *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);

    if (!root) {
        errbuf_set(err, "%s: not valid JSON (%s at line %d)", what, jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        errbuf_set(err, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* Copy the string member NAME into *OUT. Absent is fine unless REQUIRED; present with another
 * type is always an error. */
static int get_string(json_t *obj, const char *name, int required, char **out, const char *what,
                      struct errbuf *err)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return errbuf_set(err, "%s: missing \"%s\"", what, name);
        return 0;
    }
    if (!json_is_string(v))
        return errbuf_set(err, "%s: \"%s\" is not a string", what, name);
    *out = strndup(json_string_value(v), json_string_length(v));
    if (!*out)
        return errbuf_set(err, "out of memory");
    if (strlen(*out) != json_string_length(v)) /* an embedded NUL */
        return errbuf_set(err, "%s: \"%s\" contains a NUL character", what, name);
    return 0;
}

static int get_string_array(json_t *obj, const char *name, int required, char ***out,
                            size_t *count, const char *what, struct errbuf *err)
{
    json_t *arr = json_object_get(obj, name), *v;
    size_t i;

    *out = NULL;
    *count = 0;
    if (!arr) {
        if (required)
            return errbuf_set(err, "%s: missing \"%s\"", what, name);
        return 0;
    }
    if (!json_is_array(arr))
        return errbuf_set(err, "%s: \"%s\" is not an array", what, name);
    if (json_array_size(arr) > ACME_MAX_LIST)
        return errbuf_set(err, "%s: \"%s\" has more than %d entries", what, name, ACME_MAX_LIST);
    *out = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (!*out)
        return errbuf_set(err, "out of memory");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return errbuf_set(err, "%s: \"%s\"[%zu] is not a string", what, name, i);
        (*out)[i] = strdup(json_string_value(v));
        if (!(*out)[i])
            return errbuf_set(err, "out of memory");
        *count = i + 1;
    }
    return 0;
}

static void free_string_array(char **arr, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(arr[i]);
    free(arr);
}

/* N decimal digits at S into *V; 0 (having read no further) at the first non-digit. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* RFC 3339 §5.6 date-time, read by hand: strptime skips blanks before numbers, takes fewer digits
 * than the grammar asks and leaves day-of-month unchecked. Each test reads a character only after
 * the previous ones were not NUL, so nothing past the string is read. */
int acme_parse_time(const char *text, time_t *out)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    struct tm tm;
    int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0, leap;

    if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') || !digits(p + 11, 2, &h) ||
        p[13] != ':' || !digits(p + 14, 2, &mi) || p[16] != ':' || !digits(p + 17, 2, &s))
        return -1;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || s > 60)
        return -1;
    p += 19;
    if (*p == '.') { /* time-secfrac = "." 1*DIGIT: ignored */
        if (p[1] < '0' || p[1] > '9')
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
               digits(p + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = *p == '+' ? 1 : -1;
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = timegm(&tm) - sign * (oh * 3600 + om * 60);
    return 0;
}

static int get_time(json_t *obj, const char *name, int required, time_t *out, const char *what,
                    struct errbuf *err)
{
    char *text = NULL;
    int rc;

    *out = 0;
    if (get_string(obj, name, required, &text, what, err) < 0) {
        free(text);
        return -1;
    }
    rc = text && acme_parse_time(text, out) < 0
             ? errbuf_set(err, "%s: \"%s\" is not an RFC 3339 time", what, name)
             : 0;
    free(text);
    return rc;
}

static int get_identifier(json_t *v, struct acme_identifier *out, const char *what,
                          struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(v))
        return errbuf_set(err, "%s: identifier is not an object", what);
    if (get_string(v, "type", 1, &out->type, what, err) < 0 ||
        get_string(v, "value", 1, &out->value, what, err) < 0)
        return -1;
    return 0;
}

static void identifier_free(struct acme_identifier *id)
{
    free(id->type);
    free(id->value);
    memset(id, 0, sizeof(*id));
}

/* ---- problem ------------------------------------------------------------------------------- */

static int problem_from_json(json_t *obj, struct acme_problem *out, struct errbuf *err)
{
    const char *what = "problem document";
    json_t *subs, *v, *status;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (get_string(obj, "type", 0, &out->type, what, err) < 0 ||
        get_string(obj, "detail", 0, &out->detail, what, err) < 0)
        return -1;
    status = json_object_get(obj, "status");
    if (json_is_integer(status))
        out->status = (int)json_integer_value(status);
    subs = json_object_get(obj, "subproblems");
    if (!subs)
        return 0;
    if (!json_is_array(subs) || json_array_size(subs) > ACME_MAX_LIST)
        return errbuf_set(err, "%s: \"subproblems\" is not a bounded array", what);
    out->subproblems = calloc(json_array_size(subs) + 1, sizeof(*out->subproblems));
    if (!out->subproblems)
        return errbuf_set(err, "out of memory");
    json_array_foreach(subs, i, v)
    {
        struct acme_subproblem *s = &out->subproblems[i];
        json_t *ident = json_object_get(v, "identifier");
        out->subproblem_count = i + 1;
        if (!json_is_object(v))
            return errbuf_set(err, "%s: subproblem %zu is not an object", what, i);
        if (get_string(v, "type", 0, &s->type, what, err) < 0 ||
            get_string(v, "detail", 0, &s->detail, what, err) < 0)
            return -1;
        if (json_is_object(ident) &&
            (get_string(ident, "type", 0, &s->identifier_type, what, err) < 0 ||
             get_string(ident, "value", 0, &s->identifier_value, what, err) < 0))
            return -1;
    }
    return 0;
}

int acme_parse_problem(const char *data, size_t len, struct acme_problem *out, struct errbuf *err)
{
    json_t *root = load_object(data, len, "problem document", err);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    rc = problem_from_json(root, out, err);
    json_decref(root);
    return rc;
}

void acme_problem_free(struct acme_problem *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->subproblem_count; i++) {
        free(p->subproblems[i].type);
        free(p->subproblems[i].detail);
        free(p->subproblems[i].identifier_type);
        free(p->subproblems[i].identifier_value);
    }
    free(p->subproblems);
    free(p->type);
    free(p->detail);
    memset(p, 0, sizeof(*p));
}

static const char *short_type(const char *type)
{
    static const char prefix[] = "urn:ietf:params:acme:error:";
    if (!type)
        return "error";
    return strncmp(type, prefix, sizeof(prefix) - 1) == 0 ? type + sizeof(prefix) - 1 : type;
}

void acme_problem_describe(const struct acme_problem *p, char *out, size_t size)
{
    size_t o;

    o = (size_t)snprintf(out, size, "%s: %s", short_type(p->type),
                         p->detail ? p->detail : "(no detail)");
    for (size_t i = 0; i < p->subproblem_count && o < size; i++) {
        const struct acme_subproblem *s = &p->subproblems[i];
        o += (size_t)snprintf(out + o, size - o, "%s%s: %s: %s", i ? "; " : " [",
                              s->identifier_value ? s->identifier_value : "?", short_type(s->type),
                              s->detail ? s->detail : "");
        if (i + 1 == p->subproblem_count && o < size)
            o += (size_t)snprintf(out + o, size - o, "]");
    }
}

/* ---- directory ----------------------------------------------------------------------------- */

int acme_parse_directory(const char *data, size_t len, struct acme_directory *out,
                         struct errbuf *err)
{
    const char *what = "ACME directory";
    json_t *root = load_object(data, len, what, err), *meta, *profiles, *v;
    const char *key;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    if (get_string(root, "newNonce", 1, &out->new_nonce, what, err) < 0 ||
        get_string(root, "newAccount", 1, &out->new_account, what, err) < 0 ||
        get_string(root, "newOrder", 1, &out->new_order, what, err) < 0 ||
        get_string(root, "newAuthz", 0, &out->new_authz, what, err) < 0 ||
        get_string(root, "revokeCert", 0, &out->revoke_cert, what, err) < 0 ||
        get_string(root, "keyChange", 0, &out->key_change, what, err) < 0 ||
        get_string(root, "renewalInfo", 0, &out->renewal_info, what, err) < 0)
        goto out;
    meta = json_object_get(root, "meta");
    if (meta && !json_is_object(meta)) {
        errbuf_set(err, "%s: \"meta\" is not an object", what);
        goto out;
    }
    if (meta) {
        if (get_string(meta, "termsOfService", 0, &out->terms_of_service, what, err) < 0 ||
            get_string(meta, "website", 0, &out->website, what, err) < 0)
            goto out;
        out->external_account_required =
            json_is_true(json_object_get(meta, "externalAccountRequired"));
        profiles = json_object_get(meta, "profiles");
        if (profiles && (!json_is_object(profiles) || json_object_size(profiles) > ACME_MAX_LIST)) {
            errbuf_set(err, "%s: \"meta.profiles\" is not a bounded object", what);
            goto out;
        }
        if (profiles) {
            out->profiles = calloc(json_object_size(profiles) + 1, sizeof(*out->profiles));
            if (!out->profiles)
                goto oom;
            json_object_foreach(profiles, key, v)
            {
                struct acme_profile *p = &out->profiles[out->profile_count++];
                p->name = strdup(key);
                p->description = strdup(json_is_string(v) ? json_string_value(v) : "");
                if (!p->name || !p->description)
                    goto oom;
            }
        }
    }
    rc = 0;
    goto out;
oom:
    errbuf_set(err, "out of memory");
out:
    json_decref(root);
    return rc;
}

void acme_directory_free(struct acme_directory *d)
{
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->new_authz);
    free(d->revoke_cert);
    free(d->key_change);
    free(d->renewal_info);
    free(d->terms_of_service);
    free(d->website);
    for (size_t i = 0; i < d->profile_count; i++) {
        free(d->profiles[i].name);
        free(d->profiles[i].description);
    }
    free(d->profiles);
    memset(d, 0, sizeof(*d));
}

/* ---- account ------------------------------------------------------------------------------- */

int acme_parse_account(const char *data, size_t len, struct acme_account *out, struct errbuf *err)
{
    const char *what = "ACME account";
    json_t *root = load_object(data, len, what, err);
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    if (get_string(root, "status", 1, &out->status, what, err) < 0 ||
        get_string_array(root, "contact", 0, &out->contact, &out->contact_count, what, err) < 0 ||
        get_string(root, "orders", 0, &out->orders, what, err) < 0)
        goto out;
    out->terms_agreed = json_is_true(json_object_get(root, "termsOfServiceAgreed"));
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void acme_account_free(struct acme_account *a)
{
    free(a->status);
    free_string_array(a->contact, a->contact_count);
    free(a->orders);
    memset(a, 0, sizeof(*a));
}

/* ---- order --------------------------------------------------------------------------------- */

static int get_problem(json_t *obj, const char *name, struct acme_problem **out,
                       struct errbuf *err)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return errbuf_set(err, "\"%s\" is not a problem document", name);
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return errbuf_set(err, "out of memory");
    return problem_from_json(v, *out, err);
}

int acme_parse_order(const char *data, size_t len, struct acme_order *out, struct errbuf *err)
{
    const char *what = "ACME order";
    json_t *root = load_object(data, len, what, err), *ids, *v;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    if (get_string(root, "status", 1, &out->status, what, err) < 0 ||
        get_time(root, "expires", 0, &out->expires, what, err) < 0 ||
        get_string_array(root, "authorizations", 1, &out->authorizations,
                         &out->authorization_count, what, err) < 0 ||
        get_string(root, "finalize", 1, &out->finalize, what, err) < 0 ||
        get_string(root, "certificate", 0, &out->certificate, what, err) < 0 ||
        get_string(root, "profile", 0, &out->profile, what, err) < 0 ||
        get_string(root, "replaces", 0, &out->replaces, what, err) < 0 ||
        get_problem(root, "error", &out->error, err) < 0)
        goto out;
    ids = json_object_get(root, "identifiers");
    if (!json_is_array(ids) || json_array_size(ids) > ACME_MAX_LIST) {
        errbuf_set(err, "%s: \"identifiers\" is missing or not a bounded array", what);
        goto out;
    }
    out->identifiers = calloc(json_array_size(ids) + 1, sizeof(*out->identifiers));
    if (!out->identifiers) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    json_array_foreach(ids, i, v)
    {
        out->identifier_count = i + 1;
        if (get_identifier(v, &out->identifiers[i], what, err) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void acme_order_free(struct acme_order *o)
{
    free(o->status);
    for (size_t i = 0; i < o->identifier_count; i++)
        identifier_free(&o->identifiers[i]);
    free(o->identifiers);
    free_string_array(o->authorizations, o->authorization_count);
    free(o->finalize);
    free(o->certificate);
    free(o->profile);
    free(o->replaces);
    acme_problem_free(o->error);
    free(o->error);
    memset(o, 0, sizeof(*o));
}

/* ---- challenge and authorization ----------------------------------------------------------- */

static int challenge_from_json(json_t *obj, struct acme_challenge *out, struct errbuf *err)
{
    const char *what = "ACME challenge";

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj))
        return errbuf_set(err, "%s: not an object", what);
    if (get_string(obj, "type", 1, &out->type, what, err) < 0 ||
        get_string(obj, "url", 1, &out->url, what, err) < 0 ||
        get_string(obj, "status", 1, &out->status, what, err) < 0 ||
        get_string(obj, "token", 0, &out->token, what, err) < 0 ||
        get_problem(obj, "error", &out->error, err) < 0)
        return -1;
    return 0;
}

int acme_parse_challenge(const char *data, size_t len, struct acme_challenge *out,
                         struct errbuf *err)
{
    json_t *root = load_object(data, len, "ACME challenge", err);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    rc = challenge_from_json(root, out, err);
    json_decref(root);
    return rc;
}

void acme_challenge_free(struct acme_challenge *c)
{
    free(c->type);
    free(c->url);
    free(c->status);
    free(c->token);
    acme_problem_free(c->error);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

int acme_parse_authorization(const char *data, size_t len, struct acme_authorization *out,
                             struct errbuf *err)
{
    const char *what = "ACME authorization";
    json_t *root = load_object(data, len, what, err), *challenges, *v;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    if (get_identifier(json_object_get(root, "identifier"), &out->identifier, what, err) < 0 ||
        get_string(root, "status", 1, &out->status, what, err) < 0 ||
        get_time(root, "expires", 0, &out->expires, what, err) < 0)
        goto out;
    out->wildcard = json_is_true(json_object_get(root, "wildcard"));
    challenges = json_object_get(root, "challenges");
    if (!json_is_array(challenges) || json_array_size(challenges) > ACME_MAX_LIST) {
        errbuf_set(err, "%s: \"challenges\" is missing or not a bounded array", what);
        goto out;
    }
    out->challenges = calloc(json_array_size(challenges) + 1, sizeof(*out->challenges));
    if (!out->challenges) {
        errbuf_set(err, "out of memory");
        goto out;
    }
    json_array_foreach(challenges, i, v)
    {
        out->challenge_count = i + 1;
        if (challenge_from_json(v, &out->challenges[i], err) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void acme_authorization_free(struct acme_authorization *a)
{
    identifier_free(&a->identifier);
    free(a->status);
    for (size_t i = 0; i < a->challenge_count; i++)
        acme_challenge_free(&a->challenges[i]);
    free(a->challenges);
    memset(a, 0, sizeof(*a));
}

/* ---- renewal information (RFC 9773) -------------------------------------------------------- */

int acme_parse_renewal_info(const char *data, size_t len, struct acme_renewal_info *out,
                            struct errbuf *err)
{
    const char *what = "ACME renewal information";
    json_t *root = load_object(data, len, what, err), *window;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!root)
        return -1;
    window = json_object_get(root, "suggestedWindow");
    if (!json_is_object(window)) {
        errbuf_set(err, "%s: missing \"suggestedWindow\"", what);
        goto out;
    }
    if (get_time(window, "start", 1, &out->window_start, what, err) < 0 ||
        get_time(window, "end", 1, &out->window_end, what, err) < 0 ||
        get_string(root, "explanationURL", 0, &out->explanation_url, what, err) < 0)
        goto out;
    if (out->window_end <= out->window_start) {
        errbuf_set(err, "%s: the window ends before it starts", what);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void acme_renewal_info_free(struct acme_renewal_info *r)
{
    free(r->explanation_url);
    memset(r, 0, sizeof(*r));
}
