/* The Linux TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI). */
#ifndef TUNNELD_TUN_H
#define TUNNELD_TUN_H

#include <net/if.h>

/* Creates (or attaches to) interface name and returns a non-blocking, close-on-exec fd, or a
 * negative errno: -ENOENT when /dev/net/tun is missing, -EPERM/-EACCES when not privileged.
 * actual (IFNAMSIZ bytes) receives the kernel's name for it. */
int tun_open(const char *name, char actual[IFNAMSIZ]);

#endif
