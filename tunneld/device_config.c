/* Applying configuration to a running device: whole files (start-up and SIGHUP, as a diff) and
 * UAPI set requests (incremental), and the UAPI get dump. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/mem.h"
#include "device.h"
#include "firewall.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"
#include "peer_log.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int prefix_cmp(const void *pa, const void *pb)
{
	const struct config_prefix *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, addr_len(a->family));
	if (c)
		return c;
	return (int)a->cidr - (int)b->cidr;
}

static const char *prefix_str(const struct config_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->cidr);
	return buf;
}

/* Makes the applied set (*cur, *n_cur; kept sorted) equal to want, deleting what is gone and
 * adding what is new through add/del, the additions in want's own order (the first address of
 * a subnet becomes the primary one).  Sorted sets and binary search: a large roster costs
 * O(n log n), not O(n^2).  Failures are logged and leave that entry out. */
typedef int prefix_fn(struct device *dev, const struct config_prefix *x);

static int sync_prefixes(struct device *dev, struct config_prefix **cur, size_t *n_cur,
    const struct config_prefix *want, size_t n_want, const char *what, prefix_fn *add,
    prefix_fn *del)
{
	struct config_prefix *sorted, *next;
	bool *done;
	size_t i, n = 0, n_sorted = 0;
	char buf[64];
	int ret, first_err = 0;

	sorted = calloc(n_want ? n_want : 1, sizeof(*sorted));
	next = calloc(n_want ? n_want : 1, sizeof(*next));
	done = calloc(n_want ? n_want : 1, sizeof(*done));
	if (!sorted || !next || !done) {
		free(sorted);
		free(next);
		free(done);
		return -ENOMEM;
	}
	mem_copy(sorted, want, n_want * sizeof(*want));
	array_sort(sorted, n_want, sizeof(*sorted), prefix_cmp);
	for (i = 0; i < n_want; i++) {
		if (n_sorted == 0 || prefix_cmp(&sorted[i], &sorted[n_sorted - 1]) != 0)
			sorted[n_sorted++] = sorted[i];
	}
	for (i = 0; i < *n_cur; i++) {
		if (array_search(&(*cur)[i], sorted, n_sorted, sizeof(*sorted), prefix_cmp))
			continue;
		ret = del(dev, &(*cur)[i]);
		if (ret < 0)
			log_errno(LOG_LEVEL_WARN, ret, "%s: cannot remove %s %s", dev->ifname, what,
			    prefix_str(&(*cur)[i], buf, sizeof(buf)));
	}
	for (i = 0; i < n_want; i++) {
		struct config_prefix *slot = array_search(&want[i], sorted, n_sorted,
		    sizeof(*sorted), prefix_cmp);
		size_t k = (size_t)(slot - sorted);

		if (done[k])
			continue;
		done[k] = true;
		if (!array_search(&want[i], *cur, *n_cur, sizeof(**cur), prefix_cmp)) {
			ret = add(dev, &want[i]);
			if (ret < 0) {
				log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot add %s %s", dev->ifname,
				    what, prefix_str(&want[i], buf, sizeof(buf)));
				if (!first_err)
					first_err = ret;
				done[k] = false;	/* not applied */
				continue;
			}
		}
	}
	for (i = 0; i < n_sorted; i++) {
		if (done[i])
			next[n++] = sorted[i];
	}
	free(sorted);
	free(done);
	free(*cur);
	*cur = next;
	*n_cur = n;
	return first_err;
}

static int addr_add(struct device *dev, const struct config_prefix *x)
{
	return netlink_addr_add(dev->nl, dev->ifindex, x->family, x->addr, x->cidr);
}

static int addr_del(struct device *dev, const struct config_prefix *x)
{
	return netlink_addr_del(dev->nl, dev->ifindex, x->family, x->addr, x->cidr);
}

static int route_add(struct device *dev, const struct config_prefix *x)
{
	return netlink_route_add(dev->nl, dev->ifindex, dev->route_table, x->family, x->addr,
	    x->cidr);
}

static int route_del(struct device *dev, const struct config_prefix *x)
{
	return netlink_route_del(dev->nl, dev->ifindex, dev->route_table, x->family, x->addr,
	    x->cidr);
}

