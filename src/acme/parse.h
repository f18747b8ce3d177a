/* parse.h — every parser of what a CA sends, in one place, each from bytes to a plain struct.
 *
 * These take untrusted input: they never trust a field's presence or type, bound every count,
 * and fail with a message naming the object and field. They do no I/O, so each has a libFuzzer
 * target (tests/fuzz). Free every result with its _free function, also after a failure. */
#ifndef CCS_ACME_PARSE_H
#define CCS_ACME_PARSE_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

/* Upper bounds on lists in CA objects; far above real use (an order holds at most a few hundred
 * identifiers at any CA), low enough that hostile input cannot make us allocate without bound. */
#define ACME_MAX_LIST 1000

struct acme_subproblem {
    char *type;
    char *detail;
    char *identifier_type;
    char *identifier_value;
};

/* RFC 7807 problem document with ACME's subproblems (RFC 8555 §6.7). */
struct acme_problem {
    char *type; /* "urn:ietf:params:acme:error:badNonce" */
    char *detail;
    int status;
    struct acme_subproblem *subproblems;
    size_t subproblem_count;
};

struct acme_profile {
    char *name;
    char *description;
};

struct acme_directory {
    char *new_nonce, *new_account, *new_order, *new_authz, *revoke_cert, *key_change;
    char *renewal_info; /* RFC 9773; NULL when the CA has no ARI */
    char *terms_of_service, *website;
    int external_account_required;
    struct acme_profile *profiles; /* meta.profiles (draft-aaron-acme-profiles) */
    size_t profile_count;
};

struct acme_identifier {
    char *type; /* "dns" or "ip" */
    char *value;
};

struct acme_account {
    char *status; /* valid, deactivated, revoked */
    char **contact;
    size_t contact_count;
    char *orders;
    int terms_agreed;
};

struct acme_order {
    char *status; /* pending, ready, processing, valid, invalid */
    time_t expires;
    struct acme_identifier *identifiers;
    size_t identifier_count;
    char **authorizations;
    size_t authorization_count;
    char *finalize;
    char *certificate;
    char *profile;
    char *replaces;
    struct acme_problem *error;
};

struct acme_challenge {
    char *type;
    char *url;
    char *status;
    char *token;
    struct acme_problem *error;
};

struct acme_authorization {
    struct acme_identifier identifier;
    char *status;
    time_t expires;
    int wildcard;
    struct acme_challenge *challenges;
    size_t challenge_count;
};

/* RFC 9773 §4.2 */
struct acme_renewal_info {
    time_t window_start, window_end;
    char *explanation_url;
};

int acme_parse_problem(const char *data, size_t len, struct acme_problem *out, struct errbuf *err);
int acme_parse_directory(const char *data, size_t len, struct acme_directory *out,
                         struct errbuf *err);
int acme_parse_account(const char *data, size_t len, struct acme_account *out, struct errbuf *err);
int acme_parse_order(const char *data, size_t len, struct acme_order *out, struct errbuf *err);
int acme_parse_authorization(const char *data, size_t len, struct acme_authorization *out,
                             struct errbuf *err);
int acme_parse_challenge(const char *data, size_t len, struct acme_challenge *out,
                         struct errbuf *err);
int acme_parse_renewal_info(const char *data, size_t len, struct acme_renewal_info *out,
                            struct errbuf *err);

void acme_problem_free(struct acme_problem *p);
void acme_directory_free(struct acme_directory *d);
void acme_account_free(struct acme_account *a);
void acme_order_free(struct acme_order *o);
void acme_challenge_free(struct acme_challenge *c);
void acme_authorization_free(struct acme_authorization *a);
void acme_renewal_info_free(struct acme_renewal_info *r);

/* "type: detail (identifier: type: detail; ...)", short names for ACME's error URNs. */
void acme_problem_describe(const struct acme_problem *p, char *out, size_t size);

/* RFC 3339 timestamp to time_t; -1 on error. */
int acme_parse_time(const char *text, time_t *out);

#endif
