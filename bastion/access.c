/* The bastion's roster: load + verify + keep the last good one, engineer and target lookups. */
#include "bastion/access.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bastion/log.h"

int access_open(struct access *a, const char *path, const uint8_t admin_key[KEY_LEN])
{
	char dir[PATH_MAX];

	memset(a, 0, sizeof(*a));
	roster_init(&a->r);
	a->inotify_fd = -1;
	if (snprintf(a->path, sizeof(a->path), "%s", path) >= (int)sizeof(a->path))
		return -ENAMETOOLONG;
	/* The configured AdminKey is the only anchor: a rotated admin key is followed through
	 * the roster's verified endorsement chain (access_reload), never read from a file. */
	memcpy(a->pinned, admin_key, KEY_LEN);
	snprintf(dir, sizeof(dir), "%s", path);
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd < 0)
		return -errno;
	/* The directory, not the file: tunneld replaces the roster by rename. */
	if (inotify_add_watch(a->inotify_fd, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_CREATE) < 0) {
		int ret = -errno;

		close(a->inotify_fd);
		a->inotify_fd = -1;
		return ret;
	}
	return 0;
}

void access_close(struct access *a)
{
	if (a->inotify_fd >= 0)
		close(a->inotify_fd);
	a->inotify_fd = -1;
	roster_free(&a->r);
	a->has_roster = false;
}