/* true if an interface address's own prefix already routes x to the interface. */
static bool covered_by_address(const struct device *dev, const struct config_prefix *x)
{
	for (size_t i = 0; i < dev->n_addresses; i++) {
		const struct config_prefix *a = &dev->addresses[i];
		unsigned full = a->cidr / 8, rest = a->cidr % 8;

		if (a->family != x->family || x->cidr < a->cidr)
			continue;
		if (memcmp(a->addr, x->addr, full) != 0)
			continue;
		if (rest && ((a->addr[full] ^ x->addr[full]) & (uint8_t)(0xff << (8 - rest))))
			continue;
		return true;
	}
	return false;
}

/* An address's prefix as a route: host bits cleared. */
static struct config_prefix address_network(const struct config_prefix *a)
{
	struct config_prefix x = *a;

	for (size_t i = 0; i < addr_len(a->family); i++) {
		if (x.cidr >= 8 * (i + 1))
			continue;
		x.addr[i] &= x.cidr <= 8 * i ? 0 : (uint8_t)(0xff << (8 - (x.cidr - 8 * i)));
	}
	return x;
}

/* Routes (config-file mode) go into the device's own table, consulted before main by every
 * packet but tunneld's own UDP (sync_route_policy): the interface addresses' prefixes (added
 * without a main-table prefix route) and the peers' allowed IPs, except a default route (a full
 * tunnel is wg-quick's job) and prefixes an address already routes here (in roster mode, every
 * peer's overlay address).  So no route here can carry a peer's endpoint into the tunnel. */
static int sync_routes(struct device *dev)
{
	struct config_prefix *want = NULL;
	size_t n = 0, cap = dev->n_addresses;
	struct peer *p;
	int ret;

	if (!dev->manage_network)
		return 0;
	for (p = dev->peers_head; p; p = p->next)
		cap += p->n_allowed_ips;
	if (cap && !(want = calloc(cap, sizeof(*want))))
		return -ENOMEM;
	for (size_t i = 0; i < dev->n_addresses; i++) {
		if (dev->addresses[i].cidr < 8 * addr_len(dev->addresses[i].family))
			want[n++] = address_network(&dev->addresses[i]);
	}
	for (p = dev->peers_head; p; p = p->next) {
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			const struct config_prefix *x = &p->allowed_ips[i];

			if (x->cidr == 0 || covered_by_address(dev, x))
				continue;
			want[n++] = *x;
		}
	}
	ret = sync_prefixes(dev, &dev->routes, &dev->n_routes, want, n, "route", route_add,
	    route_del);
	free(want);
	return ret;
}

struct route_set {
	struct config_prefix *v;
	size_t n, cap;
	bool oom;
};

static void route_seen(void *ctx, int family, const uint8_t *dst, uint8_t prefixlen)
{
	struct route_set *set = ctx;
	struct config_prefix *grown;

	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;

		if (!(grown = realloc(set->v, cap * sizeof(*grown)))) {
			set->oom = true;
			return;
		}
		set->v = grown;
		set->cap = cap;
	}
	memset(&set->v[set->n], 0, sizeof(set->v[set->n]));
	set->v[set->n].family = family;
	memcpy(set->v[set->n].addr, dst, addr_len(family));
	set->v[set->n].cidr = prefixlen;
	set->n++;
}

/* Removing an interface's last IPv4 address makes the kernel drop every IPv4 route through
 * it, in every table, behind our back; so after the addresses changed, the applied routes
 * that the table no longer holds (one dump, a binary search each) are added again.  One that
 * cannot be is logged and left out of the applied set, so that the next apply adds it.
 * Returns 0 or the first negative errno. */
