#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypt_stage.h"
#include "log.h"
#include "wg/messages.h"
#include "peer.h"
#include "peer_log.h"
#include "resolver.h"

uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void peer_timer_fired(evutil_socket_t fd, short what, void *arg);

struct peer *peer_create(struct device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct peer *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->dev = dev;
	p->armed_deadline = UINT64_MAX;
	p->endpoint.addr.sa.sa_family = AF_UNSPEC;
	p->timer = evtimer_new(dev->base, peer_timer_fired, p);
	if (!p->timer)
		goto fail;
	p->wg = wg_engine_peer_add(dev->engine, public_key, p);
	if (!p->wg)
		goto fail;
	p->prev = dev->peers_tail;
	if (dev->peers_tail)
		dev->peers_tail->next = p;
	else
		dev->peers_head = p;
	dev->peers_tail = p;
	dev->n_peers++;
	return p;
fail:
	if (p->timer)
		event_free(p->timer);
	free(p);
	return NULL;
}

void peer_destroy(struct peer *p)
{
	struct device *dev = p->dev;
	struct peer **pp;

	crypt_stage_forget_peer(dev, p);
	peer_drop_staged(p);
	peer_allowed_ips_clear(p);
	free(p->allowed_ips);
	wg_engine_peer_remove(dev->engine, p->wg);
	event_free(p->timer);
	if (p->dirty) {
		for (pp = &dev->dirty_head; *pp; pp = &(*pp)->dirty_next) {
			if (*pp == p) {
				*pp = p->dirty_next;
				break;
			}
		}
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		dev->peers_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		dev->peers_tail = p->prev;
	dev->n_peers--;
	sodium_memzero(p, sizeof(*p));
	free(p);
}

struct peer *peer_find(struct device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct wg_peer *wp = wg_engine_peer_lookup(dev->engine, public_key);

	return wp ? wg_peer_ctx(wp) : NULL;
}

static size_t prefix_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool prefix_equal(const struct config_prefix *x, const struct config_prefix *y)
{
	return y->family == x->family && y->cidr == x->cidr &&
	    memcmp(y->addr, x->addr, prefix_len(x->family)) == 0;
}

/* Host bits cleared, so that the list compares as the trie does. */
static struct config_prefix prefix_masked(const struct config_prefix *prefix)
{
	struct config_prefix x = *prefix;

	for (size_t i = 0; i < prefix_len(x.family); i++) {
		unsigned keep = x.cidr > i * 8 ? x.cidr - i * 8 : 0;

		if (keep < 8)
			x.addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
	return x;
}

static void list_remove(struct peer *q, const struct config_prefix *x)
{
	for (size_t i = 0; i < q->n_allowed_ips; i++) {
		struct config_prefix *y = &q->allowed_ips[i];

		if (prefix_equal(x, y)) {
			*y = q->allowed_ips[--q->n_allowed_ips];
			return;
		}
	}
}

bool peer_allowed_ips_same(const struct peer *p, const struct config_prefix *want, size_t n)
{
	struct config_prefix x;

	if (n != p->n_allowed_ips)
		return false;
	for (size_t i = 0; i < n; i++) {
		x = prefix_masked(&want[i]);
		if (!prefix_equal(&x, &p->allowed_ips[i]))
			return false;
	}
	return true;
}

int peer_allowed_ip_add(struct peer *p, const struct config_prefix *prefix)
{
	struct device *dev = p->dev;
	struct config_prefix x = prefix_masked(prefix), *grown;
	struct peer *prev;
	int ret;

	prev = allowedips_owner_of(&dev->table, x.family, x.addr, x.cidr);
	if (prev == p)
		return 0;
	if (p->n_allowed_ips == p->cap_allowed_ips) {
		size_t cap = p->cap_allowed_ips ? p->cap_allowed_ips * 2 : 4;

		grown = realloc(p->allowed_ips, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		p->allowed_ips = grown;
		p->cap_allowed_ips = cap;
	}
	ret = allowedips_insert(&dev->table, x.family, x.addr, x.cidr, p);
	if (ret < 0)
		return ret;
	if (prev)
		list_remove(prev, &x);
	p->allowed_ips[p->n_allowed_ips++] = x;
	return 0;
}

void peer_allowed_ips_clear(struct peer *p)
{
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		allowedips_remove(&p->dev->table, p->allowed_ips[i].family, p->allowed_ips[i].addr,
		    p->allowed_ips[i].cidr, p);
	p->n_allowed_ips = 0;
}

void peer_stage(struct peer *p, const uint8_t *pkt, size_t len)
{
	struct device *dev = p->dev;
	struct staged_packet *s;

	if (p->staged_count >= MAX_STAGED_PACKETS) {
		/* Keep the newest packets, as the kernel does. */
		s = p->staged_head;
		p->staged_head = s->next;
		if (!p->staged_head)
			p->staged_tail = NULL;
		p->staged_count--;
		dev->stats.staged_overflow++;
		/* The copy below overwrites the head of the old plaintext: wipe the rest. */
		if (s->len > len)
			sodium_memzero(s->data + WG_DATA_HEADROOM + len, s->len - len);
	} else {
		s = dev->staged_pool;
		if (!s) {
			dev->stats.staged_overflow++;
			return;
		}
		dev->staged_pool = s->next;
		dev->staged_in_use++;
	}
	memcpy(s->data + WG_DATA_HEADROOM, pkt, len);
	s->len = len;
	s->next = NULL;
	if (p->staged_tail)
		p->staged_tail->next = s;
	else
		p->staged_head = s;
	p->staged_tail = s;
	p->staged_count++;
}

/* A slot goes back to the pool holding no plaintext: len is the plaintext it still holds (0
 * once encrypted in place), so only those bytes are wiped and idle slots are never touched. */
static void staged_release(struct device *dev, struct staged_packet *s)
{
	if (s->len) {
		sodium_memzero(s->data + WG_DATA_HEADROOM, s->len);
		s->len = 0;
	}
	s->next = dev->staged_pool;
	dev->staged_pool = s;
	dev->staged_in_use--;
}

void peer_drop_staged(struct peer *p)
{
	struct staged_packet *s;

	while ((s = p->staged_head)) {
		p->staged_head = s->next;
		staged_release(p->dev, s);
		p->dev->stats.staged_dropped++;
	}
	p->staged_tail = NULL;
	p->staged_count = 0;
}

void peer_send_datagram(struct peer *p, const void *data, size_t len)
{
	int ret;

	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC)
		return;
	ret = udp_send_one(&p->dev->udp, &p->endpoint, data, len);
	if (ret < 0) {
		p->dev->stats.tx_dropped++;
		return;
	}
	p->tx_bytes += len;
	p->tx_packets++;
}

void peer_flush_staged(struct peer *p, uint64_t now_ns)
{
	struct device *dev = p->dev;
	struct staged_packet *s;
	uint8_t keepalive[WG_DATA_HEADROOM + WG_DATA_TAILROOM];
	size_t msg_len;

	if (!p->staged_head) {
		if (wg_peer_encrypt(p->wg, keepalive + WG_DATA_HEADROOM, 0, now_ns, &msg_len) ==
		    WG_SEND_OK)
			peer_send_datagram(p, keepalive, msg_len);
		peer_touch(p);
		return;
	}
	while ((s = p->staged_head)) {
		if (wg_peer_encrypt(p->wg, s->data + WG_DATA_HEADROOM, s->len, now_ns, &msg_len) !=
		    WG_SEND_OK)
			break;	/* the session went away again: keep the rest staged */
		s->len = 0;	/* encrypted in place: the slot holds no plaintext any more */
		peer_send_datagram(p, s->data, msg_len);
		p->staged_head = s->next;
		if (!p->staged_head)
			p->staged_tail = NULL;
		p->staged_count--;
		staged_release(dev, s);
	}
	peer_touch(p);
}

void peer_set_endpoint(struct peer *p, const struct udp_endpoint *ep)
{
	p->endpoint = *ep;
}

void peer_set_endpoint_addr(struct peer *p, const union wg_sockaddr *addr)
{
	udp_endpoint_set(&p->endpoint, addr);
}

void peer_touch(struct peer *p)
{
	if (p->dirty)
		return;
	p->dirty = true;
	p->dirty_next = p->dev->dirty_head;
	p->dev->dirty_head = p;
}

void peer_rearm(struct peer *p, uint64_t now_ns)
{
	uint64_t deadline = wg_peer_next_deadline(p->wg), delta;
	struct timeval tv;

	if (deadline == p->armed_deadline)
		return;
	if (deadline == UINT64_MAX) {
		evtimer_del(p->timer);
		p->armed_deadline = UINT64_MAX;
		return;
	}
	/* Timers firing early are harmless; only re-arm when the deadline moved earlier or
	 * the armed one has passed, so busy peers do not re-arm for every batch. */
	if (p->armed_deadline != UINT64_MAX && deadline > p->armed_deadline)
		return;
	delta = deadline > now_ns ? deadline - now_ns : 0;
	tv.tv_sec = (time_t)(delta / 1000000000ULL);
	tv.tv_usec = (suseconds_t)((delta % 1000000000ULL) / 1000);
	evtimer_add(p->timer, &tv);
	p->armed_deadline = deadline;
}

void device_rearm_touched(struct device *dev)
{
	uint64_t now = clock_now_ns();
	struct peer *p;

	while ((p = dev->dirty_head)) {
		dev->dirty_head = p->dirty_next;
		p->dirty = false;
		p->dirty_next = NULL;
		peer_rearm(p, now);
	}
}

/* Asks the resolver for endpoint_host; the answer counts only while resolve_tag still holds
 * the tag handed out here.  Tags are device-wide, so a peer removed and added again never
 * takes an answer meant for its former self. */
static void submit(struct peer *p, uint64_t now_ns)
{
	uint64_t tag = ++p->dev->resolve_seq;

	if (!resolver_submit(p->dev->resolver, wg_peer_public_key(p->wg), p->endpoint_host,
	    p->endpoint_port, tag)) {
		struct peer_log l;

		peer_log_of(&l, p);
		log_fields_msg(LOG_LEVEL_WARN, &l.fields,
		    "%s: %s: endpoint %.100s: lookup queue full, retried later", p->dev->ifname,
		    l.text, p->endpoint_host);
		return;
	}
	p->resolve_tag = tag;
	p->last_resolve_ns = now_ns;
}

/* A peer that has not answered for a while may have moved: look its name up again (as wg's
 * reresolve-dns does), at most every ENDPOINT_RERESOLVE_INTERVAL, off the event loop. */
static void maybe_reresolve(struct peer *p, uint64_t now_ns)
{
	const uint64_t silent = (uint64_t)(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * 1000000000ULL;

	if (!p->endpoint_host[0] || p->resolve_tag || !p->dev->resolver)
		return;
	if (p->last_rx_ns && now_ns - p->last_rx_ns < silent)
		return;
	if (p->last_resolve_ns && now_ns - p->last_resolve_ns <
	    (uint64_t)ENDPOINT_RERESOLVE_INTERVAL * 1000000000ULL)
		return;
	submit(p, now_ns);
}

void peer_resolve_now(struct peer *p, uint64_t now_ns)
{
	p->resolve_tag = 0;	/* whatever is in flight is for an older name */
	if (!p->endpoint_host[0] || !p->dev->resolver)
		return;
	submit(p, now_ns);
}

void peer_resolve_cancel(struct peer *p)
{
	p->resolve_tag = 0;
}

void peer_resolved(void *ctx, const uint8_t key[WG_KEY_LEN], uint64_t tag, int err,
    const union wg_sockaddr *ep, const char *msg)
{
	struct device *dev = ctx;
	struct peer *p = peer_find(dev, key);
	struct peer_log l;

	if (!p || tag != p->resolve_tag) {
		log_debug("%s: stale endpoint lookup answer dropped", dev->ifname);
		return;		/* removed, or the name changed since */
	}
	p->resolve_tag = 0;
	if (err < 0) {
		peer_log_of(&l, p);
		log_fields_rl(LOG_LEVEL_WARN, &l.fields, "%s: %s: endpoint %.100s: %.160s",
		    dev->ifname, l.text, p->endpoint_host, msg);
		return;
	}
	if (memcmp(ep, &p->endpoint.addr, sizeof(*ep)) != 0) {
		peer_set_endpoint_addr(p, ep);
		peer_log_of(&l, p);
		log_fields_msg(LOG_LEVEL_INFO, &l.fields,
		    "%s: %s: endpoint %.100s resolved to a new address, %s", dev->ifname, l.text,
		    p->endpoint_host, l.endpoint[0] ? l.endpoint : "?");
	}
}

static void peer_timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t now = clock_now_ns(), wall = clock_wall_ns();
	uint8_t buf[WG_CONTROL_MAX_LEN + WG_DATA_HEADROOM + WG_DATA_TAILROOM];
	enum wg_tick_action act;
	size_t len;
	unsigned i;

	(void)fd;
	(void)what;
	p->armed_deadline = UINT64_MAX;
	/* Bounded: a tick never yields more than a few actions. */
	for (i = 0; i < 8; i++) {
		act = wg_peer_tick(p->wg, now, wall, buf, sizeof(buf), &len);
		if (act == WG_TICK_NONE)
			break;
		if (act == WG_TICK_SEND) {
			if (len == WG_CONTROL_MAX_LEN) {
				p->dev->stats.handshake_initiations_sent++;
				maybe_reresolve(p, now);
			}
			peer_send_datagram(p, buf, len);
		} else if (act == WG_TICK_GAVE_UP) {
			if (log_level() >= LOG_LEVEL_DEBUG) {
				struct peer_log l;

				peer_log_of(&l, p);
				log_fields_rl(LOG_LEVEL_DEBUG, &l.fields, "%s: %s: handshake did "
				    "not complete after %d attempts, giving up", p->dev->ifname,
				    l.text, MAX_TIMER_HANDSHAKES + 2);
			}
			peer_drop_staged(p);
		}
	}
	peer_rearm(p, now);
}
