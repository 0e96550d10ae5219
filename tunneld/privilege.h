/* Holding privilege only as long as needed (STYLE rule 16). */
#ifndef TUNNELD_PRIVILEGE_H
#define TUNNELD_PRIVILEGE_H

/* Called once the TUN device, sockets, netlink and control socket exist.  Keeps only
 * CAP_NET_ADMIN (routes, addresses, MTU, SO_MARK, socket buffers on reload) and
 * CAP_NET_BIND_SERVICE (a new ListenPort below 1024) in the effective, permitted and bounding
 * sets, and sets no_new_privs, so that nothing the daemon ever executes regains the rest.  The
 * uid stays 0, so root-owned 0600 configuration and key files remain readable on SIGHUP,
 * but CAP_DAC_OVERRIDE is gone: files of other users are not.  Returns 0 or a negative errno
 * (logged); when not running with capabilities at all it does nothing. */
int privilege_drop(void);

#endif
