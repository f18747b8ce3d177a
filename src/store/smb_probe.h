/* smb_probe.h — ask an SMB server what it can do before libsmbclient connects: one unauthenticated
 * SMB2 NEGOTIATE over a TCP connection of our own (MS-SMB2 2.2.3 / 2.2.4).
 *
 * Why: libsmbclient 4.17 cannot tell its caller (a) why a connection failed in terms a user can
 * act on — an unknown host, a refused port and a missing share may all come back as one errno —
 * and (b) whether a session it was told to encrypt really is encrypted: asked to require SMB3
 * encryption of a server that cannot encrypt, it prints a line (to stderr: smb_lib.c) and
 * carries on unencrypted (source3/libsmb/clidfs.c, cli_cm_force_encryption_creds). The probe
 * answers both: it reaches the server or says why not (no such name, refused, unreachable, timed
 * out), and it reads the dialect, the capabilities and the ciphers the server offers. */
#ifndef CCS_STORE_SMB_PROBE_H
#define CCS_STORE_SMB_PROBE_H

#include <stddef.h>

#include "util/err.h"

/* Dialects (MS-SMB2 2.2.3). */
#define SMB2_DIALECT_202 0x0202
#define SMB2_DIALECT_210 0x0210
#define SMB2_DIALECT_300 0x0300
#define SMB2_DIALECT_302 0x0302
#define SMB2_DIALECT_311 0x0311

enum smb_probe_failure {
    SMB_PROBE_OK,
    SMB_PROBE_UNREACHABLE, /* no such name, refused, no route, reset, not an SMB server */
    SMB_PROBE_TIMEOUT,     /* no answer within the timeout */
    SMB_PROBE_PROTOCOL,    /* reached, but it does not speak SMB2 or later (SMB1 only): not a
                              fault that passes, and not "unreachable" */
};

struct smb_server_facts {
    unsigned dialect;     /* what the server chose from ours */
    int signing_required; /* the server requires signing (SecurityMode bit 2) */
    int can_encrypt;      /* offers SMB3 encryption: a cipher (3.1.1) or the capability */
    int dfs;              /* the DFS capability: libsmbclient turns encryption on only then */
};

/* Connect to HOST:PORT, negotiate, close. On failure *WHY says which kind and ERR why. */
int smb_probe(const char *host, unsigned port, unsigned timeout_ms, struct smb_server_facts *out,
              enum smb_probe_failure *why, struct errbuf *err);

/* Parse a NEGOTIATE response (the SMB2 message, without the 4-octet transport header). Exposed for
 * the unit test and the fuzzer: it reads what a server sent. */
int smb_probe_parse_response(const unsigned char *msg, size_t len, struct smb_server_facts *out,
                             struct errbuf *err);

#endif
