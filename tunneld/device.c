#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "addr_watch.h"
#include "crypt_stage.h"
#include "device.h"
#include "firewall.h"
#include "gro.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"
#include "receive.h"
#include "resolver.h"
#include "send.h"
#include "tun.h"
#include "vnet.h"

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	device_tun_readable(arg);
}

void device_sync_mtu(struct device *dev)
{
	struct ifreq ifr = { 0 };
	int fd = dev->udp.fd4 >= 0 ? dev->udp.fd4 : dev->udp.fd6;

	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev->ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0 || (unsigned)ifr.ifr_mtu == dev->mtu)
		return;
	dev->mtu = (unsigned)ifr.ifr_mtu;
	wg_engine_set_mtu(dev->engine, dev->mtu);
}

uint32_t device_route_table(const char *ifname)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *c = ifname; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	return 0x77000000u | ((h ^ (h >> 24)) & 0xffffffu);
}

static void on_mtu_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	device_sync_mtu(arg);
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	device_udp_readable(arg, fd);
}

/* Large buffers come from mmap so that pages never touched (jumbo room, an idle staging
 * pool) cost no memory. */
static void *map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int alloc_buffers(struct device *dev)
{
	size_t i;

	dev->buf_size = (PACKET_BUF_SIZE + 63) & ~(size_t)63;
	dev->rx_bufs = map_zeroed(dev->buf_size * DEVICE_BATCH);
	dev->tx_bufs = map_zeroed(dev->buf_size * DEVICE_BATCH);
	dev->staged_mem = map_zeroed(dev->buf_size * MAX_STAGED_TOTAL);
	dev->staged_pool = calloc(MAX_STAGED_TOTAL, sizeof(*dev->staged_pool));
	dev->staged_pool_base = dev->staged_pool;
	/* One super-packet at a time: 64 KiB more at most, touched only with offloads on. */
	dev->tun_read_buf = map_zeroed(dev->buf_size);
	dev->gro = calloc(1, sizeof(*dev->gro));
	if (!dev->rx_bufs || !dev->tx_bufs || !dev->staged_mem || !dev->staged_pool ||
	    !dev->tun_read_buf || !dev->gro)
		return -ENOMEM;
	for (i = 0; i < MAX_STAGED_TOTAL; i++) {
		dev->staged_pool[i].data = dev->staged_mem + i * dev->buf_size;
		dev->staged_pool[i].next = i + 1 < MAX_STAGED_TOTAL ? &dev->staged_pool[i + 1] : NULL;
	}
	return 0;
}

/* Packet buffers hold plaintext traffic, so they are wiped before the memory goes back to the
 * kernel, but only the pages that were ever touched (resident): wiping the whole reservation
 * faulted in all of it (266 MiB peak RSS and 1.7 s to stop, for a 256 MiB staging pool that
 * is almost never used).  A page never touched holds nothing to wipe. */
static void unmap_wiped(uint8_t *mem, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, i, j;
	unsigned char vec[256];

	for (i = 0; i < n; i += sizeof(vec)) {
		size_t chunk = n - i < sizeof(vec) ? n - i : sizeof(vec);

		if (mincore(mem + i * page, chunk * page, vec) < 0) {
			/* Cannot tell: wipe it all rather than leave plaintext behind. */
			memset(vec, 1, chunk);
		}
		for (j = 0; j < chunk; j++)
			if (vec[j] & 1)
				sodium_memzero(mem + (i + j) * page,
				    (i + j + 1) * page <= len ? page : len - (i + j) * page);
	}
	munmap(mem, len);
}

/* A local address went away: no datagram may leave from it any more, and a send from it does
 * not always fail (net.ipv6.ip_nonlocal_bind), so the endpoints that had it as their sticky
 * source forget it now, as the kernel's WireGuard checks the source before each send. */
static void source_gone(void *ctx, int family, const void *addr)
{
	struct device *dev = ctx;

	for (struct peer *p = dev->peers_head; p; p = p->next)
		udp_endpoint_forget_src(&p->endpoint, family, addr);
}

