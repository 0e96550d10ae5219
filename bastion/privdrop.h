/* Dropping root for good (STYLE rule 16, OpenSSH's permanently_set_uid): once the listeners,
 * the host key, the roster watch, the signal fd and the audit log are open, the bastion's
 * network process becomes the unprivileged User, with no capability, no supplementary group
 * and no_new_privs, so that a bug in libssh can neither read the keys nor write the log. */
#ifndef BASTION_PRIVDROP_H
#define BASTION_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop_user {
	char name[33];
	uid_t uid;
	gid_t gid;			/* the user's primary group: the only group kept */
};

/* Looks name up (getpwnam; as root, before the drop).  false with a message in err if there is
 * no such user or its uid or gid is 0 (root would keep every root-owned file readable). */
bool privdrop_user_lookup(const char *name, struct privdrop_user *out, char *err,
    size_t errlen);

/* Switches every uid and gid to user's, clears the supplementary groups, empties every
 * capability set (effective, permitted, inheritable, ambient and, when CAP_SETPCAP allows, the
 * bounding set), sets no_new_privs and checks that setuid(0) fails.
 * Must run while the process has one thread (credentials are per thread; -EBUSY otherwise).
 * Without the privilege to switch (not root) it succeeds only if already running as user.
 * 0 or a negative errno with the reason in err. */
int privdrop_apply(const struct privdrop_user *user, char *err, size_t errlen);

#endif
