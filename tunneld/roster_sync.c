/* Roster mode: accepting, persisting and applying signed rosters (see roster_sync.h). */
#include "roster_sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/notify.h"
#include "device.h"
#include "log.h"
#include "peer.h"
#include "policy_build.h"

/* ---- pure parts: check, self, conversion ---- */

enum roster_offer_result roster_sync_check(const struct roster *running,
    const uint8_t pinned[KEY_LEN], const char *text, size_t len, const char *source,
    struct roster *out, uint8_t trusted[KEY_LEN], char *why, size_t whylen)
{
	struct roster_errors errs = { 0 };
	struct roster hdr;
	char reason[256];
	size_t body_len = 0;
	enum roster_offer_result res = ROSTER_OFFER_INVALID;

	roster_init(out);
	roster_init(&hdr);
	/* Cheapest first: size, the header lines, network and serial; then the signature over
	 * the raw body (one hash); only a signed, newer roster from our admin is parsed. */
	if (len > ROSTER_MAX_BYTES) {
		snprintf(why, whylen, "larger than %d bytes", ROSTER_MAX_BYTES);
		goto out;
	}
	if (!roster_header_scan(text, len, source, &hdr, &body_len, reason, sizeof(reason))) {
		if (strncmp(reason, "not signed", 10) == 0)
			snprintf(why, whylen, "%s", reason);
		else
			snprintf(why, whylen, "does not parse: %s", reason);
		goto out;
	}
	if (running && strcmp(hdr.network, running->network) != 0) {
		snprintf(why, whylen, "network '%s' is not ours ('%s')", hdr.network,
		    running->network);
		goto out;
	}
	if (running && hdr.serial <= running->serial) {
		snprintf(why, whylen, "serial %llu is not newer than the running %llu",
		    (unsigned long long)hdr.serial, (unsigned long long)running->serial);
		res = ROSTER_OFFER_NOT_NEWER;
		goto out;
	}
	if (!roster_verify_raw(&hdr, text, body_len, pinned, trusted, reason, sizeof(reason))) {
		snprintf(why, whylen, "signature: %s", reason);
		goto out;
	}
	if (!roster_parse(text, len, source, out, &errs)) {
		if (errs.count > 1)
			snprintf(why, whylen, "does not parse: %.200s (and %zu more errors)",
			    errs.msgs[0], errs.count - 1);
		else
			snprintf(why, whylen, "does not parse: %.200s",
			    errs.count ? errs.msgs[0] : "unknown error");
		goto out;
	}
	/* The parser reads the same header lines; this only guards the two readers' agreement. */
	if (!out->has_signature || out->serial != hdr.serial ||
	    strcmp(out->network, hdr.network) != 0 ||
	    sodium_memcmp(out->admin_key, hdr.admin_key, KEY_LEN) != 0 ||
	    out->n_endorsements != hdr.n_endorsements) {
		snprintf(why, whylen, "signature: the parsed header differs from the signed one");
		goto out;
	}
	res = ROSTER_OFFER_ACCEPTED;
out:
	roster_free(&hdr);
	roster_errors_free(&errs);
	if (res != ROSTER_OFFER_ACCEPTED)
		roster_free(out);
	return res;
}

const struct roster_node *roster_sync_find_self(const struct roster *r,
    const uint8_t our_pub[KEY_LEN], const uint8_t *next_pub, bool *is_next)
{
	const struct roster_node *n = NULL;

	*is_next = false;
	if (our_pub)
		n = roster_node_find_key(r, our_pub);
	if (!n && next_pub) {
		n = roster_node_find_key(r, next_pub);
		*is_next = n != NULL;
	}
	return n;
}

static void node_endpoint(const struct roster_node *n, struct config_peer *cp)
{
	union wg_sockaddr *ep = &cp->endpoint;

	if (!n->n_endpoints)
		return;
	snprintf(cp->endpoint_host, sizeof(cp->endpoint_host), "%s", n->endpoints[0].host);
	snprintf(cp->endpoint_port, sizeof(cp->endpoint_port), "%u", n->endpoints[0].port);
	/* Names are looked up off the event loop by the device; literals here, at no cost (the
	 * roster holds canonical addresses only, never a scope: what a numeric getaddrinfo would
	 * answer, without its cost on 10,000 nodes). */
	memset(ep, 0, sizeof(*ep));
	if (inet_pton(AF_INET, cp->endpoint_host, &ep->in4.sin_addr) == 1) {
		ep->in4.sin_family = AF_INET;
		ep->in4.sin_port = htons(n->endpoints[0].port);
	} else if (inet_pton(AF_INET6, cp->endpoint_host, &ep->in6.sin6_addr) == 1) {
		ep->in6.sin6_family = AF_INET6;
		ep->in6.sin6_port = htons(n->endpoints[0].port);
	} else {
		cp->endpoint_unresolved = true;
		return;
	}
	cp->has_endpoint = true;
}

static bool node_peer(const struct roster_node *n, struct config_peer *cp)
{
	memset(cp, 0, sizeof(*cp));
	memcpy(cp->public_key, n->key, WG_KEY_LEN);
	_Static_assert(sizeof(cp->name) == ROSTER_NAME_MAX + 1, "a node name fits");
	memcpy(cp->name, n->name, sizeof(cp->name));
	cp->replace_allowed_ips = true;
	cp->line = n->line;
	if (n->has_addr4 && !config_prefix_add(&cp->allowed_ips, &cp->n_allowed_ips, AF_INET, n->addr4, 32))
		return false;
	if (n->has_addr6 &&
	    !config_prefix_add(&cp->allowed_ips, &cp->n_allowed_ips, AF_INET6, n->addr6, 128))
		return false;
	for (size_t i = 0; i < n->n_subnets; i++) {
		if (!config_prefix_add(&cp->allowed_ips, &cp->n_allowed_ips, n->subnets[i].family,
		    n->subnets[i].addr, n->subnets[i].cidr))
			return false;
	}
	node_endpoint(n, cp);
	return true;
}

/* out: base's settings and self's addresses, no peers.  false when out of memory. */
static bool settings_to_config(const struct roster *r, const struct roster_node *self,
    const struct config *base, struct config *out)
{
	config_init(out);
	out->has_private_key = base->has_private_key;
	memcpy(out->private_key, base->private_key, WG_KEY_LEN);
	out->has_listen_port = base->has_listen_port;
	out->listen_port = base->listen_port;
	out->has_fwmark = base->has_fwmark;
	out->fwmark = base->fwmark;
	out->has_mtu = base->has_mtu;
	out->mtu = base->mtu;
	out->no_overlay_firewall = base->no_overlay_firewall;
	out->replace_peers = true;
	/* Revoked: no addresses, no peers, no traffic. */
	if (!r || !self)
		return true;
	if (self->has_addr4 && !config_prefix_add(&out->addresses, &out->n_addresses, AF_INET,
	    self->addr4, r->cidr4.cidr))
		goto fail;
	if (self->has_addr6 && r->has_cidr6 && !config_prefix_add(&out->addresses, &out->n_addresses,
	    AF_INET6, self->addr6, r->cidr6.cidr))
		goto fail;
	return true;
fail:
	config_free(out);
	return false;
}

