/* smb_lib.h — libsmbclient, loaded with dlopen() when the first SMB store is opened.
 *
 * Why not linked: libsmbclient pulls in ~110 of Samba's shared libraries, and the dynamic loader
 * resolving them was half of `ccs serve`'s start-up CPU (and ~20 ms of every ccs command) for
 * stores that never touch a share. Only the types and constants of <libsmbclient.h> are used at
 * build time; every function comes from this table, filled by dlsym() once per process.
 *
 * The Debian package still depends on libsmbclient (cmake/CcsPackage.cmake declares it:
 * dpkg-shlibdeps cannot see a library that is not in the binary's NEEDED entries). */
#ifndef CCS_STORE_SMB_LIB_H
#define CCS_STORE_SMB_LIB_H

#include <libsmbclient.h>

#include "util/err.h"

/* The soname loaded: libsmbclient's ABI 0, the one the headers describe. */
#define SMB_LIB_SONAME "libsmbclient.so.0"

/* Every libsmbclient function ccs calls, by its name without "smbc_". */
#define SMB_LIB_FUNCTIONS(X)                                                                       \
    X(new_context)                                                                                 \
    X(init_context)                                                                                \
    X(free_context)                                                                                \
    X(setOptionUserData)                                                                           \
    X(getOptionUserData)                                                                           \
    X(setFunctionAuthDataWithContext)                                                              \
    X(setOptionDebugToStderr)                                                                      \
    X(setDebug)                                                                                    \
    X(setLogCallback)                                                                              \
    X(setOptionNoAutoAnonymousLogin)                                                               \
    X(setOptionUseKerberos)                                                                        \
    X(setOptionFallbackAfterKerberos)                                                              \
    X(setOptionUseCCache)                                                                          \
    X(setOptionSmbEncryptionLevel)                                                                 \
    X(setTimeout)                                                                                  \
    X(setPort)                                                                                     \
    X(setOptionProtocols)                                                                          \
    X(getFunctionOpendir)                                                                          \
    X(getFunctionReaddirPlus2)                                                                     \
    X(getFunctionClosedir)                                                                         \
    X(getFunctionStat)                                                                             \
    X(getFunctionOpen)                                                                             \
    X(getFunctionFstat)                                                                            \
    X(getFunctionRead)                                                                             \
    X(getFunctionWrite)                                                                            \
    X(getFunctionClose)                                                                            \
    X(getFunctionUnlink)                                                                           \
    X(getFunctionRename)                                                                           \
    X(getFunctionNotify)

#define SMB_LIB_FIELD(name) __typeof__(smbc_##name) *name;

struct smb_lib {
    SMB_LIB_FUNCTIONS(SMB_LIB_FIELD)
};

#undef SMB_LIB_FIELD

/* The table: smbc.new_context() for smbc_new_context(). Filled by smb_lib_load(); call
 * nothing in it before that has succeeded (store_smb_open loads it before anything else). */
extern struct smb_lib smbc;

/* Load the library on the first call (thread-safe; it stays loaded). 0, or -1 when it cannot be
 * loaded or lacks a function: ERR then says which, naming the library and its package. */
int smb_lib_load(struct errbuf *err);

#endif
