/* deploy.h — put one certificate into a store: one file per name, same bytes in each.
 *
 * Invariants (the reasons this file exists):
 *  - a file is only ever replaced by rename from a complete, flushed temp file (backend);
 *  - newer-only: a readable file whose certificate expires later than ours is left alone
 *    (unless forced), so a stale renewer can never roll a site back;
 *  - prune by thumbprint: a name the previous certificate had and this one lacks is removed only
 *    if its file still holds the previous certificate, so files another certificate owns survive;
 *  - the plan is computed completely before anything is written, and a dry run stops there;
 *  - the store lock is never held for more than one bounded parse per file: files are opened
 *    while planning, before the lock, and under it only a file whose version changed since is
 *    opened again (opening a PFX is bounded by pfx.h's iteration limit);
 *  - what is written is what check accepts: no certificate that is expired or not yet valid, no
 *    mode check calls an error, the chain cut to the leaf's issuing path (unless forced: the
 *    chain never is). */
#ifndef CCS_STORE_DEPLOY_H
#define CCS_STORE_DEPLOY_H

#include <time.h>

#include "store/store.h"
#include "store/certinfo.h"
#include "store/pfx.h"

enum deploy_action {
    DEPLOY_WRITTEN,   /* new file, or replaced an older or unreadable one */
    DEPLOY_UNCHANGED, /* already holds this certificate in this format */
    DEPLOY_SKIPPED,   /* holds a certificate that expires later (newer-only) */
    DEPLOY_REMOVED,   /* pruned: dropped since the previous certificate */
    DEPLOY_KEPT,      /* prune candidate kept: another certificate owns it, or it is unreadable */
    DEPLOY_REJECTED,  /* the certificate's name is not a valid host name: no file */
    DEPLOY_NO_FILE,   /* IP address: IIS looks up by host name only */
    DEPLOY_FAILED,    /* could not write or remove */
};

const char *deploy_action_name(enum deploy_action action);

struct deploy_entry {
    char name[STORE_NAME_BUF];      /* the host name (Unicode) or raw value for rejected ones */
    char file[STORE_NAME_BUF + 8];  /* the store file, "" when none */
    enum deploy_action action;
    char detail[ERRBUF_SIZE];       /* why */
};

/* How far in the future a certificate's notBefore may lie and still be deployed: clocks of the CA
 * and of this host disagree a little (5 minutes, as Kerberos allows); more is a mistake. */
#define DEPLOY_CLOCK_SKEW_SECONDS 300

/* Something the deploy did that the user should know (a chain certificate dropped, the issuer
 * missing): reported, not a failure. */
struct deploy_warning {
    char text[ERRBUF_SIZE];
};

struct deploy_report {
    struct deploy_entry *entries;
    size_t count, capacity;
    struct deploy_warning *warnings;
    size_t warning_count;
    int chain_complete; /* the shipped chain holds the leaf's issuer (or the leaf is self-issued) */
    size_t changed; /* written + removed (or that would be, in a dry run) */
    size_t failed;
    int dry_run;
    char store[512]; /* the store's display name */
    /* store_deploy refused (returned -1) for a reason deploy_options.force overrides (expired, not
     * yet valid, a mode check calls an error): the caller says how to force, in its own words */
    int refused_unless_forced;
    struct cert_summary cert;
    enum pfx_format format;
};

struct deploy_options {
    const char *password; /* the store password */
    enum pfx_format format;
    struct store_write_options write;
    int force;      /* replace even newer or identical files; allow an expired or not yet valid
                       certificate, and a mode check calls an error */
    int dry_run;    /* plan only */
    X509 *previous; /* the certificate this one replaces, for pruning; may be NULL */
    time_t now;
};

/* Deploy BUNDLE. Returns -1 (ERR set) when nothing could be attempted: the bundle is unusable, the
 * certificate has no host name, it is expired or not yet valid, or the mode is one check calls an
 * error (those three without force). Per-file failures do not stop the
 * others; they are DEPLOY_FAILED entries and counted in REPORT->failed. */
int store_deploy(struct store *st, const struct pfx_bundle *bundle, const struct deploy_options *opts,
                 struct deploy_report *report, struct errbuf *err);
void deploy_report_free(struct deploy_report *report);

/* What to deploy, as files: `ccs deploy`'s --cert, --key, --chain and --previous, and a deploy-ccs
 * task's renewal files, are the same inputs, read and deployed by the same code. */
struct deploy_source {
    const char *cert;  /* PEM: the certificate, or a full chain (split as pfx_bundle_from_pem) */
    const char *key;   /* PEM: its private key, unencrypted */
    const char *chain; /* PEM: its issuers; NULL when CERT holds them or there are none */
    /* Instead of CERT, KEY and CHAIN: the certificate already loaded (from a PFX); the caller
     * keeps it. */
    const struct pfx_bundle *bundle;
    const char *previous; /* PEM: the certificate this one replaces, for pruning; NULL: none */
};

/* The bundle SOURCE's CERT, KEY and CHAIN hold (each read whole, at most CERT_INPUT_MAX bytes):
 * errors name the file. */
int deploy_source_read(const struct deploy_source *src, struct pfx_bundle *out, struct errbuf *err);

/* Read SOURCE and store_deploy it with OPTS (whose previous is SOURCE's). Returns -1, REPORT
 * empty, when a file cannot be read or is not what it should be (ERR names it), before anything
 * is written; otherwise as store_deploy. */
int store_deploy_source(struct store *st, const struct deploy_source *src,
                        const struct deploy_options *opts, struct deploy_report *report,
                        struct errbuf *err);

#endif