/* Appends the peers of the n nodes (self skipped) to out, which has no peers yet. */
static bool nodes_to_config(const struct roster_node *const *nodes, size_t n,
    const struct roster_node *self, struct config *out)
{
	out->peers = calloc(n ? n : 1, sizeof(*out->peers));
	if (!out->peers)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i] == self)
			continue;
		/* Counted first so that config_free releases a half-built peer too. */
		out->n_peers++;
		if (!node_peer(nodes[i], &out->peers[out->n_peers - 1]))
			return false;
	}
	return true;
}

bool roster_sync_to_config(const struct roster *r, const struct roster_node *self,
    const struct config *base, struct config *out)
{
	const struct roster_node **nodes = NULL;
	bool ok;

	if (!settings_to_config(r, self, base, out))
		return false;
	if (!r || !self)
		return true;
	nodes = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*nodes));
	ok = nodes != NULL;
	for (size_t i = 0; ok && i < r->n_nodes; i++)
		nodes[i] = &r->nodes[i];
	ok = ok && nodes_to_config(nodes, r->n_nodes, self, out);
	free(nodes);
	if (!ok)
		config_free(out);
	return ok;
}

/* ---- shared texts ---- */

/* A roster's signed text with a count of its holders: the roster_sync (text, pending_text) and
 * gossip's requests and answers in flight, which send it by reference (a push to
 * GOSSIP_FANOUT peers and the pulls of a whole fleet would each copy it otherwise).  Event
 * loop only. */
struct shared_text {
	unsigned refs;
	char bytes[];
};

static struct shared_text *shared_of(const char *bytes)
{
	return (struct shared_text *)(void *)(bytes - offsetof(struct shared_text, bytes));
}

/* A copy of text (NUL-terminated) with one holder; NULL when out of memory. */
static char *text_share(const char *text, size_t len)
{
	struct shared_text *t = malloc(sizeof(*t) + len + 1);

	if (!t)
		return NULL;
	t->refs = 1;
	memcpy(t->bytes, text, len);
	t->bytes[len] = '\0';
	return t->bytes;
}

static void text_unshare(const char *bytes)
{
	struct shared_text *t;

	if (!bytes)
		return;
	t = shared_of(bytes);
	if (--t->refs == 0)
		free(t);
}

const char *roster_sync_text_hold(const struct roster_sync *rs)
{
	shared_of(rs->text)->refs++;
	return rs->text;
}

void roster_sync_text_release(const void *data, size_t len, void *text)
{
	(void)data;
	(void)len;
	text_unshare(text);
}

/* ---- files ---- */

/* Reads a whole regular file of at most ROSTER_MAX_BYTES, without following a symlink or
 * waiting on a FIFO.  0, -ENOENT, -EINVAL (not a regular file), or another negative errno. */
static int read_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = -EINVAL;
	if (!S_ISREG(st.st_mode))
		goto out;
	ret = -EFBIG;
	if (st.st_size > ROSTER_MAX_BYTES)
		goto out;
	ret = -ENOMEM;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

/* ---- applying ---- */

/* The nodes a roster change touches, when they are few: applied as a delta
 * (device_apply_file_config_delta), so that a one-node change on a large roster costs O(1) in
 * the peer table rather than O(roster). */
enum { ROSTER_DELTA_MAX = 256 };

struct roster_delta {
	const struct roster_node *nodes[ROSTER_DELTA_MAX];	/* new or changed (new roster) */
	size_t n_nodes;
	uint8_t gone[ROSTER_DELTA_MAX][KEY_LEN];	/* keys no longer a node's: removed or re-keyed */
	size_t n_gone;
	bool too_big;
	bool self_changed;	/* our own node: its addresses, or who we are */
};

struct diff_ctx {
	struct roster_sync *rs;
	const struct roster_node *old_self, *self;
	struct roster_delta *delta;
};

static void delta_note(struct diff_ctx *ctx, enum roster_change what,
    const struct roster_node *old_node, const struct roster_node *new_node)
{
	struct roster_delta *d = ctx->delta;

	if ((old_node && old_node == ctx->old_self) || (new_node && new_node == ctx->self))
		d->self_changed = true;
	if (old_node && what != ROSTER_NODE_CHANGED) {
		if (d->n_gone == ROSTER_DELTA_MAX)
			d->too_big = true;
		else
			memcpy(d->gone[d->n_gone++], old_node->key, KEY_LEN);
	}
	if (new_node) {
		if (d->n_nodes == ROSTER_DELTA_MAX)
			d->too_big = true;
		else
			d->nodes[d->n_nodes++] = new_node;
	}
}

/* A key that left one node and came to another (a rename) stays a peer: it is not gone. */
static void delta_keep_moved_keys(struct roster_delta *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_gone; i++) {
		bool moved = false;

		for (size_t j = 0; j < d->n_nodes && !moved; j++)
			moved = sodium_memcmp(d->gone[i], d->nodes[j]->key, KEY_LEN) == 0;
		if (!moved)
			memmove(d->gone[n++], d->gone[i], KEY_LEN);
	}
	d->n_gone = n;
}

/* Notes each change for the delta; a node whose key changed keeps its sessions: the peer is
 * re-keyed in place and asked for a handshake under the new key. */
static void on_diff(void *arg, enum roster_change what, const struct roster_node *old_node,
    const struct roster_node *new_node)
{
	struct diff_ctx *ctx = arg;
	struct device *dev = ctx->rs->dev;
	struct peer *p;

	if (ctx->delta)
		delta_note(ctx, what, old_node, new_node);
	if (what != ROSTER_NODE_KEY_CHANGED)
		return;
	p = peer_find(dev, old_node->key);
	if (!p || peer_find(dev, new_node->key))
		return;
	if (!wg_peer_set_public_key(p->wg, new_node->key)) {
		log_warn("%s: roster: node %s: cannot re-key in place", dev->ifname, new_node->name);
		return;
	}
	wg_peer_request_handshake(p->wg, clock_now_ns());
	peer_touch(p);
	log_info("%s: roster: node %s re-keyed, sessions kept until the next handshake",
	    dev->ifname, new_node->name);
}

/* ---- rotation of our own key ---- */

static void applied(struct roster_sync *rs);
static void retry_arm(struct roster_sync *rs);

/* PrivateKeyFile.next: 1 with the key in priv/pub, 0 if there is none, -1 if it exists but
 * cannot be used (why says which call failed on which path, and how). */
static int next_key_load(struct roster_sync *rs, uint8_t priv[KEY_LEN], uint8_t pub[KEY_LEN],
    char *why, size_t whylen)
{
	if (!rs->next_key_path[0])
		return 0;
	if (access(rs->next_key_path, F_OK) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "access %.300s: %s", rs->next_key_path, strerror(errno));
		return -1;
	}
	/* Refused like any private key file: group/other permissions, not a key, unreadable. */
	if (key_file_read(rs->next_key_path, true, priv, why, whylen) < 0)
		return -1;
	if (!key_public_from_private(pub, priv)) {
		snprintf(why, whylen, "'%.200s' does not hold a usable X25519 key",
		    rs->next_key_path);
		return -1;
	}
	return 1;
}

static void rotation_arm(struct roster_sync *rs);

