/* The Linux TUN device: one fd per interface, raw IP packets (no packet-information prefix),
 * each behind a virtio-net header when offloads are on. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tunneld/tun.h"
#include "tunneld/vnet.h"

static int open_flags(const char *name, short flags, char actual[IFNAMSIZ])
{
	struct ifreq ifr;
	int fd = -1, ret;

	/* O_NONBLOCK: the event loop reads until EAGAIN.  O_CLOEXEC: no leak into children.
	 * A missing device node gives -ENOENT here; missing CAP_NET_ADMIN gives -EPERM below. */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	/* An empty name lets the kernel pick tunN. */
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	ret = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The header's size and byte order, then the offloads: with USO, else without.  Returns the
 * TUN_OFFLOAD_* bits, or 0 with *why set. */
static unsigned set_offloads(int fd, const char **why)
{
	const unsigned tcp = VNET_TUN_F_CSUM | VNET_TUN_F_TSO4 | VNET_TUN_F_TSO6;
	const unsigned udp = VNET_TUN_F_USO4 | VNET_TUN_F_USO6;
	int hdr_len = VNET_HDR_LEN, le = 1;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		*why = "TUNSETVNETHDRSZ refused";
		return 0;
	}
	if (ioctl(fd, TUNSETVNETLE, &le) < 0) {
		*why = "TUNSETVNETLE refused";
		return 0;
	}
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(tcp | udp)) == 0)
		return TUN_OFFLOAD_VNET | TUN_OFFLOAD_USO;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tcp) == 0)
		return TUN_OFFLOAD_VNET;
	*why = "TUNSETOFFLOAD refused TSO";
	return 0;
}

int tun_open(const char *name, char actual[IFNAMSIZ])
{
	unsigned offloads;
	const char *why;

	return tun_open_offload(name, actual, false, &offloads, &why);
}

int tun_open_offload(const char *name, char actual[IFNAMSIZ], bool offload, unsigned *offloads,
    const char **why)
{
	unsigned features = 0;
	int fd;

	*offloads = 0;
	*why = "turned off (Offload = off or --no-offload)";
	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if (offload) {
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd >= 0 && ioctl(fd, TUNGETFEATURES, &features) == 0 &&
		    (features & IFF_VNET_HDR)) {
			close(fd);
			fd = open_flags(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, actual);
			if (fd < 0)
				return fd;
			*offloads = set_offloads(fd, why);
			if (*offloads)
				return fd;
			/* The interface goes with its only fd; it comes back plain below. */
			close(fd);
		} else {
			if (fd >= 0)
				close(fd);
			*why = "the kernel's TUN has no IFF_VNET_HDR";
		}
	}
	return open_flags(name, IFF_TUN | IFF_NO_PI, actual);
}