static int reassert_routes(struct device *dev)
{
	struct route_set present = { 0 };
	char buf[64];
	size_t i, n = 0;
	int ret, first_err = 0;

	if (!dev->n_routes)
		return 0;
	ret = netlink_route_walk(dev->nl, dev->route_table, dev->ifindex, route_seen, &present);
	if (ret < 0 || present.oom) {
		ret = ret < 0 ? ret : -ENOMEM;
		log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot list the routes of table %u",
		    dev->ifname, dev->route_table);
		free(present.v);
		return ret;
	}
	array_sort(present.v, present.n, sizeof(*present.v), prefix_cmp);
	for (i = 0; i < dev->n_routes; i++) {
		if (!array_search(&dev->routes[i], present.v, present.n, sizeof(*present.v),
		    prefix_cmp)) {
			ret = route_add(dev, &dev->routes[i]);
			if (ret < 0) {
				log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot restore route %s",
				    dev->ifname, prefix_str(&dev->routes[i], buf, sizeof(buf)));
				if (!first_err)
					first_err = ret;
				continue;
			}
		}
		dev->routes[n++] = dev->routes[i];
	}
	dev->n_routes = n;
	free(present.v);
	return first_err;
}

/* tunneld marks its UDP sockets (FwMark, or the device's table id) and installs, per family,
 * `not fwmark MARK lookup TABLE` (wg-quick's rule for full tunnels): every other packet sees
 * the tunnel's routes first; the encrypted packets never do, so they cannot be routed into
 * the tunnel they carry, whatever the allowed IPs or wherever a peer roams.  Rules left by a
 * crashed run (any mark) are removed first; a new mark's rule goes in before the old one goes.
 * Returns 0 or the first negative errno (logged). */
static int sync_route_policy(struct device *dev)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	int ret, first_err = 0;

	if (!dev->manage_network || (dev->rule_mark && dev->rule_mark == dev->fwmark))
		return 0;
	for (int i = 0; i < 2; i++) {
		const char *fam = families[i] == AF_INET ? "IPv4" : "IPv6";

		if (!dev->rule_mark) {
			ret = netlink_rule_flush(dev->nl, families[i], dev->route_table);
			if (ret < 0)
				log_errno(LOG_LEVEL_WARN, ret, "%s: cannot remove stale %s policy "
				    "rules to table %u", dev->ifname, fam, dev->route_table);
		}
		ret = netlink_rule_add(dev->nl, families[i], dev->fwmark, dev->route_table);
		if (ret < 0) {
			/* Without IPv6 there are no IPv6 routes to keep packets out of either. */
			log_errno(families[i] == AF_INET6 && ret == -EAFNOSUPPORT ? LOG_LEVEL_WARN :
			    LOG_LEVEL_ERROR, ret, "%s: cannot add the %s policy rule 'not fwmark "
			    "0x%x lookup %u'", dev->ifname, fam, dev->fwmark, dev->route_table);
			if (!first_err && !(families[i] == AF_INET6 && ret == -EAFNOSUPPORT))
				first_err = ret;
			continue;
		}
		if (dev->rule_mark)
			netlink_rule_del(dev->nl, families[i], dev->rule_mark, dev->route_table);
	}
	if (!first_err)
		dev->rule_mark = dev->fwmark;
	return first_err;
}

/* Opens the overlay firewall's table and puts the policy in it. */
static int firewall_start(struct device *dev)
{
	int ret = firewall_open(&dev->fw, dev->ifname, dev->ifindex);

	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot install the overlay firewall "
		    "(nftables table inet warren-%s; OverlayFirewall = off runs without it, "
		    "unless the roster has a policy)", dev->ifname, dev->ifname);
		return ret;
	}
	if (firewall_policy_active(&dev->policy)) {
		ret = firewall_set_policy(dev->fw, &dev->policy);
		dev->policy_applied = ret == 0;
		if (ret < 0)
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot enforce the roster's policy "
			    "(table inet %s)", dev->ifname, firewall_table_name(dev->fw));
	}
	return 0;
}

/* The overlay firewall follows the addresses.  Before they change it guards the applied and
 * the wanted ones together, so that no address is ever on the interface unguarded; after,
 * it guards what was applied.  Turned on or off here too (SIGHUP); off, the table stays for
 * the roster's policy alone, when there is one. */
