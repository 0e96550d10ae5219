/* Applying configuration to a running device: whole files (start-up and SIGHUP, as a diff) and
 * UAPI set requests (incremental), and the UAPI get dump. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "device.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"

static bool prefix_equal(const struct config_prefix *a, const struct config_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	    memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static bool prefix_in(const struct config_prefix *p, const struct config_prefix *set, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (prefix_equal(p, &set[i]))
			return true;
	}
	return false;
}

static const char *prefix_str(const struct config_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->cidr);
	return buf;
}

/* Makes the applied set (*cur, *n_cur) equal to want, adding what is new and deleting what is
 * gone, through add/del.  Failures are logged and leave that entry out. */
static int sync_prefixes(struct device *dev, struct config_prefix **cur, size_t *n_cur,
    const struct config_prefix *want, size_t n_want, const char *what,
    int (*add)(struct netlink *, int, int, const void *, uint8_t),
    int (*del)(struct netlink *, int, int, const void *, uint8_t))
{
	struct config_prefix *next;
	size_t i, n = 0;
	char buf[64];
	int ret, first_err = 0;

	next = calloc(n_want ? n_want : 1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (i = 0; i < *n_cur; i++) {
		if (prefix_in(&(*cur)[i], want, n_want))
			continue;
		ret = del(dev->nl, dev->ifindex, (*cur)[i].family, (*cur)[i].addr, (*cur)[i].cidr);
		if (ret < 0)
			log_errno(LOG_LEVEL_WARN, ret, "%s: cannot remove %s %s", dev->ifname, what,
			    prefix_str(&(*cur)[i], buf, sizeof(buf)));
	}
	for (i = 0; i < n_want; i++) {
		if (prefix_in(&want[i], next, n))
			continue;
		if (!prefix_in(&want[i], *cur, *n_cur)) {
			ret = add(dev->nl, dev->ifindex, want[i].family, want[i].addr, want[i].cidr);
			if (ret < 0) {
				log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot add %s %s", dev->ifname,
				    what, prefix_str(&want[i], buf, sizeof(buf)));
				if (!first_err)
					first_err = ret;
				continue;
			}
		}
		next[n++] = want[i];
	}
	free(*cur);
	*cur = next;
	*n_cur = n;
	return first_err;
}

struct route_collect {
	struct config_prefix *v;
	size_t n, cap;
	int err;
};

static void collect_route(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct route_collect *rc = ctx;
	struct config_prefix *grown;

	/* A default route through the tunnel needs policy routing to keep the underlay out of
	 * the tunnel: that is wg-quick's job, not ours. */
	if (cidr == 0)
		return;
	if (rc->n == rc->cap) {
		rc->cap = rc->cap ? rc->cap * 2 : 16;
		grown = realloc(rc->v, rc->cap * sizeof(*grown));
		if (!grown) {
			rc->err = -ENOMEM;
			return;
		}
		rc->v = grown;
	}
	memset(&rc->v[rc->n], 0, sizeof(rc->v[rc->n]));
	rc->v[rc->n].family = family;
	memcpy(rc->v[rc->n].addr, addr, family == AF_INET ? 4 : 16);
	rc->v[rc->n].cidr = cidr;
	rc->n++;
}

/* Routes follow the peers' allowed IPs in config-file mode. */
static int sync_routes(struct device *dev)
{
	struct route_collect rc = { 0 };
	struct peer *p;
	int ret;

	if (!dev->manage_network)
		return 0;
	for (p = dev->peers_head; p; p = p->next)
		allowedips_walk_owner(&dev->table, p, collect_route, &rc);
	if (rc.err) {
		free(rc.v);
		return rc.err;
	}
	ret = sync_prefixes(dev, &dev->routes, &dev->n_routes, rc.v, rc.n, "route",
	    netlink_route_add, netlink_route_del);
	free(rc.v);
	return ret;
}

static int set_allowed_ips(struct peer *p, const struct config_peer *cp)
{
	struct device *dev = p->dev;
	int ret;

	if (cp->replace_allowed_ips)
		allowedips_remove_by_owner(&dev->table, p);
	for (size_t i = 0; i < cp->n_allowed_ips; i++) {
		ret = allowedips_insert(&dev->table, cp->allowed_ips[i].family,
		    cp->allowed_ips[i].addr, cp->allowed_ips[i].cidr, p);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void set_endpoint(struct peer *p, const struct config_peer *cp, uint64_t now)
{
	struct in6_addr literal;

	/* Only names are worth looking up again. */
	if (inet_pton(AF_INET, cp->endpoint_host, &literal) == 1 ||
	    inet_pton(AF_INET6, cp->endpoint_host, &literal) == 1)
		p->endpoint_host[0] = '\0';
	else
		snprintf(p->endpoint_host, sizeof(p->endpoint_host), "%s", cp->endpoint_host);
	snprintf(p->endpoint_port, sizeof(p->endpoint_port), "%s", cp->endpoint_port);
	p->last_resolve_ns = now;
	p->configured_endpoint = cp->endpoint;
	peer_set_endpoint(p, &cp->endpoint);
}

static bool sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		    a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		    memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0 &&
		    a->in6.sin6_scope_id == b->in6.sin6_scope_id;
	return true;
}

static void set_preshared_key(struct peer *p, const struct config_peer *cp)
{
	wg_peer_set_preshared_key(p->wg, sodium_is_zero(cp->preshared_key, WG_KEY_LEN) ?
	    NULL : cp->preshared_key);
}

static bool config_has_peer(const struct config *c, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < c->n_peers; i++) {
		if (sodium_memcmp(c->peers[i].public_key, key, WG_KEY_LEN) == 0)
			return true;
	}
	return false;
}