/* The new key is ours now: the next start must use it.  Retried by the rotation timer. */
static void next_key_rename(struct roster_sync *rs)
{
	if (rename(rs->next_key_path, rs->key_path) == 0) {
		if (rs->rename_pending)
			log_info("%s: roster: renamed %s over %s", rs->dev->ifname,
			    rs->next_key_path, rs->key_path);
		rs->rename_pending = false;
		return;
	}
	if (!rs->rename_pending)
		log_errno(LOG_LEVEL_ERROR, errno, "%s: roster: cannot rename %s over %s (a restart "
		    "would start with the old key); retrying every %d s", rs->dev->ifname,
		    rs->next_key_path, rs->key_path, ROSTER_ROTATION_TICK);
	rs->rename_pending = true;
	rotation_arm(rs);
}

/* Our rotation was published: the engine takes the new key and keeps the old one answering
 * peers that do not know the new one yet (wg_engine_rotate_private_key), peers with a live
 * session are asked for a handshake so that each shows soon which key it knows, and the
 * grace period starts. */
static void rotation_switch(struct roster_sync *rs, const uint8_t priv[KEY_LEN],
    const uint8_t pub[KEY_LEN], const struct roster_node *self)
{
	struct device *dev = rs->dev;
	uint8_t now_pub[KEY_LEN];

	wg_engine_rotate_private_key(dev->engine, priv);
	if (!wg_engine_public_key(dev->engine, now_pub) ||
	    sodium_memcmp(now_pub, pub, KEY_LEN) != 0) {
		log_error("%s: roster: the engine refused the key in %s", dev->ifname,
		    rs->next_key_path);
		return;
	}
	memcpy(rs->base.private_key, priv, KEY_LEN);
	rs->base.has_private_key = true;
	for (struct peer *p = dev->peers_head; p; p = p->next) {
		if (wg_peer_has_session(p->wg)) {
			wg_peer_request_handshake(p->wg, clock_now_ns());
			peer_touch(p);
		}
	}
	rs->rotation_start_ns = wg_engine_rotation_in_progress(dev->engine) ? clock_now_ns() : 0;
	log_info("%s: roster: switched to the rotated key of node %s (%s); the previous key "
	    "answers peers that have not used the new one yet, for at most %d s", dev->ifname,
	    self->name, rs->next_key_path, ROSTER_ROTATION_GRACE);
	rs->next_why[0] = '\0';
	next_key_rename(rs);
	rotation_arm(rs);
}

/* Which node we are in rs->running, switching keys if the roster names PrivateKeyFile.next.
 * old_self: who we were in the roster before (NULL: none), to recognise our own node when
 * its key changed to one we cannot load yet.  Sets rs->self, rs->revoked, rs->next_waiting. */
static void self_find(struct roster_sync *rs, const struct roster_node *old_self)
{
	struct device *dev = rs->dev;
	uint8_t our_pub[KEY_LEN], next_priv[KEY_LEN], next_pub[KEY_LEN];
	const struct roster_node *self = NULL, *named = NULL;
	char why[512] = "";
	int next = 0;
	bool is_next;

	if (wg_engine_public_key(dev->engine, our_pub))
		self = roster_sync_find_self(&rs->running, our_pub, NULL, &is_next);
	if (!self) {
		next = next_key_load(rs, next_priv, next_pub, why, sizeof(why));
		if (next > 0) {
			self = roster_node_find_key(&rs->running, next_pub);
			if (self)
				rotation_switch(rs, next_priv, next_pub, self);
		}
		if (old_self)
			named = roster_node_find(&rs->running, old_self->name);
	}
	rs->next_waiting = !self && next < 0;
	if (rs->next_waiting) {
		/* Our node's key changed to one we cannot load yet: still that node (the roster
		 * passes on, our addresses stay), under the old key until the file is fixed. */
		self = named;
		if (strcmp(why, rs->next_why) != 0 && named)
			log_error("%s: roster: serial %llu rotates this node (%s) to a new "
			    "key, but the rotation key cannot be used: %s; keeping the current "
			    "key, retrying (fixing the file is enough: no restart, no SIGHUP)",
			    dev->ifname, (unsigned long long)rs->running.serial, named->name, why);
		else if (strcmp(why, rs->next_why) != 0)
			log_error("%s: roster: serial %llu does not list this node's key and the "
			    "rotation key cannot be used: %s; carrying no traffic until it can, "
			    "retrying (fixing the file is enough: no restart, no SIGHUP)",
			    dev->ifname, (unsigned long long)rs->running.serial, why);
		snprintf(rs->next_why, sizeof(rs->next_why), "%s", why);
		rotation_arm(rs);
	} else {
		rs->next_why[0] = '\0';
	}
	if (!self) {
		if (!rs->revoked && !rs->next_waiting)
			log_error("%s: REVOKED: this node's key is not in roster serial %llu of "
			    "network %s: every peer removed, carrying no traffic%s%s%s",
			    dev->ifname, (unsigned long long)rs->running.serial,
			    rs->running.network, named ? " (node " : "", named ? named->name : "",
			    !named ? "" : next > 0 ? " has another key now, not the one in "
			    "PrivateKeyFile.next)" : " has another key now, and "
			    "PrivateKeyFile.next does not exist)");
		rs->revoked = true;
	} else {
		if (rs->revoked)
			log_info("%s: roster: this node is enrolled again as %s", dev->ifname,
			    self->name);
		rs->revoked = false;
	}
	rs->self = self;
	sodium_memzero(next_priv, sizeof(next_priv));
}

/* The running roster's node-to-node policy for this node, into the firewall; logged when it
 * changes.  A failure keeps the previous policy in force (device_set_policy logs it). */
static void policy_apply(struct roster_sync *rs)
{
	struct firewall_policy p;
	bool was_applied = rs->dev->policy_applied;
	bool changed, was_active;

	if (policy_build(rs->has_roster ? &rs->running : NULL, rs->self, rs->base.gossip_port,
	    &p) < 0) {
		log_error("%s: out of memory building the roster's policy; the previous one stays "
		    "in force", rs->dev->ifname);
		return;
	}
	changed = !firewall_policy_equal(&p, &rs->dev->policy);
	was_active = firewall_policy_active(&rs->dev->policy);
	if (device_set_policy(rs->dev, &p) == 0 && (changed || !was_applied) &&
	    (firewall_policy_active(&p) || was_active))
		log_info("%s: policy: %zu rule%s for this node, default %s", rs->dev->ifname,
		    p.n_rules, p.n_rules == 1 ? "" : "s", p.default_drop ? "deny" : "allow");
	firewall_policy_free(&p);
}

/* Applies r (now rs->running) given the roster that ran before (NULL: none), who we were
 * in it and whether it was fully applied.  A change of a few nodes, ours not among them, on a
 * fully applied roster is applied as a delta; anything else in full. */
static int apply(struct roster_sync *rs, const struct roster *old,
    const struct roster_node *old_self, bool old_complete)
{
	struct device *dev = rs->dev;
	struct roster_delta *delta = NULL;
	struct diff_ctx ctx = { rs, old_self, NULL, NULL };
	struct config cfg;
	int ret;

	config_init(&cfg);
	self_find(rs, old_self);
	ctx.self = rs->self;
	if (old && old_complete && old_self && rs->self)
		ctx.delta = delta = calloc(1, sizeof(*delta));
	if (old)
		roster_diff_nodes(old, &rs->running, on_diff, &ctx);
	ret = -ENOMEM;
	if (delta && !delta->too_big && !delta->self_changed) {
		delta_keep_moved_keys(delta);
		if (!settings_to_config(&rs->running, rs->self, &rs->base, &cfg) ||
		    !nodes_to_config(delta->nodes, delta->n_nodes, rs->self, &cfg))
			goto out;
		log_debug("%s: roster serial %llu: %zu nodes new or changed, %zu keys gone",
		    dev->ifname, (unsigned long long)rs->running.serial, delta->n_nodes,
		    delta->n_gone);
		ret = device_apply_file_config_delta(dev, &cfg,
		    (const uint8_t (*)[WG_KEY_LEN])delta->gone, delta->n_gone);
		goto out;
	}
	if (!roster_sync_to_config(&rs->running, rs->self, &rs->base, &cfg))
		goto out;
	ret = device_apply_file_config(dev, &cfg);
out:
	free(delta);
	config_free(&cfg);
	policy_apply(rs);
	return ret;
}

