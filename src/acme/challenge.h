/* challenge.h — how an authorization is proven: one solver per challenge type, one file each
 * (challenge_http01_responder.c, challenge_http01_webroot.c, challenge_dns01_hook.c; tls-alpn-01,
 * answered by `ccs serve`, will be one more file).
 *
 * The order engine calls, for every pending authorization it chose this solver for:
 *   begin(challenge)        before telling the CA to validate: publish the response;
 *   finish(challenge, ok)   after the authorization is valid (ok = 1) or failed (ok = 0):
 *                           withdraw it. Also called for every begun challenge when the order
 *                           fails for any other reason, so nothing is left behind.
 * Solvers may be asked to begin several challenges before any finish (all authorizations of an
 * order are validated in parallel). */
#ifndef CCS_ACME_CHALLENGE_H
#define CCS_ACME_CHALLENGE_H

#include "util/err.h"

/* The longest challenge token accepted: far above what CAs issue (Let's Encrypt and Pebble: 43
 * characters, 256 bits). A bound keeps a hostile or broken value from becoming a huge table key or
 * file name; with the temp suffix file_write_atomic adds it is still well under NAME_MAX. */
#define CHALLENGE_TOKEN_MAX_LEN 128

/* Whether TOKEN may be used. A token becomes a URL path, a file name, a hook's argument: only 1
 * to CHALLENGE_TOKEN_MAX_LEN characters of the base64url alphabet (RFC 8555 §8.1, RFC 4648 §5)
 * pass, so "..", "/" and control characters never do. NULL is not valid. The one check every
 * solver (and the responder, on each request) applies. */
int challenge_token_is_valid(const char *token);

struct acme_challenge_data {
    const char *type;              /* "http-01", "dns-01" */
    const char *identifier_type;   /* "dns" or "ip" */
    const char *identifier;        /* "www.example.com"; for a wildcard the base name without "*." */
    int wildcard;                  /* the authorization is for "*.identifier" */
    const char *token;             /* the challenge token (base64url; safe as a file name) */
    const char *key_authorization; /* token "." account-key thumbprint (RFC 8555 §8.1) */
    const char *dns_txt_value;     /* base64url(SHA-256(key_authorization)) for dns-01 (§8.4) */
};

struct challenge_solver;

struct challenge_solver_ops {
    const char *type; /* the challenge type this solver answers */
    int (*begin)(struct challenge_solver *s, const struct acme_challenge_data *c,
                 struct errbuf *err);
    int (*finish)(struct challenge_solver *s, const struct acme_challenge_data *c, int succeeded,
                  struct errbuf *err);
    /* Stop and free. Withdraws anything still published. */
    void (*destroy)(struct challenge_solver *s);
};

struct challenge_solver {
    const struct challenge_solver_ops *ops;
    void *impl;
};

/* http-01 answered by a built-in HTTP server on LISTEN_ADDR:PORT ("127.0.0.1", "::", NULL for
 * all addresses). It serves exactly the tokens currently begun, at
 * /.well-known/acme-challenge/TOKEN, answers 404 to anything else, and stops on destroy. The
 * listener is opened by this call, so a port in use is reported before any order is placed.
 * Idle and slow clients do not delay the CA: up to 1024 connections are held (fewer when the
 * soft RLIMIT_NOFILE leaves less than 256 descriptors to the rest of the process; never fewer
 * than 32), and when all are taken the oldest one without a complete request gives way. The
 * solver may be shared by threads (begin and finish take a lock). */
int challenge_http01_responder_new(const char *listen_addr, int port, struct challenge_solver *out,
                                   struct errbuf *err);

/* http-01 by files under WEBROOT/.well-known/acme-challenge/TOKEN (created with mode 0644, the
 * directories 0755 when missing), removed on finish and on destroy, whatever the outcome. */
int challenge_http01_webroot_new(const char *webroot, struct challenge_solver *out,
                                 struct errbuf *err);

/* dns-01 through a hook program with uacme's interface:
 *   HOOK begin|done|failed TYPE IDENT TOKEN AUTH
 * where AUTH is the TXT value for dns-01 (the key authorization for other types), and the same
 * values in the environment (UACME_METHOD, UACME_TYPE, UACME_IDENT, UACME_TOKEN, UACME_AUTH, and
 * CCS_-prefixed copies). A non-zero exit from begin fails the challenge with the hook's stderr
 * quoted; a hook that runs longer than TIMEOUT_S seconds is killed. */
int challenge_dns01_hook_new(const char *hook_program, int timeout_s, struct challenge_solver *out,
                             struct errbuf *err);

#endif
