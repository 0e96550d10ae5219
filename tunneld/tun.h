/* The Linux TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI), with segmentation offloads when the
 * kernel has them: IFF_VNET_HDR puts a virtio-net header (vnet.h) before every packet read or
 * written, and TUNSETOFFLOAD lets the kernel hand us TCP (TSO) and UDP (USO) super-packets of
 * up to 64 KiB with their checksums left to us (gso.h), and take such packets from us (gro.h). */
#ifndef TUNNELD_TUN_H
#define TUNNELD_TUN_H

#include <net/if.h>
#include <stdbool.h>

/* What tun_open set up. */
enum {
	TUN_OFFLOAD_VNET = 1 << 0,	/* packets carry a struct vnet_hdr; CSUM + TSO4 + TSO6 */
	TUN_OFFLOAD_USO = 1 << 1,	/* and UDP segmentation (USO4 + USO6) */
};

/* Creates (or attaches to) interface name and returns a non-blocking, close-on-exec fd, or a
 * negative errno: -ENOENT when /dev/net/tun is missing, -EPERM/-EACCES when not privileged.
 * actual (IFNAMSIZ bytes) receives the kernel's name for it.  A plain device. */
int tun_open(const char *name, char actual[IFNAMSIZ]);

/* tun_open, with offloads if offload is true: it asks for IFF_VNET_HDR and TUNSETOFFLOAD
 * CSUM|TSO4|TSO6|USO4|USO6, then without USO, then for a plain device, stopping at the first
 * the kernel accepts.  *offloads receives TUN_OFFLOAD_* bits (0: plain) and, when 0, *why a
 * static reason for the log. */
int tun_open_offload(const char *name, char actual[IFNAMSIZ], bool offload, unsigned *offloads,
    const char **why);

#endif