static void free_buffers(struct device *dev)
{
	size_t i;

	if (dev->rx_bufs)
		unmap_wiped(dev->rx_bufs, dev->buf_size * DEVICE_BATCH);
	if (dev->tx_bufs)
		unmap_wiped(dev->tx_bufs, dev->buf_size * DEVICE_BATCH);
	if (dev->tun_read_buf)
		unmap_wiped(dev->tun_read_buf, dev->buf_size);
	free(dev->gro);
	if (dev->staged_mem) {
		/* Every peer is gone, so every slot was released (and wiped, see peer.c); a slot
		 * still holding plaintext would be a leak of a queue, wiped here all the same. */
		for (i = 0; dev->staged_pool_base && i < MAX_STAGED_TOTAL; i++)
			if (dev->staged_pool_base[i].len)
				sodium_memzero(dev->staged_pool_base[i].data + WG_DATA_HEADROOM,
				    dev->staged_pool_base[i].len);
		unmap_wiped(dev->staged_mem, dev->buf_size * MAX_STAGED_TOTAL);
	}
	free(dev->staged_pool_base);
}

int device_create(struct device *dev, struct event_base *base, const char *ifname,
    bool manage_network, bool offload)
{
	const char *why;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = -1;
	dev->udp.fd4 = dev->udp.fd6 = -1;
	dev->base = base;
	dev->manage_network = manage_network;
	dev->mtu = DEFAULT_MTU;
	dev->offload = offload;	/* Offload = off, --no-offload: UDP GSO/GRO off too */
	allowedips_init(&dev->table);
	dev->engine = wg_engine_new();
	if (!dev->engine) {
		log_error("cannot create the protocol engine: out of memory or libsodium failed");
		return -ENOMEM;
	}
	ret = alloc_buffers(dev);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot allocate the packet buffers (mmap)");
		return ret;
	}
	ret = tun_open_offload(ifname, dev->ifname, offload, &dev->tun_offloads, &why);
	if (ret < 0) {
		if (ret == -ENOENT)
			log_error("cannot create interface %s: /dev/net/tun is missing (load the tun "
			    "module or create the device node)", ifname);
		else if (ret == -EPERM || ret == -EACCES)
			log_error("cannot create interface %s: permission denied (tunneld needs "
			    "CAP_NET_ADMIN: run it as root)", ifname);
		else
			log_errno(LOG_LEVEL_ERROR, ret, "cannot create interface %s", ifname);
		return ret;
	}
	dev->tun_fd = ret;
	if (dev->tun_offloads)
		log_info("%s: offloads: tso4 tso6%s", dev->ifname,
		    dev->tun_offloads & TUN_OFFLOAD_USO ? " uso" : "");
	else
		log_info("%s: offloads: off (%s)", dev->ifname, why);
	gro_init(dev->gro, dev->tun_offloads & TUN_OFFLOAD_USO);
	ret = netlink_open(&dev->nl);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot open rtnetlink");
		return ret;
	}
	ret = netlink_link_index(dev->nl, dev->ifname);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot find interface %s", dev->ifname);
		return ret;
	}
	dev->ifindex = ret;
	if (manage_network)
		dev->route_table = device_route_table(dev->ifname);
	/* Best effort: fails harmlessly where IPv6 is disabled. */
	netlink_link_set_ipv6_addr_gen_none(dev->nl, dev->ifindex);
	if (manage_network) {
		ret = netlink_link_set_mtu(dev->nl, dev->ifindex, dev->mtu);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "cannot set MTU of %s", dev->ifname);
			return ret;
		}
	}
	ret = resolver_new(&dev->resolver, base, peer_resolved, dev);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot start the endpoint resolver (%s)",
		    ret == -ENOMEM ? "memory or event loop" : "pipe2");
		return ret;
	}
	ret = addr_watch_new(&dev->addr_watch, base, source_gone, dev);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot watch local addresses (rtnetlink)");
		return ret;
	}
	wg_engine_set_mtu(dev->engine, dev->mtu);
	if (!manage_network) {
		/* Once a second, cheap: one ioctl.  Until it runs the default is assumed. */
		static const struct timeval second = { 1, 0 };

		dev->ev_mtu = event_new(base, -1, EV_PERSIST, on_mtu_poll, dev);
		if (!dev->ev_mtu || event_add(dev->ev_mtu, &second) < 0) {
			log_error("cannot add the MTU timer to the event loop");
			return -ENOMEM;
		}
	}
	dev->ev_tun = event_new(base, dev->tun_fd, EV_READ | EV_PERSIST, on_tun, dev);
	if (!dev->ev_tun || event_add(dev->ev_tun, NULL) < 0) {
		log_error("cannot add interface %s to the event loop", dev->ifname);
		return -ENOMEM;
	}
	return 0;
}

