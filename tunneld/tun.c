/* The Linux TUN device: one fd per interface, raw IP packets (no packet-information prefix). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tunneld/tun.h"

int
tun_open(const char *name, char actual[IFNAMSIZ])
{
	struct ifreq ifr;
	int fd = -1, ret;

	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	/* O_NONBLOCK: the event loop reads until EAGAIN.  O_CLOEXEC: no leak into children.
	 * A missing device node gives -ENOENT here; missing CAP_NET_ADMIN gives -EPERM below. */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
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
