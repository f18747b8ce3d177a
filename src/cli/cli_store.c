/* cli_store.c — open the store a verb names (cli_store.h). */
#include "cli/cli_store.h"

#include <stdlib.h>

#include "util/log.h"

#define LEASE_SECONDS_ENV "CCS_LEASE_SECONDS"
/* A day: a longer lease only makes a dead writer block the store longer. */
#define LEASE_SECONDS_MAX 86400

int cli_smb_option(int opt, int base, struct cli_smb_args *a)
{
    switch (opt - base) {
    case 0:
        a->credentials_file = optarg;
        return 1;
    case 1:
        a->kerberos = 1;
        return 1;
    case 2:
        a->encrypt = 1;
        return 1;
    case 3:
        a->guest = 1;
        return 1;
    default:
        return 0;
    }
}

/* CCS_LEASE_SECONDS: how long a lease lock lasts (and so how long a dead writer's lock and temp
 * files block others). Empty or unset: the default. */
static int lease_seconds(unsigned *out)
{
    const char *text = getenv(LEASE_SECONDS_ENV);
    char *end;
    long v;

    *out = 0;
    if (!text || !*text)
        return 0;
    v = strtol(text, &end, 10);
    if (*end || v < 1 || v > LEASE_SECONDS_MAX) {
        log_error("%s=\"%s\": not a number of seconds from 1 to %d", LEASE_SECONDS_ENV, text,
                  LEASE_SECONDS_MAX);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int cli_store_open(const char *location, const struct cli_smb_args *a, struct store **out)
{
    struct store_open_options opts = {.lock = STORE_LOCK_DEFAULT};
    struct errbuf err;

    if (lease_seconds(&opts.lease_seconds) < 0)
        return -1;

    if (location && store_location_kind(location) == STORE_LOCATION_LOCAL &&
        (a->credentials_file || a->kerberos || a->encrypt || a->guest)) {
        log_error("store %s: --credentials-file, --kerberos, --encrypt and --guest are for SMB "
                  "shares (\\\\server\\share\\folder, //server/share/folder, smb://server/...), "
                  "not a local directory",
                  location);
        return -1;
    }
    opts.smb = (struct store_smb_options){.credentials_file = a->credentials_file,
                                          .kerberos = a->kerberos,
                                          .encrypt = a->encrypt,
                                          .guest = a->guest};
    if (store_open(location, &opts, out, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}
