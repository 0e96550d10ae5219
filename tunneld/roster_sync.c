/* Roster mode: accepting, persisting and applying signed rosters (see roster_sync.h). */
#include "roster_sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "device.h"
#include "log.h"
#include "peer.h"

/* ---- pure parts: check, self, conversion ---- */

enum roster_offer_result roster_sync_check(const struct roster *running,
    const uint8_t pinned[KEY_LEN], const char *text, size_t len, const char *source,
    struct roster *out, uint8_t trusted[KEY_LEN], char *why, size_t whylen)
{
	struct roster_errors errs = { 0 };
	char reason[256];
	enum roster_offer_result res = ROSTER_OFFER_INVALID;

	roster_init(out);
	/* Cheap checks first: size, parse, network, serial; the signature last. */
	if (len > ROSTER_MAX_BYTES) {
		snprintf(why, whylen, "larger than %d bytes", ROSTER_MAX_BYTES);
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
	if (!out->has_signature) {
		snprintf(why, whylen, "not signed");
		goto out;
	}
	if (running && strcmp(out->network, running->network) != 0) {
		snprintf(why, whylen, "network '%s' is not ours ('%s')", out->network,
		    running->network);
		goto out;
	}
	if (running && out->serial <= running->serial) {
		snprintf(why, whylen, "serial %llu is not newer than the running %llu",
		    (unsigned long long)out->serial, (unsigned long long)running->serial);
		res = ROSTER_OFFER_NOT_NEWER;
		goto out;
	}
	if (!roster_verify(out, pinned, trusted, reason, sizeof(reason))) {
		snprintf(why, whylen, "signature: %s", reason);
		res = ROSTER_OFFER_INVALID;
		goto out;
	}
	res = ROSTER_OFFER_ACCEPTED;
out:
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

static bool add_prefix(struct config_prefix **v, size_t *n, int family, const uint8_t *addr,
    uint8_t cidr)
{
	struct config_prefix *grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (!grown)
		return false;
	*v = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	grown[*n].family = family;
	memcpy(grown[*n].addr, addr, family == AF_INET ? 4 : 16);
	grown[*n].cidr = cidr;
	(*n)++;
	return true;
}

static void node_endpoint(const struct roster_node *n, struct config_peer *cp)
{
	struct in6_addr literal;
	char err[256];

	if (!n->n_endpoints)
		return;
	snprintf(cp->endpoint_host, sizeof(cp->endpoint_host), "%s", n->endpoints[0].host);
	snprintf(cp->endpoint_port, sizeof(cp->endpoint_port), "%u", n->endpoints[0].port);
	/* Names are looked up off the event loop by the device; literals here, at no cost. */
	if (inet_pton(AF_INET, cp->endpoint_host, &literal) != 1 &&
	    inet_pton(AF_INET6, cp->endpoint_host, &literal) != 1) {
		cp->endpoint_unresolved = true;
		return;
	}
	if (config_resolve_endpoint(cp->endpoint_host, cp->endpoint_port, &cp->endpoint, err,
	    sizeof(err)) < 0) {
		log_warn("roster: node %s: cannot resolve endpoint %.100s: %.100s", n->name,
		    cp->endpoint_host, err);
		return;
	}
	cp->has_endpoint = true;
}

static bool node_peer(const struct roster_node *n, struct config_peer *cp)
{
	memset(cp, 0, sizeof(*cp));
	memcpy(cp->public_key, n->key, WG_KEY_LEN);
	cp->replace_allowed_ips = true;
	cp->line = n->line;
	if (n->has_addr4 && !add_prefix(&cp->allowed_ips, &cp->n_allowed_ips, AF_INET, n->addr4, 32))
		return false;
	if (n->has_addr6 &&
	    !add_prefix(&cp->allowed_ips, &cp->n_allowed_ips, AF_INET6, n->addr6, 128))
		return false;
	for (size_t i = 0; i < n->n_subnets; i++) {
		if (!add_prefix(&cp->allowed_ips, &cp->n_allowed_ips, n->subnets[i].family,
		    n->subnets[i].addr, n->subnets[i].cidr))
			return false;
	}
	node_endpoint(n, cp);
	return true;
}

bool roster_sync_to_config(const struct roster *r, const struct roster_node *self,
    const struct config *base, struct config *out)
{
	size_t i;

	config_init(out);
	out->has_private_key = base->has_private_key;
	memcpy(out->private_key, base->private_key, WG_KEY_LEN);
	out->has_listen_port = base->has_listen_port;
	out->listen_port = base->listen_port;
	out->has_fwmark = base->has_fwmark;
	out->fwmark = base->fwmark;
	out->has_mtu = base->has_mtu;
	out->mtu = base->mtu;
	out->replace_peers = true;
	/* Revoked: no addresses, no peers, no traffic. */
	if (!r || !self)
		return true;
	if (self->has_addr4 && !add_prefix(&out->addresses, &out->n_addresses, AF_INET,
	    self->addr4, r->cidr4.cidr))
		goto fail;
	if (self->has_addr6 && r->has_cidr6 && !add_prefix(&out->addresses, &out->n_addresses,
	    AF_INET6, self->addr6, r->cidr6.cidr))
		goto fail;
	out->peers = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*out->peers));
	if (!out->peers)
		goto fail;
	for (i = 0; i < r->n_nodes; i++) {
		if (&r->nodes[i] == self)
			continue;
		/* Counted first so that config_free releases a half-built peer too. */
		out->n_peers++;
		if (!node_peer(&r->nodes[i], &out->peers[out->n_peers - 1]))
			goto fail;
	}
	return true;
fail:
	config_free(out);
	return false;
}

