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
	int fd, ret;

	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	/* O_NONBLOCK: the event loop reads until EAGAIN.  O_CLOEXEC: no leak into children. */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	/* An empty name lets the kernel pick tunN. */
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	return fd;
}