/* A rotation step to retry: PrivateKeyFile.next became usable (inotify) or the timer ran. */
static void rotation_retry(struct roster_sync *rs)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char why[512] = "";
	int next, ret;

	if (!rs->has_roster || (!rs->next_waiting && !rs->revoked))
		return;
	next = next_key_load(rs, priv, pub, why, sizeof(why));
	sodium_memzero(priv, sizeof(priv));
	/* Unchanged cause: nothing new to apply or to log. */
	if (next < 0 && rs->next_waiting && strcmp(why, rs->next_why) == 0)
		return;
	if (next == 0 && rs->revoked && !rs->next_waiting)
		return;
	ret = apply(rs, NULL, rs->self, false);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "%s: roster serial %llu applied only in part: not "
		    "announced, retrying", rs->dev->ifname, (unsigned long long)rs->running.serial);
		retry_arm(rs);
	} else if (rs->pending_text) {
		applied(rs);
	}
}

static void on_rotation_timer(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	struct device *dev = rs->dev;
	size_t left;

	(void)fd;
	(void)what;
	if (rs->rename_pending)
		next_key_rename(rs);
	if (rs->next_waiting)
		rotation_retry(rs);
	if (wg_engine_rotation_in_progress(dev->engine)) {
		left = wg_engine_rotation_unconfirmed(dev->engine);
		if (left == 0) {
			wg_engine_rotation_finish(dev->engine);
			log_info("%s: roster: rotation complete: every peer has used the new key; "
			    "the previous key is forgotten", dev->ifname);
		} else if (clock_now_ns() - rs->rotation_start_ns >=
		    (uint64_t)ROSTER_ROTATION_GRACE * 1000000000ULL) {
			wg_engine_rotation_finish(dev->engine);
			log_warn("%s: roster: rotation grace of %d s over: %zu peers never used "
			    "the new key; the previous key is forgotten (they reach us again once "
			    "they run the new roster)", dev->ifname, ROSTER_ROTATION_GRACE, left);
		}
	}
	if (!rs->rename_pending && !rs->next_waiting &&
	    !wg_engine_rotation_in_progress(dev->engine))
		event_del(rs->ev_rotation);
}

static void rotation_arm(struct roster_sync *rs)
{
	const struct timeval tick = { ROSTER_ROTATION_TICK, 0 };

	if (!rs->ev_rotation) {
		rs->ev_rotation = event_new(rs->dev->base, -1, EV_PERSIST, on_rotation_timer, rs);
		if (!rs->ev_rotation) {
			log_error("%s: roster: cannot create the rotation timer: out of memory",
			    rs->dev->ifname);
			return;
		}
	}
	if (!event_pending(rs->ev_rotation, EV_TIMEOUT, NULL) &&
	    event_add(rs->ev_rotation, &tick) < 0)
		log_error("%s: roster: cannot start the rotation timer", rs->dev->ifname);
}

/* ---- persisting and claiming, off the event loop ---- */

static unsigned claims_take(struct roster_sync *rs, struct roster_claimed got[2]);

/* Wakes the loop (on_persisted).  An eventfd write fails only when its counter would
 * overflow, and then the loop has a wake-up pending anyway. */
static void loop_wake(struct roster_sync *rs)
{
	uint64_t one = 1;

	if (write(rs->persist_efd, &one, sizeof(one)) < 0)
		return;
}

/* The persister thread: writes each roster text it is handed with roster_text_save (temp
 * file, fsync, rename, fsync of the directory), so a SIGKILL at any point leaves the old or
 * the new roster on disk; and claims Roster.new when asked (claims_take), handing what it
 * read back to the loop.  Ownership: a job's buffer belongs to the mailbox (under lock) from
 * persist_queue until the thread takes it, then to the thread, which frees it; a claimed
 * text belongs to the mailbox until on_persisted takes it.  A claim waits until the loop took
 * the previous one's texts, so at most two are ever pending. */
static void *persist_main(void *arg)
{
	struct roster_sync *rs = arg;
	struct roster_claimed got[2];
	char *job;
	size_t len;
	uint64_t serial, t0;
	unsigned n;
	int ret;

	pthread_mutex_lock(&rs->persist_lock);
	for (;;) {
		while (!rs->persist_job && !(rs->claim_wanted && !rs->n_claimed) &&
		    !rs->persist_stop)
			pthread_cond_wait(&rs->persist_cond, &rs->persist_lock);
		if (rs->persist_job) {
			job = rs->persist_job;
			len = rs->persist_job_len;
			serial = rs->persist_job_serial;
			rs->persist_job = NULL;
			pthread_mutex_unlock(&rs->persist_lock);
			t0 = clock_now_ns();
			ret = roster_text_save(job, len, rs->path, 0644);
			free(job);
			pthread_mutex_lock(&rs->persist_lock);
			rs->persist_done_ns = clock_now_ns() - t0;
			rs->persist_done_serial = serial;
			rs->persist_done_err = ret;
			rs->persist_done = true;
			loop_wake(rs);
			continue;
		}
		if (rs->persist_stop)
			break;		/* nothing left to write; a claim waits for the next start */
		rs->claim_wanted = false;
		pthread_mutex_unlock(&rs->persist_lock);
		n = claims_take(rs, got);
		pthread_mutex_lock(&rs->persist_lock);
		memcpy(rs->claimed, got, n * sizeof(*got));
		rs->n_claimed = n;
		loop_wake(rs);		/* even for nothing: the unit tests wait for it */
	}
	pthread_mutex_unlock(&rs->persist_lock);
	return NULL;
}

/* Starts the persister thread from the event loop, never before: privilege_drop runs just
 * before the loop and capset, the bounding set and no_new_privs act on the calling thread
 * only, so a thread started earlier would keep every privilege (privilege.h).  A job queued
 * meanwhile waits in the mailbox. */
static void persister_start(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	int ret;

	(void)fd;
	(void)what;
	ret = pthread_create(&rs->persist_thread, NULL, persist_main, rs);
	if (ret != 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "%s: roster: cannot start the persister thread",
		    rs->dev->ifname);
		if (rs->dev->on_fatal)
			rs->dev->on_fatal(rs->dev, "no roster persister");
		return;
	}
	rs->persist_running = true;
}

/* Hands a copy of text (serial) to the persister, replacing a job it has not started: only
 * the newest roster matters.  0 or -ENOMEM. */
static int persist_queue(struct roster_sync *rs, const char *text, size_t len, uint64_t serial)
{
	char *copy = malloc(len ? len : 1), *old;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	pthread_mutex_lock(&rs->persist_lock);
	old = rs->persist_job;
	rs->persist_job = copy;
	rs->persist_job_len = len;
	rs->persist_job_serial = serial;
	pthread_cond_signal(&rs->persist_cond);
	pthread_mutex_unlock(&rs->persist_lock);
	free(old);
	return 0;
}

