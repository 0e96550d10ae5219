/* Holding privilege only as long as needed (STYLE rule 16): tunneld opens the TUN device, its
 * sockets, netlink and the control socket first, then switches to an unprivileged user (User =
 * or -u) keeping only the capabilities it still needs. */
#ifndef TUNNELD_PRIVILEGE_H
#define TUNNELD_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privilege_user {
	char name[33];
	uid_t uid;
	gid_t gid;
};

/* Looks name up (getpwnam, at start, before the event loop).  false with a message in err if
 * there is no such user or it is root (uid 0 would keep every file writable). */
bool privilege_user_lookup(const char *name, struct privilege_user *out, char *err,
    size_t errlen);

/* Lets user remove its own control socket at exit once it is no longer root: the socket is
 * handed to the user, and its directory (shared with wireguard-go and other instances) gets
 * the user's group with write permission and the sticky bit, so the user can remove only
 * files it owns there.  Called as root, before privilege_drop().  0 or a negative errno
 * (logged). */
int privilege_socket_share(const char *dir, const char *sock, const struct privilege_user *user);

/* Called once the TUN device, sockets, netlink and control socket exist, while the process
 * has one thread (capset acts on the calling thread only: a thread started earlier would keep
 * everything; refused with -EBUSY otherwise).  With user (NULL: keep the uid), switches every
 * uid and gid to it and drops the supplementary groups.  Keeps CAP_NET_ADMIN (addresses,
 * routes, MTU, SO_MARK, socket buffers on reload) and, if keep_bind, CAP_NET_BIND_SERVICE (a
 * ListenPort below 1024) in the effective and permitted sets, and in the bounding set when it
 * can be changed (CAP_SETPCAP); clears the inheritable and ambient sets and sets
 * no_new_privs, so nothing the daemon could ever execute regains the rest.  Returns 0 or a
 * negative errno (logged); without capabilities and without a user it only sets
 * no_new_privs. */
int privilege_drop(const struct privilege_user *user, bool keep_bind);

#endif
