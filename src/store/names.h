/* names.h — the one place that maps host names to store file names.
 *
 * IIS's Centralized Certificate Store looks a host up as `host.pfx`, a wildcard as `_.parent.pfx`, and
 * wants the Unicode (not `xn--`) form of an IDN (field notes §1). Linux file names are case-sensitive,
 * so every name is normalised before it becomes a file name:
 *   lower-case; one trailing dot removed; IDN in Unicode NFC (via libidn2, from `xn--` or Unicode
 *   input, UTS #46 non-transitional mapping then IDNA2008); a leading `*.` written as `_.`.
 * Every rule (labels, `_`, `*`, `/`, `\`, controls, length) is checked on the final Unicode name
 * that becomes the file name, after mapping (which can turn a full-stop variant into '.'), and an
 * `xn--` label is accepted only if decoding and re-encoding it gives it back.
 * Invariant: a name that fails validation never becomes a path. Everything that builds a path from a
 * name (deploy, lookup, serve) goes through store_name_normalise() first. */
#ifndef CCS_STORE_NAMES_H
#define CCS_STORE_NAMES_H

#include <stddef.h>

#include "util/err.h"

/* DNS limits (RFC 1035 §2.3.4), counted on the ASCII (A-label) form. */
#define DNS_LABEL_MAX 63
#define DNS_NAME_MAX 253
/* Longest file name a Linux file system takes (NAME_MAX); a Unicode IDN can exceed it. */
#define STORE_FILE_NAME_MAX 255
/* Room for the Unicode form: each A-label octet can expand to at most 4 UTF-8 octets. */
#define STORE_NAME_BUF (DNS_NAME_MAX * 4 + 1)

#define STORE_FILE_SUFFIX ".pfx"

struct store_name {
    int wildcard;                  /* the name was `*.rest` */
    char unicode[STORE_NAME_BUF];  /* normalised, Unicode NFC; wildcard as "*.rest" */
    char ace[DNS_NAME_MAX + 1];    /* the same in A-label form: "*.xn--bcher-kva.de" */
    char file[STORE_NAME_BUF + 8]; /* the store file name: "_.bücher.de.pfx" */
};

/* Normalise and validate RAW (LEN octets, not necessarily NUL-terminated: certificates may carry
 * NULs). On error ERR names the value (escaped) and the rule it broke. */
int store_name_normalise(const char *raw, size_t len, struct store_name *out, struct errbuf *err);

/* Nonzero when NAME (LEN octets, already lower case, no trailing dot, no "*.") is plain ASCII that
 * UTS #46 and IDNA2008 leave as it is: labels of letters, digits, '-' and '_', none empty or over
 * DNS_LABEL_MAX, no hyphen first or last or in both the third and fourth place (so no "xn--"
 * A-label), and at least one octet that is not a digit or dot (all-digit names may be IP
 * literals). Such a name needs no libidn2 call: it is its own A-label and Unicode form. */
int store_name_is_plain_ascii(const char *name, size_t len);

/* Nonzero if RAW (LEN octets) is an IPv4 or IPv6 literal: IIS looks certificates up by host name, so
 * IP addresses never get a file. */
int store_name_is_ip_literal(const char *raw, size_t len);

/* Where a TLS server would look for HOST (an SNI name), in order. */
struct store_lookup_plan {
    struct store_name host;                /* normalised host */
    char exact_file[STORE_NAME_BUF + 8];   /* "a.b.example.com.pfx" */
    char wildcard_file[STORE_NAME_BUF + 8]; /* "_.b.example.com.pfx", or "" when none applies */
};

/* Build the lookup plan for HOST without touching the file system. A wildcard covers exactly one
 * label, so only `_.parent` is tried, and never when the parent is a single label (no `_.com`).
 * Fails for names store_name_normalise() rejects, for `*` input and for IP literals. */
int store_lookup_plan(const char *host, size_t len, struct store_lookup_plan *out,
                      struct errbuf *err);

/* Write RAW into OUT as printable ASCII, escaping other octets as \xNN, for error messages. */
void store_name_escape(const char *raw, size_t len, char *out, size_t out_size);

#endif