/* Logs the running roster's expiry state when it changed.  Nothing else changes: the peers
 * stay (machines fail open); engineers are refused by `keys authorized-keys` and the bastion,
 * which read the same expires line. */
static void expiry_check(struct roster_sync *rs)
{
	char text[ROSTER_EXPIRY_TEXT_MAX];
	enum roster_expiry st;
	int64_t now = (int64_t)time(NULL);

	if (!rs->has_roster || !roster_expiry_track(&rs->expiry, &rs->running, now,
	    rs->expiry_warning, &st))
		return;
	roster_expiry_text(text, &rs->running, now);
	switch (st) {
	case ROSTER_EXPIRY_EXPIRED:
		log_warn("%s: roster serial %llu %s: tunnels stay up; engineer logins are refused "
		    "until a newer roster arrives (keys publish --renew; keys push)",
		    rs->dev->ifname, (unsigned long long)rs->running.serial, text);
		break;
	case ROSTER_EXPIRY_SOON:
		log_warn("%s: roster serial %llu %s: publish a newer one before then (keys publish "
		    "--renew; keys push)", rs->dev->ifname, (unsigned long long)rs->running.serial,
		    text);
		break;
	case ROSTER_EXPIRY_VALID:
		log_info("%s: roster serial %llu %s", rs->dev->ifname,
		    (unsigned long long)rs->running.serial, text);
		break;
	case ROSTER_EXPIRY_NONE:
		log_info("%s: roster serial %llu has no expires line: it stays valid until "
		    "replaced", rs->dev->ifname, (unsigned long long)rs->running.serial);
		break;
	}
}

static void on_expiry_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	expiry_check(arg);
}

/* The running roster is fully applied: from now on it is what we serve and announce. */
static void applied(struct roster_sync *rs)
{
	text_unshare(rs->text);
	rs->text = rs->pending_text;
	rs->text_len = rs->pending_text_len;
	rs->text_serial = rs->running.serial;
	rs->pending_text = NULL;
	/* `systemctl status` shows the serial that runs, however it arrived. */
	notify_status("%s up: roster serial %llu, %zu peers", rs->dev->ifname,
	    (unsigned long long)rs->running.serial, rs->dev->n_peers);
	if (rs->on_accepted)
		rs->on_accepted(rs->on_accepted_ctx, rs);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void timing_log(const struct roster_sync *rs, const struct roster_timing *t)
{
	log_info("%s: roster serial %llu, %zu peers, in %.1f ms: read %.1f, check %.1f, persist "
	    "%.1f, apply %.1f ms", rs->dev->ifname, (unsigned long long)rs->running.serial,
	    rs->dev->n_peers, ms(clock_now_ns() - t->start_ns), ms(t->read_ns), ms(t->check_ns),
	    ms(t->persist_ns), ms(t->apply_ns));
}

/* Installs cand (and a copy of its text) as the running roster, applies it and, once every
 * part of it applied, serves and announces it.  A failed apply is logged by what failed,
 * retried with backoff (retry_arm), and the roster is neither served nor announced. */
static int install(struct roster_sync *rs, struct roster *cand, const char *text, size_t len,
    struct roster_timing *t)
{
	struct roster old = rs->running;
	const struct roster_node *old_self = rs->self;	/* points into old */
	bool had = rs->has_roster;
	/* The roster before was applied in full (else its apply is still being retried). */
	bool complete = had && !rs->pending_text;
	char *copy = text_share(text, len);
	uint64_t t0;
	int ret;

	if (!copy) {
		roster_free(cand);
		return -ENOMEM;
	}
	text_unshare(rs->pending_text);
	rs->pending_text = copy;
	rs->pending_text_len = len;
	rs->running = *cand;
	roster_init(cand);
	rs->has_roster = true;
	rs->retries = 0;
	expiry_check(rs);
	t0 = clock_now_ns();
	ret = apply(rs, had ? &old : NULL, had ? old_self : NULL, complete);
	if (had)
		roster_free(&old);
	t->apply_ns = clock_now_ns() - t0;
	timing_log(rs, t);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "%s: roster serial %llu applied only in part: not "
		    "announced, retrying", rs->dev->ifname, (unsigned long long)rs->running.serial);
		retry_arm(rs);
		return ret;
	}
	if (rs->ev_retry)
		event_del(rs->ev_retry);
	applied(rs);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	int ret;

	(void)fd;
	(void)what;
	if (!rs->has_roster || !rs->pending_text)
		return;
	rs->retries++;
	ret = apply(rs, NULL, rs->self, false);
	if (ret < 0) {
		log_errno(LOG_LEVEL_WARN, ret, "%s: roster serial %llu: apply attempt %u failed",
		    rs->dev->ifname, (unsigned long long)rs->running.serial, rs->retries + 1);
		retry_arm(rs);
		return;
	}
	log_info("%s: roster serial %llu fully applied (attempt %u)", rs->dev->ifname,
	    (unsigned long long)rs->running.serial, rs->retries + 1);
	applied(rs);
}

/* 1, 2, 4 ... ROSTER_RETRY_MAX seconds between attempts. */
static void retry_arm(struct roster_sync *rs)
{
	struct timeval tv = { 1, 0 };

	for (unsigned i = 0; i < rs->retries && tv.tv_sec < ROSTER_RETRY_MAX; i++)
		tv.tv_sec *= 2;
	if (tv.tv_sec > ROSTER_RETRY_MAX)
		tv.tv_sec = ROSTER_RETRY_MAX;
	if (!rs->ev_retry)
		rs->ev_retry = evtimer_new(rs->dev->base, on_retry, rs);
	if (!rs->ev_retry || evtimer_add(rs->ev_retry, &tv) < 0)
		log_error("%s: roster: cannot schedule the apply retry", rs->dev->ifname);
}

/* The persister finished a job: the queued roster, once on disk, is installed. */
static void persist_finished(struct roster_sync *rs, uint64_t serial, int err,
    uint64_t persist_ns)
{
	if (!rs->has_queued || rs->queued.serial != serial)
		return;		/* a newer roster is queued behind it: that one is installed */
	rs->has_queued = false;
	if (err < 0) {
		log_errno(LOG_LEVEL_ERROR, err, "%s: roster serial %llu not applied: cannot "
		    "persist it to %s", rs->dev->ifname, (unsigned long long)serial, rs->path);
		roster_free(&rs->queued);
		free(rs->queued_text);
		rs->queued_text = NULL;
		return;
	}
	rs->queued_timing.persist_ns = persist_ns;
	install(rs, &rs->queued, rs->queued_text, rs->queued_text_len, &rs->queued_timing);
	free(rs->queued_text);
	rs->queued_text = NULL;
}

static enum roster_offer_result offer(struct roster_sync *rs, const char *text, size_t len,
    const char *source, char *why, size_t whylen, const struct roster_timing *t);

