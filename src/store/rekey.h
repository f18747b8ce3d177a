/* rekey.h — change the store password: re-encrypt every PFX file of a store under a new one.
 *
 * IIS reads every file of its Centralized Certificate Store with the one password it is configured
 * with (field notes §1), so a password change must re-encrypt the whole store at once; waiting for
 * each certificate's next renewal (Certify's answer) leaves a store of mixed passwords for months.
 *
 * Invariants (the reasons this file exists):
 *  - a file is rewritten only when it opens with the old password, and only by an atomic replace
 *    (store_write_atomic) under the store lock; its certificate, key, chain, friendly name, mode
 *    and group are kept (it is written paired by localKeyID, leaf first, as deploy writes);
 *  - a file that opens with the new password is done: a rerun after an interruption finishes the
 *    job and rewrites nothing twice;
 *  - a file that opens with neither (a third password, damaged, refused as too costly) is reported
 *    and left alone;
 *  - as in deploy, files are opened before the lock; under it only a file whose version changed
 *    since is opened again (one bounded parse each, pfx.h). */
#ifndef CCS_STORE_REKEY_H
#define CCS_STORE_REKEY_H

#include "store/pfx.h"
#include "store/store.h"

enum rekey_action {
    REKEY_REWRITTEN, /* opened with the old password, written under the new one (or would be) */
    REKEY_DONE,      /* already opens with the new password */
    REKEY_LEFT,      /* opens with neither, or cannot be read: left alone */
    REKEY_FAILED,    /* could not be written */
};

const char *rekey_action_name(enum rekey_action action);

struct rekey_entry {
    char file[STORE_FILE_NAME_MAX + 1];
    enum rekey_action action;
    char detail[ERRBUF_SIZE];
};

struct rekey_report {
    struct rekey_entry *entries; /* one per *.pfx of the store, sorted by name */
    size_t count;
    size_t counts[REKEY_FAILED + 1]; /* entries per action */
    int dry_run;
    char store[512]; /* the store's display name */
};

struct rekey_options {
    const char *old_password, *new_password;
    int keep_format;         /* write each file in its own format (compat if it is neither) */
    enum pfx_format format;  /* otherwise: this one, compat or aes256 */
    int dry_run;             /* plan only */
};

/* Rekey every *.pfx file of ST. Returns -1 (ERR set) only when nothing could be attempted (the
 * store cannot be listed or locked, the new password is the old one); per-file problems are
 * entries (REKEY_LEFT, REKEY_FAILED). Free REPORT with rekey_report_free either way. */
int store_rekey(struct store *st, const struct rekey_options *opts, struct rekey_report *report,
                struct errbuf *err);
void rekey_report_free(struct rekey_report *report);

#endif