bool access_watch_drain(struct access *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ie;
	const char *base = strrchr(a->path, '/');
	bool hit = false;
	ssize_t n;
	size_t off;
	int rounds;

	base = base ? base + 1 : a->path;
	for (rounds = 0; rounds < 64; rounds++) {
		n = read(a->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (off = 0; off + sizeof(*ie) <= (size_t)n; off += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(buf + off);
			if (ie->len && strcmp(ie->name, base) == 0)
				hit = true;
		}
	}
	return hit;
}

bool access_reload(struct access *a, char *why, size_t whylen)
{
	struct roster_errors errs = { 0 };
	struct roster cand;
	uint8_t trusted[KEY_LEN];
	bool ok = false;

	why[0] = '\0';
	roster_init(&cand);
	if (!roster_load(a->path, &cand, &errs)) {
		snprintf(why, whylen, "%s", errs.count ? errs.msgs[0] : "cannot read the roster");
		goto out;
	}
	if (!roster_verify(&cand, a->pinned, trusted, why, whylen))
		goto out;
	if (a->has_roster && cand.serial == a->r.serial) {
		why[0] = '\0';
		goto out;
	}
	if (!roster_is_newer(a->has_roster ? &a->r : NULL, &cand, why, whylen))
		goto out;
	memcpy(a->pinned, trusted, KEY_LEN);
	roster_free(&a->r);
	a->r = cand;
	roster_init(&cand);
	a->has_roster = true;
	ok = true;
out:
	roster_free(&cand);
	roster_errors_free(&errs);
	return ok;
}

const struct roster_engineer *access_engineer_match(const struct access *a, const char *user,
    const uint8_t *blob, size_t blob_len, char fp[51])
{
	const struct roster_engineer *e;
	size_t i;

	if (!a->has_roster || !roster_name_valid(user))
		return NULL;
	e = roster_engineer_find(&a->r, user);
	if (!e)
		return NULL;
	for (i = 0; i < e->n_ssh_keys; i++) {
		if (e->ssh_keys[i].blob_len != blob_len)
			continue;
		if (sodium_memcmp(e->ssh_keys[i].blob, blob, blob_len) == 0) {
			roster_ssh_key_fingerprint(&e->ssh_keys[i], fp);
			return e;
		}
	}
	return NULL;
}

const struct roster_engineer *access_cert_match(const struct access *a, const char *user,
    const uint8_t *blob, size_t blob_len, int64_t now, struct ssh_cert *c, char fp[51],
    char *why, size_t whylen)
{
	const struct roster_engineer *e;
	char detail[SSH_CERT_WHY_MAX];

	fp[0] = '\0';
	if (!a->has_roster || !roster_name_valid(user) ||
	    !(e = roster_engineer_find(&a->r, user))) {
		snprintf(why, whylen, "unknown engineer");
		return NULL;
	}
	if (!ssh_cert_parse(c, blob, blob_len, detail, sizeof(detail))) {
		snprintf(why, whylen, "certificate refused: %s", detail);
		return NULL;
	}
	ssh_cert_key_fingerprint(c, fp);
	if (!a->r.has_engineer_ca) {
		snprintf(why, whylen, "certificate refused: the roster names no engineer CA");
		return NULL;
	}
	if (!e->cert_principal[0]) {
		snprintf(why, whylen, "certificate refused: the roster gives %s no cert-principal",
		    e->name);
		return NULL;
	}
	/* Her current principal, not her name: certificates signed before she was removed (and
	 * added again) or had her certificates revoked name another one. */
	if (!ssh_cert_check(c, a->r.engineer_ca, e->cert_principal, now, detail, sizeof(detail))) {
		if (strncmp(detail, "certificate expired", 19) == 0)
			snprintf(why, whylen, "%s", detail);
		else
			snprintf(why, whylen, "certificate refused: %s", detail);
		return NULL;
	}
	return e;
}

static void fill_target(struct access_target *t, const struct roster_node *n, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", n->name);
	if (n->has_addr4) {
		t->family = AF_INET;
		memcpy(t->addr, n->addr4, 4);
	} else {
		t->family = AF_INET6;
		memcpy(t->addr, n->addr6, 16);
	}
	roster_address_format(t->addr_str, sizeof(t->addr_str), t->family, t->addr);
	t->port = port;
}

bool access_target_resolve(const struct access *a, const char *host, uint16_t port,
    struct access_target *t)
{
	const struct roster_node *n;
	uint8_t addr[16] = { 0 };
	int family;
	size_t i;

	if (!a->has_roster || port == 0)
		return false;
	/* An address first: a name may look like one ("100.64.0.3" is a valid name). */
	if (!roster_address_parse(&family, addr, host)) {
		n = roster_name_valid(host) ? roster_node_find(&a->r, host) : NULL;
		if (!n)
			return false;
		fill_target(t, n, port);
		return true;
	}
	for (i = 0; i < a->r.n_nodes; i++) {
		n = &a->r.nodes[i];
		if ((family == AF_INET && n->has_addr4 && memcmp(n->addr4, addr, 4) == 0) ||
		    (family == AF_INET6 && n->has_addr6 && memcmp(n->addr6, addr, 16) == 0)) {
			fill_target(t, n, port);
			/* Connect to the very address asked for. */
			t->family = family;
			memcpy(t->addr, addr, 16);
			roster_address_format(t->addr_str, sizeof(t->addr_str), family, addr);
			return true;
		}
	}
	/* A host behind a node (a BMC, a switch): reached through the overlay's route to that
	 * node's subnet, audited under the node's name with the address asked for. */
	n = roster_subnet_router(&a->r, family, addr);
	if (!n)
		return false;
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", n->name);
	t->in_subnet = true;
	t->family = family;
	memcpy(t->addr, addr, 16);
	roster_address_format(t->addr_str, sizeof(t->addr_str), family, addr);
	t->port = port;
	return true;
}

bool access_allows(const struct access *a, const char *engineer, const struct access_target *t,
    int64_t now)
{
	const struct roster_engineer *e;
	const struct roster_node *n;

	if (!a->has_roster)
		return false;
	e = roster_engineer_find(&a->r, engineer);
	n = roster_node_find(&a->r, t->name);
	if (!e || !n)
		return false;
	if (t->in_subnet)
		return roster_subnet_router(&a->r, t->family, t->addr) == n &&
		    roster_engineer_allows_address(e, t->family, now, t->addr, t->port);
	if (t->family == AF_INET ? !(n->has_addr4 && memcmp(n->addr4, t->addr, 4) == 0) :
	    !(n->has_addr6 && memcmp(n->addr6, t->addr, 16) == 0))
		return false;	/* the node's address changed under an open jump */
	return roster_engineer_allows(&a->r, e, n, t->port, now);
}

bool access_expired(const struct access *a, int64_t now)
{
	return a->has_roster && roster_expiry_at(&a->r, now, 0) == ROSTER_EXPIRY_EXPIRED;
}

int64_t access_next_until(const struct access *a, int64_t now)
{
	int64_t next = INT64_MAX;

	if (!a->has_roster)
		return next;
	for (size_t i = 0; i < a->r.n_engineers; i++)
		for (size_t j = 0; j < a->r.engineers[i].n_allows; j++) {
			const struct roster_allow *al = &a->r.engineers[i].allows[j];

			if (al->has_until && al->until > now && al->until < next)
				next = al->until;
		}
	return next;
}

bool access_until_due(struct access_until *u, const struct access *a, int64_t now)
{
	bool due = u->primed && now >= u->next;

	if (!u->primed || due || now < u->last)
		u->next = access_next_until(a, now);
	u->primed = true;
	u->last = now;
	return due;
}

void access_until_reset(struct access_until *u)
{
	u->primed = false;
}