/* Offers what the persister thread claimed, in the order claimed, and frees it. */
static void claimed_offer(struct roster_sync *rs, struct roster_claimed *got, unsigned n)
{
	char why[512];

	for (unsigned i = 0; i < n; i++) {
		if (got[i].err < 0) {
			log_errno(LOG_LEVEL_WARN, got[i].err, "%s: roster from %s rejected: cannot "
			    "read it%s", rs->dev->ifname, rs->new_path, got[i].err == -EINVAL ?
			    " (not a regular file), removed" : "");
			continue;
		}
		struct roster_timing t = { got[i].start_ns, got[i].read_ns, 0, 0, 0 };

		if (offer(rs, got[i].text, got[i].len, rs->new_path, why, sizeof(why), &t) ==
		    ROSTER_OFFER_NOT_NEWER)
			log_warn("%s: roster from %s rejected: %s", rs->dev->ifname, rs->new_path,
			    why);
		free(got[i].text);
	}
}

/* The persister thread woke us: a persist finished, or a claim was handed back. */
static void on_persisted(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	struct roster_claimed got[2];
	uint64_t n, serial = 0, persist_ns = 0;
	unsigned n_got;
	bool done;
	int err = 0;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&rs->persist_lock);
	done = rs->persist_done;
	if (done) {
		serial = rs->persist_done_serial;
		err = rs->persist_done_err;
		persist_ns = rs->persist_done_ns;
		rs->persist_done = false;
	}
	n_got = rs->n_claimed;
	memcpy(got, rs->claimed, n_got * sizeof(*got));
	rs->n_claimed = 0;
	if (rs->claim_wanted)
		pthread_cond_signal(&rs->persist_cond);	/* asked for while these were pending */
	pthread_mutex_unlock(&rs->persist_lock);
	if (done)
		persist_finished(rs, serial, err, persist_ns);
	claimed_offer(rs, got, n_got);
}

enum roster_offer_result roster_sync_offer(struct roster_sync *rs, const char *text, size_t len,
    const char *source, char *why, size_t whylen)
{
	struct roster_timing t = { .start_ns = clock_now_ns() };

	return offer(rs, text, len, source, why, whylen, &t);
}

/* roster_sync_offer for a text that took t so far. */
static enum roster_offer_result offer(struct roster_sync *rs, const char *text, size_t len,
    const char *source, char *why, size_t whylen, const struct roster_timing *t)
{
	struct device *dev = rs->dev;
	uint64_t t0 = clock_now_ns();
	const struct roster *newest = rs->has_queued ? &rs->queued :
	    rs->has_roster ? &rs->running : NULL;
	uint8_t trusted[KEY_LEN];
	struct roster cand;
	enum roster_offer_result res;
	char *copy = NULL;
	uint64_t check_ns;
	int ret;

	/* A peer can repeat a gossip offer at will ("gossip from/pull from ADDR", gossip.c): its
	 * lines are rate-limited.  A file the admin handed over always gets its reason. */
	bool from_peer = strncmp(source, "gossip ", 7) == 0;
	unsigned long long serial = newest ? newest->serial : 0;

	res = roster_sync_check(newest, rs->pinned, text, len, source, &cand, trusted, why,
	    whylen);
	check_ns = clock_now_ns() - t0;
	if (res == ROSTER_OFFER_NOT_NEWER) {
		if (from_peer)
			log_debug_rl("%s: roster from %s ignored: %s", dev->ifname, source, why);
		else
			log_debug("%s: roster from %s ignored: %s", dev->ifname, source, why);
		goto out;
	}
	if (res != ROSTER_OFFER_ACCEPTED) {
		if (from_peer)
			log_warn_rl("%s: roster from %s rejected: %s; keeping serial %llu",
			    dev->ifname, source, why, serial);
		else
			log_warn("%s: roster from %s rejected: %s; keeping serial %llu",
			    dev->ifname, source, why, serial);
		goto out;
	}
	/* Persisted (by the persister thread) before applied: a crash never runs a roster that
	 * is not on disk, and the loop never waits for the disk. */
	copy = malloc(len + 1);
	ret = copy ? persist_queue(rs, text, len, cand.serial) : -ENOMEM;
	if (ret < 0) {
		snprintf(why, whylen, "cannot queue it for %s: %s", rs->path, strerror(-ret));
		goto failed;
	}
	if (sodium_memcmp(trusted, rs->pinned, KEY_LEN) != 0) {
		memcpy(rs->pinned, trusted, KEY_LEN);
		log_info("%s: roster: now trusting the endorsed admin key", dev->ifname);
	}
	log_info("%s: roster accepted: serial %llu, network %s, %zu nodes, from %s", dev->ifname,
	    (unsigned long long)cand.serial, cand.network, cand.n_nodes, source);
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (rs->has_queued)
		roster_free(&rs->queued);
	free(rs->queued_text);
	rs->queued = cand;
	rs->queued_timing = *t;
	rs->queued_timing.check_ns = check_ns;
	rs->queued_text = copy;
	rs->queued_text_len = len;
	rs->has_queued = true;
	goto out;
failed:
	log_error("%s: roster from %s not applied: %s", dev->ifname, source, why);
	free(copy);
	roster_free(&cand);
	res = ROSTER_OFFER_FAILED;
out:
	return res;
}

/* Claims Roster.new by renaming it to a private name first, so that a file dropped there
 * after this instant is a new candidate for the next event, never deleted unread.  A claimed
 * file whose writer has not finished (scp writes in place; roster_text_unfinished) is put
 * back under Roster.new unless a newer one took its place, and its writer's close brings it
 * back (IN_CLOSE_WRITE).  *stale tells that the claim was one left from before (a crash, a
 * writer that closed while we held it, or something planted at the claim name), so Roster.new
 * may hold another candidate.  1: *text holds a claimed candidate; 0: nothing to take;
 * -errno: what was claimed could not be read (-EINVAL: not a regular file) and is removed. */
static int claim_new(struct roster_sync *rs, char **text, size_t *len, bool *stale)
{
	int ret, round;

	for (round = 0; round < 2; round++) {
		/* A claim left from before goes first. */
		*stale = access(rs->claim_path, F_OK) == 0;
		if (!*stale && rename(rs->new_path, rs->claim_path) < 0)
			return errno == ENOENT ? 0 : -errno;
		ret = read_file(rs->claim_path, text, len);
		if (ret == 0 && roster_text_unfinished(*text, *len)) {
			free(*text);
			*text = NULL;
			if (link(rs->claim_path, rs->new_path) == 0) {
				unlink(rs->claim_path);
				log_info("%s: %s is incomplete (%s): left in place until its writer "
				    "finishes", rs->ifname, rs->new_path, *len ? "no signature "
				    "line at its end yet" : "empty");
				return 0;
			}
			if (errno != EEXIST)
				return -errno;
			/* A newer candidate is there already: this one is superseded. */
			log_warn("%s: an incomplete candidate was replaced by a newer %s",
			    rs->ifname, rs->new_path);
			unlink(rs->claim_path);
			continue;
		}
		/* Consumed either way: a rejected candidate is not retried forever, and whatever
		 * it is (a directory too) it must not stay at the claim name, where it would
		 * shadow every later Roster.new. */
		if (unlink(rs->claim_path) < 0 && (errno != EISDIR || rmdir(rs->claim_path) < 0) &&
		    errno != ENOENT)
			log_errno(LOG_LEVEL_ERROR, errno, "%s: cannot remove %s: no later %s is "
			    "read until it is gone", rs->ifname, rs->claim_path, rs->new_path);
		return ret < 0 ? ret : 1;
	}
	return 0;
}

