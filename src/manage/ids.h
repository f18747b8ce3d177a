/* ids.h — user and group names as numeric ids, for the files ccs writes (export owner and group,
 * a store's group, the machine copy's ssl-cert group).
 *
 * Only the reentrant lookups (getpwnam_r, getgrnam_r): these run on the renewer's job threads and
 * beside `ccs serve`'s workers, where getpwnam/getgrnam's shared static result could be
 * overwritten by another thread between the call and the read. */
#ifndef CCS_MANAGE_IDS_H
#define CCS_MANAGE_IDS_H

#include "util/err.h"

/* NAME (a user name, or a plain decimal id as chown(1) accepts) as a uid in *UID. NULL NAME gives
 * -1, "leave unchanged". -1 with ERR when there is no such user or the lookup fails. */
int ids_user(const char *name, long *uid, struct errbuf *err);

/* The same for a group. */
int ids_group(const char *name, long *gid, struct errbuf *err);

#endif
