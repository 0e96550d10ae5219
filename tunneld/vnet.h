/* The virtio-net header that prefixes every packet on a TUN device opened with IFF_VNET_HDR
 * (linux/virtio_net.h, struct virtio_net_hdr; linux/if_tun.h for TUNSETOFFLOAD).  Its 16-bit
 * fields are little-endian: tun_open sets TUNSETVNETLE. */
#ifndef TUNNELD_VNET_H
#define TUNNELD_VNET_H

#include <stdint.h>

/* Values as in linux/virtio_net.h and linux/if_tun.h, here so that older headers build. */
enum {
	VNET_F_NEEDS_CSUM = 1,	/* checksum from csum_start to the end, stored at +csum_offset */
	VNET_F_DATA_VALID = 2,	/* checksum already verified (receive side) */
	VNET_GSO_NONE = 0,
	VNET_GSO_TCPV4 = 1,
	VNET_GSO_TCPV6 = 4,
	VNET_GSO_UDP_L4 = 5,	/* UDP segmentation (USO), IPv4 or IPv6 */
	VNET_GSO_ECN = 0x80,	/* flag: the TCP super-packet carries CWR/ECE */
	VNET_TUN_F_CSUM = 0x01,
	VNET_TUN_F_TSO4 = 0x02,
	VNET_TUN_F_TSO6 = 0x04,
	VNET_TUN_F_USO4 = 0x20,
	VNET_TUN_F_USO6 = 0x40,
};

/* Wire format; all 16-bit fields little-endian. */
struct vnet_hdr {
	uint8_t flags;		/* VNET_F_* */
	uint8_t gso_type;	/* VNET_GSO_*, maybe | VNET_GSO_ECN */
	uint16_t hdr_len;	/* IP + TCP/UDP header bytes (not trusted on read) */
	uint16_t gso_size;	/* payload bytes per segment */
	uint16_t csum_start;	/* where the L4 checksum starts: the IP header's length */
	uint16_t csum_offset;	/* the checksum field, from csum_start: 16 TCP, 6 UDP */
};
_Static_assert(sizeof(struct vnet_hdr) == 10, "virtio_net_hdr wire size");

enum { VNET_HDR_LEN = sizeof(struct vnet_hdr) };

#endif