/* Runs on the persister thread: a claim left from before, then Roster.new itself (claim_new),
 * so that a candidate dropped while the claim name was taken waits for no further event.  Up
 * to two candidates into got; their count. */
static unsigned claims_take(struct roster_sync *rs, struct roster_claimed got[2])
{
	bool stale = true;
	unsigned n = 0;
	char *text;
	size_t len;
	int ret;

	while (n < 2 && stale) {
		uint64_t t0 = clock_now_ns();

		text = NULL;
		len = 0;
		ret = claim_new(rs, &text, &len, &stale);
		if (ret == 0)
			break;
		got[n].start_ns = t0;
		got[n].read_ns = clock_now_ns() - t0;
		got[n].text = ret < 0 ? NULL : text;
		got[n].len = ret < 0 ? 0 : len;
		got[n].err = ret < 0 ? ret : 0;
		n++;
	}
	return n;
}

void roster_sync_check_new(struct roster_sync *rs)
{
	pthread_mutex_lock(&rs->persist_lock);
	rs->claim_wanted = true;
	pthread_cond_signal(&rs->persist_cond);
	pthread_mutex_unlock(&rs->persist_lock);
}

/* ---- set-up ---- */

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *base = strrchr(rs->new_path, '/'), *claim = strrchr(rs->claim_path, '/');
	const char *next = strrchr(rs->next_key_path, '/');
	const struct inotify_event *ev;
	bool hit = false, next_hit = false;
	ssize_t n;

	(void)what;
	base = base ? base + 1 : rs->new_path;
	claim = claim ? claim + 1 : rs->claim_path;
	next = !rs->next_key_path[0] ? NULL : next ? next + 1 : rs->next_key_path;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (!ev->len)
				continue;
			/* chmod (IN_ATTRIB) is how an operator fixes a refused rotation key. */
			if (next && strcmp(ev->name, next) == 0)
				next_hit = true;
			else if (!(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)))
				continue;
			else if (strcmp(ev->name, base) == 0)
				hit = true;
			/* A writer that closed while we held its file under the claim name; our
			 * own renames to that name (IN_MOVED_TO) are no news. */
			else if (strcmp(ev->name, claim) == 0 && (ev->mask & IN_CLOSE_WRITE))
				hit = true;
		}
	}
	if (hit)
		roster_sync_check_new(rs);
	if (next_hit)
		rotation_retry(rs);
}

/* The directory part of path ("." for a bare name). */
static void dir_of(char dir[PATH_MAX], const char *path)
{
	char *slash;

	snprintf(dir, PATH_MAX, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, PATH_MAX, ".");
}

static int watch(struct roster_sync *rs)
{
	/* scp writes in place (close after write); mv and our own tools rename into place;
	 * chmod fixes a refused rotation key. */
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB;
	char dir[PATH_MAX], key_dir[PATH_MAX];
	int ret;

	dir_of(dir, rs->new_path);
	rs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rs->inotify_fd < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "%s: roster: inotify_init1 (to watch %s)%s",
		    rs->dev->ifname, dir, ret == -EMFILE ? ": no inotify instance left "
		    "(fs.inotify.max_user_instances) or no file descriptor left (ulimit -n)" : "");
		return ret;
	}
	if (inotify_add_watch(rs->inotify_fd, dir, mask) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "%s: roster: inotify_add_watch %s%s",
		    rs->dev->ifname, dir, ret == -ENOSPC ? " (fs.inotify.max_user_watches)" : "");
		return ret;
	}
	/* PrivateKeyFile.next: a rotation waiting for it retries as soon as it changes. */
	if (rs->next_key_path[0]) {
		dir_of(key_dir, rs->next_key_path);
		if (strcmp(key_dir, dir) != 0 &&
		    inotify_add_watch(rs->inotify_fd, key_dir, mask) < 0)
			log_errno(LOG_LEVEL_WARN, errno, "%s: roster: cannot watch %s: a rotation "
			    "waiting for %s is retried every %d s only", rs->dev->ifname, key_dir,
			    rs->next_key_path, ROSTER_ROTATION_TICK);
	}
	rs->ev_inotify = event_new(rs->dev->base, rs->inotify_fd, EV_READ | EV_PERSIST,
	    on_inotify, rs);
	if (!rs->ev_inotify || event_add(rs->ev_inotify, NULL) < 0) {
		log_error("%s: roster: cannot add the inotify watch to the event loop",
		    rs->dev->ifname);
		return -ENOMEM;
	}
	return 0;
}

static bool path_plus(char dst[PATH_MAX], const char *path, const char *suffix)
{
	return snprintf(dst, PATH_MAX, "%s%s", path, suffix) < PATH_MAX;
}

/* dir/.BASE.new.claim: a name only tunneld uses, in Roster.new's directory (rename is
 * atomic only within one filesystem). */
static bool claim_name(char dst[PATH_MAX], const char *new_path)
{
	const char *slash = strrchr(new_path, '/');
	int dlen = slash ? (int)(slash - new_path + 1) : 0;

	return snprintf(dst, PATH_MAX, "%.*s.%s.claim", dlen, new_path,
	    slash ? slash + 1 : new_path) < PATH_MAX;
}

int roster_sync_init(struct roster_sync *rs, struct device *dev, const struct config *cfg)
{
	char legacy[PATH_MAX];
	int ret;

	memset(rs, 0, sizeof(*rs));
	rs->dev = dev;
	snprintf(rs->ifname, sizeof(rs->ifname), "%s", dev->ifname);
	rs->inotify_fd = -1;
	rs->persist_efd = -1;
	pthread_mutex_init(&rs->persist_lock, NULL);
	pthread_cond_init(&rs->persist_cond, NULL);
	roster_init(&rs->running);
	roster_init(&rs->queued);
	config_init(&rs->base);
	if (!path_plus(rs->path, cfg->roster_path, "") ||
	    !path_plus(rs->new_path, cfg->roster_path, ".new") ||
	    !claim_name(rs->claim_path, rs->new_path) ||
	    !path_plus(legacy, cfg->roster_path, ".admin") ||
	    !path_plus(rs->key_path, cfg->private_key_file, "") ||
	    !path_plus(rs->next_key_path, cfg->private_key_file, ".next")) {
		log_error("%s: Roster or PrivateKeyFile path too long (with .new, .admin, .next "
		    "or the claim name it must fit in %d bytes)", dev->ifname, PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (!cfg->private_key_file[0])
		rs->next_key_path[0] = '\0';
	/* The trust anchor is the configured AdminKey only.  A later admin key is pinned by
	 * verifying the persisted roster's endorsement chain from it (roster_sync_start), never
	 * by a file anyone who can write the roster directory could drop. */
	memcpy(rs->pinned, cfg->admin_key, KEY_LEN);
	if (access(legacy, F_OK) == 0)
		log_info("%s: roster: ignoring %s: the admin key is derived from the verified "
		    "roster, not from a file", dev->ifname, legacy);
	rs->base.has_private_key = cfg->has_private_key;
	memcpy(rs->base.private_key, cfg->private_key, WG_KEY_LEN);
	rs->base.has_listen_port = cfg->has_listen_port;
	rs->base.listen_port = cfg->listen_port;
	rs->base.has_fwmark = cfg->has_fwmark;
	rs->base.fwmark = cfg->fwmark;
	rs->base.has_mtu = cfg->has_mtu;
	rs->base.mtu = cfg->mtu;
	rs->base.no_overlay_firewall = cfg->no_overlay_firewall;
	rs->base.has_gossip_port = cfg->has_gossip_port;
	rs->base.gossip_port = cfg->gossip_port;
	rs->base.replace_peers = true;
	rs->expiry_warning = (int64_t)cfg->roster_expiry_warning;
	rs->persist_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rs->persist_efd < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, -ret, "%s: roster: cannot create the persister's "
		    "eventfd", dev->ifname);
		return ret;
	}
	/* The thread starts at the loop's first turn, after privilege_drop (see persister_start). */
	if (event_base_once(dev->base, -1, EV_TIMEOUT, persister_start, rs,
	    &(struct timeval){ 0, 0 }) < 0)
		return -ENOMEM;
	rs->ev_persisted = event_new(dev->base, rs->persist_efd, EV_READ | EV_PERSIST,
	    on_persisted, rs);
	if (!rs->ev_persisted || event_add(rs->ev_persisted, NULL) < 0) {
		log_error("%s: roster: cannot add the persister's eventfd to the event loop",
		    dev->ifname);
		return -ENOMEM;
	}
	return 0;
}

