/* smb_lib.c — libsmbclient through dlopen() (smb_lib.h). */
#include "store/smb_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Samba's own switch for its "display" output (lib/util/dprintf.c in libsamba-util.so.0, a
 * dependency of libsmbclient, exported as display_set_stderr@SAMBA_UTIL_0.0.1). libsmbclient
 * prints some conditions with d_printf(), which writes to stdout whatever the context's debug
 * settings say: against a server that cannot encrypt, every connection made with an encryption
 * level of "request" prints "Encryption required and server doesn't support SMB3 encryption -
 * failing connect" (source3/libsmb/clidfs.c, cli_cm_force_encryption_creds) and carries on. On
 * ccs's stdout that line corrupts `--json` output. The DEBUG() log goes to ccs's debug log (the
 * log callback, backend_smb.c) and smbc_setOptionDebugToStderr() keeps what comes before it off
 * stdout; this moves d_printf() too, for the whole process, which is what we want: ccs
 * itself never calls d_printf. Optional: a libsmbclient without it loads, with that line on
 * stdout as before. */
#define SAMBA_DISPLAY_TO_STDERR "display_set_stderr"

/* Where the package comes from, for the message when it is missing. */
#define SMB_LIB_PACKAGE "Debian package libsmbclient"

static pthread_once_t ONCE = PTHREAD_ONCE_INIT;
struct smb_lib smbc;
static int LOADED;
static char WHY[512];

static void load_once(void)
{
    void *h = dlopen(SMB_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
    void (*to_stderr)(void);
    const char *missing = NULL;

    if (!h) {
        snprintf(WHY, sizeof(WHY), "SMB stores need %s (%s), which cannot be loaded: %s",
                 SMB_LIB_SONAME, SMB_LIB_PACKAGE, dlerror());
        return;
    }
    /* A data pointer to a function pointer: what dlsym returns (POSIX requires it to work). */
#define SMB_LIB_RESOLVE(name)                                                                      \
    *(void **)&smbc.name = dlsym(h, "smbc_" #name);                                                \
    if (!smbc.name && !missing)                                                                    \
        missing = "smbc_" #name;
    SMB_LIB_FUNCTIONS(SMB_LIB_RESOLVE)
#undef SMB_LIB_RESOLVE
    if (missing) {
        snprintf(WHY, sizeof(WHY),
                 "SMB stores need %s (%s) with %s, which the one installed lacks (too old?)",
                 SMB_LIB_SONAME, SMB_LIB_PACKAGE, missing);
        dlclose(h);
        return;
    }
    *(void **)&to_stderr = dlsym(h, SAMBA_DISPLAY_TO_STDERR);
    if (to_stderr)
        to_stderr();
    LOADED = 1; /* the handle stays open for the life of the process */
}

int smb_lib_load(struct errbuf *err)
{
    pthread_once(&ONCE, load_once);
    return LOADED ? 0 : errbuf_set(err, "%s", WHY);
}
