/* cli_store.c — open the store a verb names (cli_store.h). */
#include "cli/cli_store.h"

#include "util/log.h"

int cli_smb_option(int opt, int base, struct cli_smb_args *a)
{
    switch (opt - base) {
    case 0: a->credentials_file = optarg; return 1;
    case 1: a->kerberos = 1; return 1;
    case 2: a->encrypt = 1; return 1;
    case 3: a->guest = 1; return 1;
    default: return 0;
    }
}

int cli_store_open(const char *location, const struct cli_smb_args *a, struct store **out)
{
    struct store_open_options opts = {.lock = STORE_LOCK_DEFAULT};
    struct errbuf err;

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