static int guard_addresses(struct device *dev, const struct config *c, bool after)
{
	struct config_prefix *both;
	size_t n = 0;
	int ret;

	if (c->no_overlay_firewall) {
		if (dev->fw && firewall_policy_active(&dev->policy))
			return firewall_set_addresses(dev->fw, NULL, 0);
		if (dev->fw)
			log_info("%s: overlay firewall off: table %s removed", dev->ifname,
			    firewall_table_name(dev->fw));
		firewall_close(dev->fw);
		dev->fw = NULL;
		return 0;
	}
	if (!dev->fw && (ret = firewall_start(dev)) < 0)
		return ret;
	if (after)
		return firewall_set_addresses(dev->fw, dev->addresses, dev->n_addresses);
	if (!(both = calloc(dev->n_addresses + c->n_addresses + 1, sizeof(*both))))
		return -ENOMEM;
	mem_copy(both, dev->addresses, dev->n_addresses * sizeof(*both));
	n = dev->n_addresses;
	mem_copy(both + n, c->addresses, c->n_addresses * sizeof(*both));
	n += c->n_addresses;
	ret = firewall_set_addresses(dev->fw, both, n);
	free(both);
	return ret;
}

int device_set_policy(struct device *dev, const struct firewall_policy *p)
{
	struct firewall_policy copy;
	int ret;

	if (firewall_policy_equal(p, &dev->policy) && (dev->policy_applied ||
	    !firewall_policy_active(p)))
		return 0;
	if ((ret = firewall_policy_copy(&copy, p)) < 0)
		return ret;
	firewall_policy_free(&dev->policy);
	dev->policy = copy;
	dev->policy_applied = false;
	if (!dev->manage_network)
		return 0;
	if (!dev->fw) {
		if (!firewall_policy_active(p)) {
			dev->policy_applied = true;
			return 0;
		}
		/* OverlayFirewall = off: the table holds the policy alone. */
		if ((ret = firewall_start(dev)) < 0)
			return ret;
		return dev->policy_applied ? 0 : -EIO;
	}
	ret = firewall_set_policy(dev->fw, &dev->policy);
	dev->policy_applied = ret == 0;
	if (ret < 0)
		log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot enforce the roster's new policy; the "
		    "previous one stays in force (table inet %s)", dev->ifname,
		    firewall_table_name(dev->fw));
	return ret;
}