/* ---- files ---- */

/* Reads a whole regular file of at most ROSTER_MAX_BYTES, without following a symlink or
 * waiting on a FIFO.  0, -ENOENT, or another negative errno. */
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

/* The admin key pinned after an endorsed rotation: base64 + newline, written atomically. */
static int admin_key_save(const char *path, const uint8_t key[KEY_LEN])
{
	char tmp[PATH_MAX + 8], b64[KEY_B64_LEN + 1];
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	key_to_base64(b64, key);
	b64[KEY_B64_LEN] = '\n';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, b64, KEY_B64_LEN + 1) != KEY_B64_LEN + 1 || fsync(fd) < 0)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* ---- applying ---- */

struct rekey_ctx {
	struct roster_sync *rs;
	const uint8_t *our_pub;
};

/* A node whose key changed keeps its sessions: the peer is re-keyed in place and asked for a
 * handshake under the new key. */
static void on_diff(void *arg, enum roster_change what, const struct roster_node *old_node,
    const struct roster_node *new_node)
{
	struct rekey_ctx *ctx = arg;
	struct device *dev = ctx->rs->dev;
	struct peer *p;

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

/* Whether PrivateKeyFile.next holds a key; its private half goes to next_priv. */
static bool next_key(struct roster_sync *rs, uint8_t next_priv[KEY_LEN], uint8_t next_pub[KEY_LEN])
{
	char err[512];

	if (!rs->next_key_path[0] || access(rs->next_key_path, F_OK) < 0)
		return false;
	if (key_file_read(rs->next_key_path, true, next_priv, err, sizeof(err)) < 0) {
		log_warn("%s: roster: %s", rs->dev->ifname, err);
		return false;
	}
	return key_public_from_private(next_pub, next_priv);
}

/* Applies r (now rs->running) given the roster that ran before (NULL: none). */
static int apply(struct roster_sync *rs, const struct roster *old)
{
	struct device *dev = rs->dev;
	uint8_t our_pub[KEY_LEN], next_priv[KEY_LEN], next_pub[KEY_LEN];
	bool have_next, is_next = false, have_pub;
	struct rekey_ctx ctx = { rs, our_pub };
	struct config cfg;
	int ret;

	config_init(&cfg);
	have_pub = wg_engine_public_key(dev->engine, our_pub);
	have_next = next_key(rs, next_priv, next_pub);
	rs->self = roster_sync_find_self(&rs->running, have_pub ? our_pub : NULL,
	    have_next ? next_pub : NULL, &is_next);
	if (is_next) {
		/* Our rotation was published: switch keys keeping live sessions, and make the
		 * new key the one we start with next time. */
		wg_engine_rotate_private_key(dev->engine, next_priv);
		memcpy(rs->base.private_key, next_priv, KEY_LEN);
		rs->base.has_private_key = true;
		if (rename(rs->next_key_path, rs->key_path) < 0)
			log_errno(LOG_LEVEL_ERROR, errno, "%s: roster: cannot rename %s over %s",
			    dev->ifname, rs->next_key_path, rs->key_path);
		log_info("%s: roster: switched to the rotated key of node %s (%s)", dev->ifname,
		    rs->self->name, rs->next_key_path);
	}
	if (old)
		roster_diff_nodes(old, &rs->running, on_diff, &ctx);
	if (!rs->self) {
		if (!rs->revoked)
			log_error("%s: REVOKED: this node's key is not in roster serial %llu of "
			    "network %s: every peer removed, carrying no traffic", dev->ifname,
			    (unsigned long long)rs->running.serial, rs->running.network);
		rs->revoked = true;
	} else {
		if (rs->revoked)
			log_info("%s: roster: this node is enrolled again as %s", dev->ifname,
			    rs->self->name);
		rs->revoked = false;
	}
	ret = -ENOMEM;
	if (!roster_sync_to_config(&rs->running, rs->self, &rs->base, &cfg))
		goto out;
	ret = device_apply_file_config(dev, &cfg);
out:
	config_free(&cfg);
	sodium_memzero(next_priv, sizeof(next_priv));
	return ret;
}

/* Takes over cand (and a copy of its text) as the running roster and applies it. */
static int install(struct roster_sync *rs, struct roster *cand, const char *text, size_t len)
{
	struct roster old = rs->running;
	bool had = rs->has_roster;
	char *copy = malloc(len + 1);
	int ret;

	if (!copy) {
		roster_free(cand);
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	free(rs->text);
	rs->text = copy;
	rs->text_len = len;
	rs->running = *cand;
	roster_init(cand);
	rs->has_roster = true;
	ret = apply(rs, had ? &old : NULL);
	if (had)
		roster_free(&old);
	return ret;
}

enum roster_offer_result roster_sync_offer(struct roster_sync *rs, const char *text, size_t len,
    const char *source, char *why, size_t whylen)
{
	struct device *dev = rs->dev;
	uint8_t trusted[KEY_LEN];
	struct roster cand;
	enum roster_offer_result res;
	int ret;

	res = roster_sync_check(rs->has_roster ? &rs->running : NULL, rs->pinned, text, len,
	    source, &cand, trusted, why, whylen);
	if (res == ROSTER_OFFER_NOT_NEWER) {
		log_debug("%s: roster from %s ignored: %s", dev->ifname, source, why);
		goto out;
	}
	if (res != ROSTER_OFFER_ACCEPTED) {
		log_warn("%s: roster from %s rejected: %s; keeping serial %llu", dev->ifname, source,
		    why, (unsigned long long)(rs->has_roster ? rs->running.serial : 0));
		goto out;
	}
	/* Persisted before applied: a crash never runs a roster that is not on disk. */
	if (sodium_memcmp(trusted, rs->pinned, KEY_LEN) != 0) {
		ret = admin_key_save(rs->admin_path, trusted);
		if (ret < 0) {
			snprintf(why, whylen, "cannot pin the new admin key in %s: %s",
			    rs->admin_path, strerror(-ret));
			goto failed;
		}
		memcpy(rs->pinned, trusted, KEY_LEN);
		log_info("%s: roster: now trusting the endorsed admin key (pinned in %s)",
		    dev->ifname, rs->admin_path);
	}
	ret = roster_save(&cand, rs->path, 0644);
	if (ret < 0) {
		snprintf(why, whylen, "cannot persist to %s: %s", rs->path, strerror(-ret));
		goto failed;
	}
	log_info("%s: roster accepted: serial %llu, network %s, %zu nodes, from %s", dev->ifname,
	    (unsigned long long)cand.serial, cand.network, cand.n_nodes, source);
	install(rs, &cand, text, len);
	if (rs->on_accepted)
		rs->on_accepted(rs->on_accepted_ctx, rs);
	goto out;
failed:
	log_error("%s: roster from %s not applied: %s", dev->ifname, source, why);
	roster_free(&cand);
	res = ROSTER_OFFER_FAILED;
out:
	return res;
}

void roster_sync_check_new(struct roster_sync *rs)
{
	char *text = NULL, why[512];
	size_t len = 0;
	int ret;

	ret = read_file(rs->new_path, &text, &len);
	if (ret == -ENOENT)
		return;
	/* Consumed either way: a rejected candidate is not retried forever. */
	if (unlink(rs->new_path) < 0 && errno != ENOENT)
		log_errno(LOG_LEVEL_WARN, errno, "%s: cannot remove %s", rs->dev->ifname,
		    rs->new_path);
	if (ret < 0) {
		log_errno(LOG_LEVEL_WARN, ret, "%s: roster from %s rejected: cannot read it",
		    rs->dev->ifname, rs->new_path);
		return;
	}
	if (roster_sync_offer(rs, text, len, rs->new_path, why, sizeof(why)) ==
	    ROSTER_OFFER_NOT_NEWER)
		log_warn("%s: roster from %s rejected: %s", rs->dev->ifname, rs->new_path, why);
	free(text);
}

/* ---- set-up ---- */

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct roster_sync *rs = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *base = strrchr(rs->new_path, '/');
	const struct inotify_event *ev;
	bool hit = false;
	ssize_t n;

	(void)what;
	base = base ? base + 1 : rs->new_path;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->len && strcmp(ev->name, base) == 0)
				hit = true;
		}
	}
	if (hit)
		roster_sync_check_new(rs);
}