static void set_private_key(struct device *dev, const uint8_t key[WG_KEY_LEN])
{
	uint8_t cur[WG_KEY_LEN], pub[WG_KEY_LEN];
	bool zero = sodium_is_zero(key, WG_KEY_LEN);
	bool have = wg_engine_private_key(dev->engine, cur);
	struct peer *p;

	if ((zero && !have) || (have && sodium_memcmp(cur, key, WG_KEY_LEN) == 0))
		goto out;
	wg_engine_set_private_key(dev->engine, zero ? NULL : key);
	/* A peer with our own public key can never be talked to (the kernel drops it too). */
	if (!zero && wg_engine_public_key(dev->engine, pub) && (p = peer_find(dev, pub)))
		peer_destroy(p);
	for (p = dev->peers_head; p; p = p->next)
		peer_drop_staged(p);
out:
	sodium_memzero(cur, sizeof(cur));
}

int device_apply_file_config(struct device *dev, const struct config *c)
{
	uint64_t now = clock_now_ns();
	struct peer *p, *next;
	unsigned mtu = c->has_mtu ? c->mtu : DEFAULT_MTU;
	uint16_t port = c->has_listen_port ? c->listen_port : 0;
	int ret;

	bool bound = dev->udp.fd4 >= 0 || dev->udp.fd6 >= 0;
	bool port_changed = c->has_listen_port ? port != dev->udp.port : dev->has_listen_port;

	/* Things that can fail come first, so that a failure changes nothing. */
	if (!bound || port_changed) {
		ret = device_bind(dev, port);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot listen on UDP port %u",
			    dev->ifname, port);
			return ret;
		}
	}
	dev->has_listen_port = c->has_listen_port;
	dev->listen_port = port;
	if ((c->has_fwmark ? c->fwmark : 0) != dev->fwmark) {
		dev->fwmark = c->has_fwmark ? c->fwmark : 0;
		udp_set_fwmark(&dev->udp, dev->fwmark);
	}
	if (c->has_private_key)
		set_private_key(dev, c->private_key);

	for (p = dev->peers_head; p; p = next) {
		next = p->next;
		if (!config_has_peer(c, wg_peer_public_key(p->wg))) {
			log_info("%s: peer removed", dev->ifname);
			peer_destroy(p);
		}
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];
		bool fresh = false;

		p = peer_find(dev, cp->public_key);
		if (!p) {
			p = peer_create(dev, cp->public_key);
			if (!p) {
				log_error("%s: cannot add peer (line %u)", dev->ifname, cp->line);
				continue;
			}
			fresh = true;
		}
		set_preshared_key(p, cp);
		if (cp->has_endpoint) {
			if (fresh || !sockaddr_equal(&cp->endpoint, &p->configured_endpoint))
				set_endpoint(p, cp, now);
		} else if (!fresh && p->configured_endpoint.sa.sa_family != AF_UNSPEC) {
			p->configured_endpoint.sa.sa_family = AF_UNSPEC;
			p->endpoint_host[0] = '\0';
		}
		if (wg_peer_persistent_keepalive(p->wg) != cp->persistent_keepalive)
			wg_peer_set_persistent_keepalive(p->wg, cp->persistent_keepalive, now);
		ret = set_allowed_ips(p, cp);
		if (ret < 0)
			log_errno(LOG_LEVEL_ERROR, ret, "%s: allowed IPs of peer (line %u)",
			    dev->ifname, cp->line);
		peer_touch(p);
	}

	if (dev->manage_network) {
		if (mtu != dev->mtu) {
			ret = netlink_link_set_mtu(dev->nl, dev->ifindex, mtu);
			if (ret < 0)
				log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot set MTU %u", dev->ifname,
				    mtu);
			else {
				dev->mtu = mtu;
				wg_engine_set_mtu(dev->engine, mtu);
			}
		}
		sync_prefixes(dev, &dev->addresses, &dev->n_addresses, c->addresses,
		    c->n_addresses, "address", netlink_addr_add, netlink_addr_del);
		ret = netlink_link_set_up(dev->nl, dev->ifindex, true);
		if (ret < 0)
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot bring the link up", dev->ifname);
		sync_routes(dev);
	}
	device_rearm_touched(dev);
	return 0;
}

