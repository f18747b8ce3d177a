/* certfiles.h — a managed certificate's files in the state directory.
 *
 *   STATE/certs/NAME/SERIAL/{cert,chain,fullchain,privkey}.pem   one directory per issued cert
 *   STATE/certs/NAME/live      -> SERIAL   the certificate in use
 *   STATE/certs/NAME/previous  -> SERIAL   the one it replaced (for pruning store names)
 *   STATE/certs/NAME/pending/privkey.pem   the key of an order in flight (crash safety)
 *
 * The switch to a new certificate is one rename of a symlink: a reader sees the old set or the new
 * set, never a mix, and a crash before the switch leaves the old certificate in use. */
#ifndef CCS_MANAGE_CERTFILES_H
#define CCS_MANAGE_CERTFILES_H

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/err.h"

struct cert_paths {
    char dir[PATH_MAX];     /* STATE/certs/NAME */
    char live[PATH_MAX];    /* .../live (a symlink to a serial directory) */
    char cert[PATH_MAX], chain[PATH_MAX], fullchain[PATH_MAX], key[PATH_MAX]; /* under live/ */
    char previous[PATH_MAX];      /* .../previous (a symlink to a serial directory) */
    char previous_cert[PATH_MAX]; /* under previous/ */
    char pending_dir[PATH_MAX], pending_key[PATH_MAX];
};

int certfiles_paths(const char *state_dir, const char *name, struct cert_paths *out,
                    struct errbuf *err);

/* STATE/certs, opened for certfiles_live_serial (-1 when it cannot be: no certificate was ever
 * issued). Close it with close(). */
int certfiles_certs_dir(const char *state_dir);

/* The name NAME's live link points at — the serial of the certificate in use — into SERIAL (SIZE
 * bytes): 1 when there is one, 0 when there is no link (never issued) or it does not fit. CERTS_FD
 * is certfiles_certs_dir's. One readlinkat: a serial directory is written in full before the link
 * switches to it and never changed after, so a record of that serial (the state's) describes the
 * live certificate without reading it. Views over many certificates use this; everything else
 * loads the file. */
int certfiles_live_serial(int certs_fd, const char *name, char *serial, size_t size);

/* The live certificate, or *CERT = NULL when there is none yet. */
int certfiles_load_live(const struct cert_paths *p, X509 **cert, struct errbuf *err);

/* Install a new certificate (PEM texts and KEY) as live, keeping the current one as previous. */
int certfiles_install(const struct cert_paths *p, const char *serial, const char *cert_pem,
                      const char *chain_pem, const char *fullchain_pem, EVP_PKEY *key,
                      struct errbuf *err);

/* The pending key: loaded when one exists (an interrupted order's), else generated and saved
 * first. *REUSED tells which. */
int certfiles_pending_key(const struct cert_paths *p, int key_type, EVP_PKEY **key, int *reused,
                          struct errbuf *err);
void certfiles_clear_pending(const struct cert_paths *p);

/* Remove certificate sets other than live and previous: those of runs killed between writing a
 * set and switching to it. */
void certfiles_prune(const struct cert_paths *p);

#endif
