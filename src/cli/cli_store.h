/* cli_store.h — how every verb that names a store opens it: the location (a directory or an SMB
 * share) and, for a share, its connection options. One place, so deploy, store list|lookup|check
 * (and serve) accept the same options and say the same things. */
#ifndef CCS_CLI_STORE_H
#define CCS_CLI_STORE_H

#include <getopt.h>

#include "cli/cli.h"
#include "store/store.h"

/* The share options, as given on the command line. */
struct cli_smb_args {
    const char *credentials_file;
    int kerberos, encrypt, guest;
};

/* The share options (cli.h's struct cli_option, with their help), their ids BASE .. BASE + 3. */
#define CLI_SMB_OPTIONS(base)                                                                      \
    {"credentials-file", "FILE", (base),                                                           \
     "SMB share: its credentials file (smbclient -A format, mode 0600)"},                          \
        {"kerberos", NULL, (base) + 1, "SMB share: authenticate with your Kerberos ticket"},      \
        {"encrypt", NULL, (base) + 2, "SMB share: require SMB3 encryption"},                       \
        {"guest", NULL, (base) + 3, "SMB share: guest access, without credentials or signing"}
#define CLI_SMB_OPTION_COUNT 4
/* For usage lines. */
#define CLI_SMB_USAGE "[--credentials-file FILE] [--kerberos] [--encrypt] [--guest]"

/* If OPT (from getopt_long, with optarg) is one of the share options at BASE, record it in A and
 * return 1; otherwise 0. */
int cli_smb_option(int opt, int base, struct cli_smb_args *a);

/* Open the store at LOCATION with A's options. Prints the error and returns -1 on failure; share
 * options given for a local directory are an error (they would be silently ignored otherwise). */
int cli_store_open(const char *location, const struct cli_smb_args *a, struct store **out);

#endif
