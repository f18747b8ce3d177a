/* check.h — `ccs serve --check`: before a client finds out, confirm that the names [serve] and
 * [site] route match the store (the troubleshooting step IIS's Centralized Certificate Store
 * documentation starts with). For every host: the file that would serve it (exact or wildcard, by
 * the one served rule, store_resolve), whether it opens with the store password, names the host
 * and is within its validity, and what a client would get. Also the default certificate, and
 * everything a start would trip on (addresses, backends, ciphers, the user). */
#ifndef CCS_SERVE_CHECK_H
#define CCS_SERVE_CHECK_H

#include <stddef.h>
#include <time.h>

#include "manage/config.h"
#include "serve/settings.h"
#include "store/names.h"

enum check_status {
    CHECK_OK,            /* its own certificate, valid, naming it */
    CHECK_EXPIRED,       /* served, but past its not-after */
    CHECK_NOT_YET_VALID, /* served, but before its not-before */
    CHECK_NOT_COVERED,   /* served, but the certificate does not name the host */
    CHECK_DEFAULT,       /* nothing of its own: the default certificate */
    CHECK_ALERT,         /* nothing of its own and no default: a TLS alert */
};

const char *serve_check_status_name(enum check_status s);

struct serve_check_row {
    char host[DNS_NAME_MAX + 1];   /* as routed: a host, or "*.parent" */
    char route[SERVE_LABEL_MAX + 16]; /* "[serve]", "[site \"api\"]", "default-certificate" */
    char file[STORE_FILE_NAME_MAX + 1]; /* the file that decides, or "" */
    const char *rule;                    /* "exact", "wildcard", "none" */
    enum check_status status;
    time_t not_before, not_after; /* of the served certificate; 0 without one */
    char detail[1200];            /* what was found, in a sentence */
};

struct serve_check_report {
    struct serve_check_row *rows;
    size_t count;
    char **problems; /* not about one host: backends, addresses, the user */
    size_t problem_count;
};

/* Check CFG's [serve] and [site] sections against the store, as of NOW. Fails (ERR) only when the
 * check itself cannot run: no [serve], the store or its password cannot be opened. */
int serve_check(const struct config *cfg, time_t now, struct serve_check_report *out,
                struct errbuf *err);
void serve_check_report_free(struct serve_check_report *r);
/* Nonzero when a client would not get a good certificate somewhere, or a start would fail. */
int serve_check_failed(const struct serve_check_report *r);

#endif