static int set_allowed_ips(struct peer *p, const struct config_peer *cp)
{
	int ret;

	if (cp->replace_allowed_ips) {
		/* A whole roster or file re-applied: most peers' lists are unchanged. */
		if (peer_allowed_ips_same(p, cp->allowed_ips, cp->n_allowed_ips))
			return 0;
		peer_allowed_ips_clear(p);
	}
	for (size_t i = 0; i < cp->n_allowed_ips; i++) {
		ret = peer_allowed_ip_add(p, &cp->allowed_ips[i]);
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
	peer_resolve_cancel(p);		/* an answer for an earlier name must not override this */
	peer_set_endpoint_addr(p, &cp->endpoint);
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

static void peer_remove(struct device *dev, struct peer *p)
{
	struct peer_log l;

	peer_log_of(&l, p);
	log_fields_msg(LOG_LEVEL_INFO, &l.fields, "%s: %s removed", dev->ifname, l.text);
	peer_destroy(p);
}

/* device_apply_file_config, or with delta its incremental form
 * (device_apply_file_config_delta). */
static int apply_file(struct device *dev, const struct config *c, bool delta,
    const uint8_t (*gone)[WG_KEY_LEN], size_t n_gone)
{
	uint64_t now = clock_now_ns();
	struct peer *p, *next;
	unsigned mtu = c->has_mtu ? c->mtu : DEFAULT_MTU;
	uint16_t port = c->has_listen_port ? c->listen_port : 0;
	uint32_t mark;
	bool addresses_changed = false;
	int ret, first_err = 0;

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
	/* Managing routes, the UDP sockets are always marked (sync_route_policy). */
	mark = c->has_fwmark ? c->fwmark : 0;
	if (!mark && dev->manage_network)
		mark = dev->route_table;
	if (mark != dev->fwmark) {
		ret = udp_set_fwmark(&dev->udp, mark);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, -ret, "%s: cannot set fwmark 0x%x", dev->ifname,
			    mark);
			first_err = ret;
		} else {
			dev->fwmark = mark;
		}
	}
	ret = sync_route_policy(dev);
	if (ret < 0 && !first_err)
		first_err = ret;
	if (c->has_private_key)
		set_private_key(dev, c->private_key);

	/* Peers the file no longer lists go, in one pass: mark the listed ones first.  A delta
	 * names them instead. */
	for (size_t i = 0; i < n_gone; i++) {
		if ((p = peer_find(dev, gone[i])))
			peer_remove(dev, p);
	}
	dev->config_gen++;
	for (size_t i = 0; i < c->n_peers && !delta; i++) {
		if ((p = peer_find(dev, c->peers[i].public_key)))
			p->config_gen = dev->config_gen;
	}
	for (p = dev->peers_head; p && !delta; p = next) {
		next = p->next;
		if (p->config_gen != dev->config_gen)
			peer_remove(dev, p);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];
		bool fresh = false;

		p = peer_find(dev, cp->public_key);
		if (!p) {
			p = peer_create(dev, cp->public_key);
			if (!p) {
				struct peer_log l;

				peer_log_init(&l, cp->public_key, cp->name, NULL);
				log_fields_msg(LOG_LEVEL_ERROR, &l.fields,
				    "%s: cannot add %s (line %u)", dev->ifname, l.text, cp->line);
				if (!first_err)
					first_err = -ENOMEM;
				continue;
			}
			fresh = true;
		}
		/* A rename in the roster keeps the key, so the peer and its sessions. */
		memcpy(p->name, cp->name, sizeof(p->name));
		set_preshared_key(p, cp);
		if (cp->has_endpoint) {
			if (fresh || !sockaddr_equal(&cp->endpoint, &p->configured_endpoint))
				set_endpoint(p, cp, now);
		} else if (cp->endpoint_unresolved) {
			/* A new name, or one that never resolved and is not being looked up:
			 * a reload is the operator's way to retry it. */
			if (fresh || strcmp(p->endpoint_host, cp->endpoint_host) != 0 ||
			    strcmp(p->endpoint_port, cp->endpoint_port) != 0 ||
			    (p->endpoint.addr.sa.sa_family == AF_UNSPEC && !p->resolve_tag)) {
				snprintf(p->endpoint_host, sizeof(p->endpoint_host), "%s",
				    cp->endpoint_host);
				snprintf(p->endpoint_port, sizeof(p->endpoint_port), "%s",
				    cp->endpoint_port);
				p->configured_endpoint.sa.sa_family = AF_UNSPEC;
				peer_resolve_now(p, now);
			}
		} else if (!fresh && (p->configured_endpoint.sa.sa_family != AF_UNSPEC ||
		    p->endpoint_host[0])) {
			p->configured_endpoint.sa.sa_family = AF_UNSPEC;
			p->endpoint_host[0] = '\0';
			peer_resolve_cancel(p);
		}
		if (wg_peer_persistent_keepalive(p->wg) != cp->persistent_keepalive)
			wg_peer_set_persistent_keepalive(p->wg, cp->persistent_keepalive, now);
		ret = set_allowed_ips(p, cp);
		if (ret < 0) {
			struct peer_log l;

			peer_log_of(&l, p);
			log_errno(LOG_LEVEL_ERROR, ret, "%s: allowed IPs of %s (line %u)",
			    dev->ifname, l.text, cp->line);
			if (!first_err)
				first_err = ret;
		}
		peer_touch(p);
	}

	if (dev->manage_network) {
		if (mtu != dev->mtu) {
			ret = netlink_link_set_mtu(dev->nl, dev->ifindex, mtu);
			if (ret < 0) {
				log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot set MTU %u", dev->ifname,
				    mtu);
				if (!first_err)
					first_err = ret;
			} else {
				dev->mtu = mtu;
				wg_engine_set_mtu(dev->engine, mtu);
			}
		}
		/* Unguarded addresses are not added: a failure keeps the applied ones. */
		ret = guard_addresses(dev, c, false);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "%s: overlay firewall not updated, "
			    "addresses left as they were", dev->ifname);
			if (!first_err)
				first_err = ret;
		} else {
			size_t n_before = dev->n_addresses;
			struct config_prefix *before = n_before ?
			    malloc(n_before * sizeof(*before)) : NULL;

			if (before)
				memcpy(before, dev->addresses, n_before * sizeof(*before));
			ret = sync_prefixes(dev, &dev->addresses, &dev->n_addresses, c->addresses,
			    c->n_addresses, "address", addr_add, addr_del);
			if (ret < 0 && !first_err)
				first_err = ret;
			/* Sorted sets: equal exactly when byte-equal.  Unknown (no memory):
			 * changed. */
			addresses_changed = n_before != dev->n_addresses || (n_before && (!before ||
			    !mem_equal(before, dev->addresses, n_before * sizeof(*before))));
			free(before);
			ret = guard_addresses(dev, c, true);
			if (ret < 0) {
				log_errno(LOG_LEVEL_ERROR, ret, "%s: overlay firewall not updated",
				    dev->ifname);
				if (!first_err)
					first_err = ret;
			}
		}
		ret = netlink_link_set_up(dev->nl, dev->ifindex, true);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot bring the link up", dev->ifname);
			if (!first_err)
				first_err = ret;
		}
		ret = sync_routes(dev);
		if (ret < 0 && !first_err)
			first_err = ret;
		if (addresses_changed) {
			ret = reassert_routes(dev);
			if (ret < 0 && !first_err)
				first_err = ret;
		}
	}
	device_rearm_touched(dev);
	/* Whatever failed was logged by what it was and left out of the state kept above (so a
	 * second call retries exactly it); the caller must not announce a partial apply. */
	return first_err;
}