static int watch(struct roster_sync *rs)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", rs->new_path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	rs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rs->inotify_fd < 0)
		return -errno;
	/* scp writes in place (close after write); mv and our own tools rename into place. */
	if (inotify_add_watch(rs->inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "roster: cannot watch %s", dir);
		return -errno;
	}
	rs->ev_inotify = event_new(rs->dev->base, rs->inotify_fd, EV_READ | EV_PERSIST,
	    on_inotify, rs);
	if (!rs->ev_inotify || event_add(rs->ev_inotify, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static bool path_plus(char dst[PATH_MAX], const char *path, const char *suffix)
{
	return snprintf(dst, PATH_MAX, "%s%s", path, suffix) < PATH_MAX;
}

int roster_sync_init(struct roster_sync *rs, struct device *dev, const struct config *cfg)
{
	uint8_t pinned[KEY_LEN];
	char err[512];

	memset(rs, 0, sizeof(*rs));
	rs->dev = dev;
	rs->inotify_fd = -1;
	roster_init(&rs->running);
	config_init(&rs->base);
	if (!path_plus(rs->path, cfg->roster_path, "") ||
	    !path_plus(rs->new_path, cfg->roster_path, ".new") ||
	    !path_plus(rs->admin_path, cfg->roster_path, ".admin") ||
	    !path_plus(rs->key_path, cfg->private_key_file, "") ||
	    !path_plus(rs->next_key_path, cfg->private_key_file, ".next"))
		return -ENAMETOOLONG;
	if (!cfg->private_key_file[0])
		rs->next_key_path[0] = '\0';
	memcpy(rs->pinned, cfg->admin_key, KEY_LEN);
	/* An admin rotation we followed earlier pinned its key here. */
	if (access(rs->admin_path, F_OK) == 0) {
		if (key_file_read(rs->admin_path, false, pinned, err, sizeof(err)) == 0)
			memcpy(rs->pinned, pinned, KEY_LEN);
		else
			log_warn("%s: roster: ignoring %s", dev->ifname, err);
	}
	rs->base.has_private_key = cfg->has_private_key;
	memcpy(rs->base.private_key, cfg->private_key, WG_KEY_LEN);
	rs->base.has_listen_port = cfg->has_listen_port;
	rs->base.listen_port = cfg->listen_port;
	rs->base.has_fwmark = cfg->has_fwmark;
	rs->base.fwmark = cfg->fwmark;
	rs->base.has_mtu = cfg->has_mtu;
	rs->base.mtu = cfg->mtu;
	rs->base.replace_peers = true;
	return 0;
}

int roster_sync_start(struct roster_sync *rs)
{
	struct device *dev = rs->dev;
	uint8_t trusted[KEY_LEN];
	struct roster cand;
	char *text = NULL, why[512];
	size_t len = 0;
	int ret;

	/* Up and listening with no peers until a roster says otherwise. */
	ret = device_apply_file_config(dev, &rs->base);
	if (ret < 0)
		return ret;
	ret = read_file(rs->path, &text, &len);
	if (ret == -ENOENT) {
		log_info("%s: no roster yet at %s: waiting for %s or a peer", dev->ifname, rs->path,
		    rs->new_path);
	} else if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot read the roster %s", dev->ifname,
		    rs->path);
	} else if (roster_sync_check(NULL, rs->pinned, text, len, rs->path, &cand, trusted, why,
	    sizeof(why)) != ROSTER_OFFER_ACCEPTED) {
		log_error("%s: persisted roster %s rejected: %s; running without peers",
		    dev->ifname, rs->path, why);
	} else {
		memcpy(rs->pinned, trusted, KEY_LEN);
		log_info("%s: roster loaded: serial %llu, network %s, %zu nodes, from %s",
		    dev->ifname, (unsigned long long)cand.serial, cand.network, cand.n_nodes,
		    rs->path);
		install(rs, &cand, text, len);
	}
	free(text);
	roster_sync_check_new(rs);
	return watch(rs);
}

void roster_sync_free(struct roster_sync *rs)
{
	if (rs->ev_inotify)
		event_free(rs->ev_inotify);
	if (rs->inotify_fd >= 0)
		close(rs->inotify_fd);
	roster_free(&rs->running);
	free(rs->text);
	config_free(&rs->base);
	sodium_memzero(rs, sizeof(*rs));
	rs->inotify_fd = -1;
}
