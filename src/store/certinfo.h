/* certinfo.h — what the store needs to know about a certificate: its names (as store file names),
 * its SHA-1 thumbprint (what IIS shows), validity, subject and issuer. */
#ifndef CCS_STORE_CERTINFO_H
#define CCS_STORE_CERTINFO_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "store/names.h"
#include "util/err.h"

#define THUMBPRINT_HEX_LEN 40 /* SHA-1, upper-case hex as Windows prints it */

struct rejected_name {
    char value[300]; /* escaped for printing */
    char why[ERRBUF_SIZE];
};

/* A certificate's names, normalised and de-duplicated by file name, in order: subject CN first
 * when it is a host name, then DNS SANs as they appear. */
struct cert_names {
    struct store_name *names;
    size_t count;
    struct rejected_name *rejected; /* DNS SANs (or a host-like CN) that failed validation */
    size_t rejected_count;
    char (*ips)[64]; /* IP SANs, as text: they get no file */
    size_t ip_count;
};

int cert_names_collect(X509 *cert, struct cert_names *out, struct errbuf *err);
void cert_names_free(struct cert_names *names);
/* The entry whose file name is FILE, or NULL. */
const struct store_name *cert_names_find_file(const struct cert_names *names, const char *file);

struct cert_summary {
    char thumbprint[THUMBPRINT_HEX_LEN + 1];
    char serial[130];
    char subject[512];
    char issuer[512];
    time_t not_before;
    time_t not_after;
};

int cert_summarise(X509 *cert, struct cert_summary *out, struct errbuf *err);

/* The first PEM certificate in PEM (LEN bytes): anything after it (a chain) is not looked at.
 * NULL when there is none (or no memory). OpenSSL's error queue is left empty. */
X509 *cert_from_pem(const void *pem, size_t len);

/* The first PEM certificate of the file at PATH (read whole, at most CERT_INPUT_MAX bytes): the
 * one reader of "the certificate in this file" (a live certificate, a previous one, a command's
 * argument). Returns 0 with *OUT set, or -1 with ERR naming PATH: it cannot be read, or holds no
 * PEM certificate. With MISSING not NULL, a file that does not exist is no error: 0, *OUT NULL,
 * *MISSING = 1 (else *MISSING = 0). */
int cert_read_pem_file(const char *path, X509 **out, int *missing, struct errbuf *err);

/* Whole days from NOW to T, rounded down; negative once T has passed. */
long days_until(time_t t, time_t now);

/* Format T as "2026-11-27T05:23:04Z". */
void format_utc(time_t t, char *out, size_t out_size);

#endif