int device_apply_uapi_set(struct device *dev, const struct config *c)
{
	uint64_t now = clock_now_ns();
	struct peer *p;
	int ret;

	if (c->has_listen_port && (c->listen_port != dev->udp.port ||
	    (dev->udp.fd4 < 0 && dev->udp.fd6 < 0))) {
		ret = device_bind(dev, c->listen_port);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot listen on UDP port %u",
			    dev->ifname, c->listen_port);
			return -ret;
		}
		dev->has_listen_port = true;
		dev->listen_port = c->listen_port;
	}
	if (c->has_fwmark && c->fwmark != dev->fwmark) {
		dev->fwmark = c->fwmark;
		ret = udp_set_fwmark(&dev->udp, c->fwmark);
		if (ret < 0)
			return -ret;
	}
	if (c->has_private_key)
		set_private_key(dev, c->private_key);
	if (c->replace_peers) {
		while (dev->peers_head)
			peer_destroy(dev->peers_head);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];

		p = peer_find(dev, cp->public_key);
		if (cp->remove) {
			if (p)
				peer_destroy(p);
			continue;
		}
		if (!p) {
			if (cp->update_only)
				continue;
			p = peer_create(dev, cp->public_key);
			/* Our own public key, as the kernel does: ignored. */
			if (!p)
				continue;
		}
		if (cp->has_preshared_key)
			set_preshared_key(p, cp);
		if (cp->has_endpoint)
			set_endpoint(p, cp, now);
		if (cp->has_persistent_keepalive)
			wg_peer_set_persistent_keepalive(p->wg, cp->persistent_keepalive, now);
		ret = set_allowed_ips(p, cp);
		if (ret < 0)
			return -ret;
		peer_touch(p);
	}
	/* Bring up the sockets the first time a configuration arrives. */
	if (dev->udp.fd4 < 0 && dev->udp.fd6 < 0) {
		ret = device_bind(dev, 0);
		if (ret < 0)
			return -ret;
	}
	sync_routes(dev);
	device_rearm_touched(dev);
	return 0;
}

struct walk_emit {
	device_emit_fn *emit;
	void *ctx;
};

static void emit_allowed_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_emit *we = ctx;
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	we->emit(we->ctx, "allowed_ip=%s/%u\n", a, cidr);
}

static void hex(char out[2 * WG_KEY_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	sodium_bin2hex(out, 2 * WG_KEY_LEN + 1, key, WG_KEY_LEN);
}

void device_uapi_get(struct device *dev, device_emit_fn *emit, void *ctx)
{
	struct walk_emit we = { emit, ctx };
	uint8_t key[WG_KEY_LEN];
	char h[2 * WG_KEY_LEN + 1], a[INET6_ADDRSTRLEN];
	struct peer *p;
	uint64_t hs;

	if (wg_engine_private_key(dev->engine, key)) {
		hex(h, key);
		emit(ctx, "private_key=%s\n", h);
	}
	if (dev->udp.port)
		emit(ctx, "listen_port=%u\n", dev->udp.port);
	if (dev->fwmark)
		emit(ctx, "fwmark=%u\n", dev->fwmark);
	for (p = dev->peers_head; p; p = p->next) {
		hex(h, wg_peer_public_key(p->wg));
		emit(ctx, "public_key=%s\n", h);
		if (!wg_peer_preshared_key(p->wg, key))
			memset(key, 0, sizeof(key));
		hex(h, key);
		emit(ctx, "preshared_key=%s\n", h);
		emit(ctx, "protocol_version=1\n");
		if (p->endpoint.sa.sa_family == AF_INET) {
			inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, a, sizeof(a));
			emit(ctx, "endpoint=%s:%u\n", a, ntohs(p->endpoint.in4.sin_port));
		} else if (p->endpoint.sa.sa_family == AF_INET6) {
			inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, a, sizeof(a));
			emit(ctx, "endpoint=[%s]:%u\n", a, ntohs(p->endpoint.in6.sin6_port));
		}
		hs = wg_peer_last_handshake_wall_ns(p->wg);
		emit(ctx, "last_handshake_time_sec=%llu\n", (unsigned long long)(hs / 1000000000ULL));
		emit(ctx, "last_handshake_time_nsec=%llu\n",
		    (unsigned long long)(hs % 1000000000ULL));
		emit(ctx, "tx_bytes=%llu\n", (unsigned long long)p->tx_bytes);
		emit(ctx, "rx_bytes=%llu\n", (unsigned long long)p->rx_bytes);
		emit(ctx, "persistent_keepalive_interval=%u\n", wg_peer_persistent_keepalive(p->wg));
		allowedips_walk_owner(&dev->table, p, emit_allowed_ip, &we);
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(h, sizeof(h));
}