int device_apply_file_config(struct device *dev, const struct config *c)
{
	return apply_file(dev, c, false, NULL, 0);
}

int device_apply_file_config_delta(struct device *dev, const struct config *c,
    const uint8_t (*gone)[WG_KEY_LEN], size_t n_gone)
{
	return apply_file(dev, c, true, gone, n_gone);
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
	if (c->has_fwmark && c->fwmark != dev->fwmark &&
	    !(dev->manage_network && !c->fwmark)) {	/* managing routes, a mark is kept */
		dev->fwmark = c->fwmark;
		ret = udp_set_fwmark(&dev->udp, c->fwmark);
		if (ret < 0)
			return -ret;
		ret = sync_route_policy(dev);
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

/* The get dump is what `wg show` waits for, and with a large roster it is long (10,000 peers:
 * about 120,000 lines): each peer's lines are formatted by hand into one block and emitted at
 * once, where a printf per line cost most of the listing's time. */
struct dump_block {
	char text[1024];
	size_t len;
	device_emit_fn *emit;
	void *ctx;
};

/* Emits what the block holds (wiped: it may hold a preshared key). */
static void block_flush(struct dump_block *b)
{
	if (b->len)
		b->emit(b->ctx, "%.*s", (int)b->len, b->text);
	sodium_memzero(b->text, b->len);
	b->len = 0;
}

/* Each group of lines put_peer writes after a block_room call is at most 176 bytes (the
 * public key, preshared key and protocol version lines; an IPv6 endpoint or allowed IP line
 * is 63): room for 256 is always enough. */
enum { DUMP_GROUP_MAX = 256 };

static void block_room(struct dump_block *b)
{
	_Static_assert(sizeof(b->text) >= 2 * DUMP_GROUP_MAX, "a group fits an empty block");
	if (sizeof(b->text) - b->len < DUMP_GROUP_MAX)
		block_flush(b);
}

static void put(struct dump_block *b, const char *s, size_t n)
{
	memcpy(b->text + b->len, s, n);
	b->len += n;
}

#define PUT_LITERAL(b, s)	put((b), (s), sizeof(s) - 1)

static void put_u64(struct dump_block *b, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, digits + sizeof(digits) - n, n);
}

/* A public key, in lowercase hex (a table: it is no secret). */
static void put_hex(struct dump_block *b, const uint8_t key[WG_KEY_LEN])
{
	static const char digit[16] = "0123456789abcdef";

	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		b->text[b->len++] = digit[key[i] >> 4];
		b->text[b->len++] = digit[key[i] & 15];
	}
}