/* Removes the temporary files (Roster.tmp.XXXXXX) a persist cut short by a crash left:
 * nothing else writes those names, and no persist runs yet. */
static void temps_remove(struct roster_sync *rs)
{
	char dir[PATH_MAX], prefix[NAME_MAX + 8];
	const char *slash = strrchr(rs->path, '/');
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rs->path + 1) : 1,
	    slash ? rs->path : ".");
	if (snprintf(prefix, sizeof(prefix), "%.*s.tmp.", NAME_MAX,
	    slash ? slash + 1 : rs->path) >= (int)sizeof(prefix))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    strlen(de->d_name) != strlen(prefix) + 6)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_info("%s: removed %s%s, left by an interrupted persist",
			    rs->dev->ifname, dir, de->d_name);
	}
	closedir(d);
}

int roster_sync_start(struct roster_sync *rs)
{
	struct device *dev = rs->dev;
	struct roster_timing t = { 0 };
	uint8_t trusted[KEY_LEN];
	struct roster cand;
	char *text = NULL, why[512];
	size_t len = 0;
	int ret;

	/* Up and listening with no peers until a roster says otherwise. */
	ret = device_apply_file_config(dev, &rs->base);
	if (ret < 0)
		return ret;
	temps_remove(rs);
	t.start_ns = clock_now_ns();
	ret = read_file(rs->path, &text, &len);
	t.read_ns = clock_now_ns() - t.start_ns;
	if (ret == -ENOENT) {
		log_info("%s: no roster yet at %s: waiting for %s or a peer", dev->ifname, rs->path,
		    rs->new_path);
	} else if (ret < 0) {
		/* The pinned admin key is derived from this file: running without it would fall
		 * back to AdminKey, a silent downgrade of trust after an admin rotation. */
		log_errno(LOG_LEVEL_ERROR, -ret, "%s: cannot read the persisted roster %s (the "
		    "admin key to trust is derived from it): refusing to start", dev->ifname,
		    rs->path);
		goto out;
	} else if (roster_sync_check(NULL, rs->pinned, text, len, rs->path, &cand, trusted, why,
	    sizeof(why)) != ROSTER_OFFER_ACCEPTED) {
		log_error("%s: persisted roster %s rejected: %s; running without peers",
		    dev->ifname, rs->path, why);
	} else {
		t.check_ns = clock_now_ns() - t.start_ns - t.read_ns;
		memcpy(rs->pinned, trusted, KEY_LEN);
		log_info("%s: roster loaded: serial %llu, network %s, %zu nodes, from %s",
		    dev->ifname, (unsigned long long)cand.serial, cand.network, cand.n_nodes,
		    rs->path);
		install(rs, &cand, text, len, &t);
	}
	roster_sync_check_new(rs);
	ret = watch(rs);
	if (ret == 0) {
		/* Monotonic, so a wall clock that jumps is seen at the next tick, not missed. */
		const struct timeval tick = { ROSTER_EXPIRY_TICK, 0 };

		rs->ev_expiry = event_new(dev->base, -1, EV_PERSIST, on_expiry_timer, rs);
		if (!rs->ev_expiry || event_add(rs->ev_expiry, &tick) < 0) {
			log_error("%s: roster: cannot add the expiry timer", dev->ifname);
			ret = -ENOMEM;
		}
	}
out:
	free(text);
	return ret;
}

/* Candidates the persister thread claimed (removing them from disk) that the loop never
 * offered, because we stop: put back where the next start looks, the newest as Roster.new
 * and an older one at the claim name, unless something is there already.  Otherwise a push
 * landing just before a stop would be lost. */
static void claimed_put_back(struct roster_sync *rs)
{
	const char *where[2] = { rs->new_path, rs->claim_path };
	unsigned w = 0;
	int ret;

	for (unsigned i = rs->n_claimed; i-- > 0;) {
		if (!rs->claimed[i].text)
			continue;
		while (w < 2 && access(where[w], F_OK) == 0)
			w++;
		if (w == 2)
			break;
		ret = roster_text_save(rs->claimed[i].text, rs->claimed[i].len, where[w], 0644);
		if (ret < 0)
			log_errno(LOG_LEVEL_ERROR, ret, "%s: stopping: cannot put a claimed roster "
			    "back to %s", rs->ifname, where[w]);
		w++;
	}
}

void roster_sync_free(struct roster_sync *rs)
{
	if (rs->persist_running) {
		/* A roster already accepted is still written: the persister drains its job. */
		pthread_mutex_lock(&rs->persist_lock);
		rs->persist_stop = true;
		pthread_cond_signal(&rs->persist_cond);
		pthread_mutex_unlock(&rs->persist_lock);
		pthread_join(rs->persist_thread, NULL);
	} else if (rs->persist_job && roster_text_save(rs->persist_job, rs->persist_job_len,
	    rs->path, 0644) < 0) {
		/* Stopped before the loop's first turn started the persister: write it here. */
		log_error("%s: roster: serial %llu accepted but not persisted",
		    rs->ifname, (unsigned long long)rs->persist_job_serial);
	}
	free(rs->persist_job);
	if (rs->persist_running)
		claimed_put_back(rs);
	for (unsigned i = 0; i < rs->n_claimed; i++)
		free(rs->claimed[i].text);
	pthread_mutex_destroy(&rs->persist_lock);
	pthread_cond_destroy(&rs->persist_cond);
	if (rs->ev_persisted)
		event_free(rs->ev_persisted);
	if (rs->persist_efd >= 0)
		close(rs->persist_efd);
	if (rs->ev_retry)
		event_free(rs->ev_retry);
	if (rs->ev_rotation)
		event_free(rs->ev_rotation);
	if (rs->ev_inotify)
		event_free(rs->ev_inotify);
	if (rs->ev_expiry)
		event_free(rs->ev_expiry);
	if (rs->inotify_fd >= 0)
		close(rs->inotify_fd);
	roster_free(&rs->running);
	roster_free(&rs->queued);
	free(rs->queued_text);
	text_unshare(rs->pending_text);
	text_unshare(rs->text);
	config_free(&rs->base);
	sodium_memzero(rs, sizeof(*rs));
	rs->inotify_fd = -1;
	rs->persist_efd = -1;
}