int device_bind(struct device *dev, uint16_t port)
{
	struct udp fresh;
	int ret;

	ret = udp_open(&fresh, port, dev->fwmark, dev->offload);
	if (ret < 0)
		return ret;
	if (dev->ev_udp4)
		event_free(dev->ev_udp4);
	if (dev->ev_udp6)
		event_free(dev->ev_udp6);
	dev->ev_udp4 = dev->ev_udp6 = NULL;
	udp_close(&dev->udp);
	dev->udp = fresh;
	if (fresh.fd4 >= 0) {
		dev->ev_udp4 = event_new(dev->base, fresh.fd4, EV_READ | EV_PERSIST, on_udp, dev);
		if (!dev->ev_udp4 || event_add(dev->ev_udp4, NULL) < 0)
			return -ENOMEM;
	}
	if (fresh.fd6 >= 0) {
		dev->ev_udp6 = event_new(dev->base, fresh.fd6, EV_READ | EV_PERSIST, on_udp, dev);
		if (!dev->ev_udp6 || event_add(dev->ev_udp6, NULL) < 0)
			return -ENOMEM;
	}
	log_info("%s: listening on UDP port %u", dev->ifname, fresh.port);
	return 0;
}

void device_destroy(struct device *dev)
{
	size_t i;

	crypt_stage_stop(dev);	/* first: its batches point into the buffers and peers */
	while (dev->peers_head)
		peer_destroy(dev->peers_head);
	if (dev->nl && dev->manage_network) {
		for (i = 0; i < dev->n_routes; i++)
			netlink_route_del(dev->nl, dev->ifindex, dev->route_table,
			    dev->routes[i].family, dev->routes[i].addr, dev->routes[i].cidr);
		if (dev->rule_mark) {
			netlink_rule_del(dev->nl, AF_INET, dev->rule_mark, dev->route_table);
			netlink_rule_del(dev->nl, AF_INET6, dev->rule_mark, dev->route_table);
		}
		for (i = 0; i < dev->n_addresses; i++)
			netlink_addr_del(dev->nl, dev->ifindex, dev->addresses[i].family,
			    dev->addresses[i].addr, dev->addresses[i].cidr);
	}
	/* After the addresses: they were never reachable unguarded. */
	firewall_close(dev->fw);
	firewall_policy_free(&dev->policy);
	free(dev->routes);
	free(dev->addresses);
	if (dev->ev_tun)
		event_free(dev->ev_tun);
	if (dev->ev_mtu)
		event_free(dev->ev_mtu);
	if (dev->ev_udp4)
		event_free(dev->ev_udp4);
	if (dev->ev_udp6)
		event_free(dev->ev_udp6);
	udp_close(&dev->udp);
	/* Closing the TUN fd deletes the interface (it is not persistent), and its routes. */
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);
	if (dev->nl)
		netlink_close(dev->nl);
	addr_watch_free(dev->addr_watch);
	resolver_free(dev->resolver);
	if (dev->engine)
		wg_engine_free(dev->engine);
	allowedips_free(&dev->table);
	free_buffers(dev);
	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = -1;
}

void *device_buffers_map(size_t len)
{
	return map_zeroed(len);
}

void device_buffers_unmap(uint8_t *mem, size_t len)
{
	unmap_wiped(mem, len);
}