static void put_addr(struct dump_block *b, int family, const uint8_t *addr)
{
	char a[INET6_ADDRSTRLEN];

	if (family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			if (i)
				PUT_LITERAL(b, ".");
			put_u64(b, addr[i]);
		}
		return;
	}
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	put(b, a, strlen(a));
}

static void put_peer(struct dump_block *b, const struct peer *p)
{
	uint8_t psk[WG_KEY_LEN];
	uint64_t hs = wg_peer_last_handshake_wall_ns(p->wg);

	block_room(b);
	PUT_LITERAL(b, "public_key=");
	put_hex(b, wg_peer_public_key(p->wg));
	PUT_LITERAL(b, "\npreshared_key=");
	if (wg_peer_preshared_key(p->wg, psk)) {
		/* A secret: libsodium's constant-time hex, and wiped. */
		sodium_bin2hex(b->text + b->len, 2 * WG_KEY_LEN + 1, psk, WG_KEY_LEN);
		b->len += 2 * WG_KEY_LEN;
		sodium_memzero(psk, sizeof(psk));
	} else {
		memset(b->text + b->len, '0', 2 * WG_KEY_LEN);
		b->len += 2 * WG_KEY_LEN;
	}
	PUT_LITERAL(b, "\nprotocol_version=1\n");
	block_room(b);
	if (p->endpoint.addr.sa.sa_family == AF_INET) {
		PUT_LITERAL(b, "endpoint=");
		put_addr(b, AF_INET, (const uint8_t *)&p->endpoint.addr.in4.sin_addr);
		PUT_LITERAL(b, ":");
		put_u64(b, ntohs(p->endpoint.addr.in4.sin_port));
		PUT_LITERAL(b, "\n");
	} else if (p->endpoint.addr.sa.sa_family == AF_INET6) {
		PUT_LITERAL(b, "endpoint=[");
		put_addr(b, AF_INET6, (const uint8_t *)&p->endpoint.addr.in6.sin6_addr);
		PUT_LITERAL(b, "]:");
		put_u64(b, ntohs(p->endpoint.addr.in6.sin6_port));
		PUT_LITERAL(b, "\n");
	}
	block_room(b);
	PUT_LITERAL(b, "last_handshake_time_sec=");
	put_u64(b, hs / 1000000000ULL);
	PUT_LITERAL(b, "\nlast_handshake_time_nsec=");
	put_u64(b, hs % 1000000000ULL);
	PUT_LITERAL(b, "\n");
	block_room(b);
	PUT_LITERAL(b, "tx_bytes=");
	put_u64(b, p->tx_bytes);
	PUT_LITERAL(b, "\nrx_bytes=");
	put_u64(b, p->rx_bytes);
	PUT_LITERAL(b, "\npersistent_keepalive_interval=");
	put_u64(b, wg_peer_persistent_keepalive(p->wg));
	PUT_LITERAL(b, "\n");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		block_room(b);
		PUT_LITERAL(b, "allowed_ip=");
		put_addr(b, p->allowed_ips[i].family, p->allowed_ips[i].addr);
		PUT_LITERAL(b, "/");
		put_u64(b, p->allowed_ips[i].cidr);
		PUT_LITERAL(b, "\n");
	}
}

void device_uapi_get(struct device *dev, device_emit_fn *emit, void *ctx)
{
	struct dump_block b = { .len = 0 };
	uint8_t key[WG_KEY_LEN];
	char h[2 * WG_KEY_LEN + 1];
	struct peer *p;

	if (wg_engine_private_key(dev->engine, key)) {
		sodium_bin2hex(h, sizeof(h), key, WG_KEY_LEN);
		emit(ctx, "private_key=%s\n", h);
		sodium_memzero(key, sizeof(key));
		sodium_memzero(h, sizeof(h));
	}
	if (dev->udp.port)
		emit(ctx, "listen_port=%u\n", dev->udp.port);
	if (dev->fwmark)
		emit(ctx, "fwmark=%u\n", dev->fwmark);
	b.emit = emit;
	b.ctx = ctx;
	for (p = dev->peers_head; p; p = p->next)
		put_peer(&b, p);
	block_flush(&b);
}
