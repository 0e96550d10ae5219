/* Canonical roster text (docs/roster.md) and atomic saving. */
#include "keys/lib/roster_int.h"
#include "keys/lib/ssh_cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true;	/* every formatted line is short; longer means a bug */
		return;
	}
	put(b, tmp, (size_t)n);
}

static void put_b64(struct buf *b, const uint8_t *bin, size_t n)
{
	size_t elen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *e = malloc(elen);

	if (!e) {
		b->oom = true;
		return;
	}
	sodium_bin2base64(e, elen, bin, n, sodium_base64_VARIANT_ORIGINAL);
	puts_(b, e);
	free(e);
}

static void put_node(struct buf *b, const struct roster_node *n)
{
	char s[INET6_ADDRSTRLEN + 8], ep[sizeof(n->endpoints->host) + 16];
	char k[KEY_B64_LEN + 1];
	size_t i;

	key_to_base64(k, n->key);
	putf(b, "node %s\n\tkey %s\n", n->name, k);
	if (n->has_addr4) {
		roster_address_format(s, sizeof(s), AF_INET, n->addr4);
		putf(b, "\taddress %s\n", s);
	}
	if (n->has_addr6) {
		roster_address_format(s, sizeof(s), AF_INET6, n->addr6);
		putf(b, "\taddress %s\n", s);
	}
	for (i = 0; i < n->n_subnets; i++) {
		roster_prefix_format(s, sizeof(s), &n->subnets[i]);
		putf(b, "\tsubnet %s\n", s);
	}
	for (i = 0; i < n->n_endpoints; i++) {
		roster_endpoint_format(ep, sizeof(ep), &n->endpoints[i]);
		puts_(b, "\tendpoint ");
		puts_(b, ep);
		puts_(b, "\n");
	}
	for (i = 0; i < n->n_groups; i++)
		putf(b, "\tgroup %s\n", n->groups[i]);
}

static void put_engineer(struct buf *b, const struct roster_engineer *e)
{
	const struct roster_allow *a;
	size_t i;

	putf(b, "engineer %s\n", e->name);
	for (i = 0; i < e->n_ssh_keys; i++) {
		puts_(b, "\tssh-key ");
		puts_(b, e->ssh_keys[i].type);
		puts_(b, " ");
		put_b64(b, e->ssh_keys[i].blob, e->ssh_keys[i].blob_len);
		if (e->ssh_keys[i].comment && e->ssh_keys[i].comment[0]) {
			puts_(b, " ");
			puts_(b, e->ssh_keys[i].comment);
		}
		puts_(b, "\n");
	}
	if (e->cert_principal[0])
		putf(b, "\tcert-principal %s\n", e->cert_principal);
	for (i = 0; i < e->n_allows; i++) {
		char t[ROSTER_TIME_LEN + 1];

		a = &e->allows[i];
		if (a->port_lo == a->port_hi)
			putf(b, "\tallow %s %u", a->target, a->port_lo);
		else
			putf(b, "\tallow %s %u-%u", a->target, a->port_lo, a->port_hi);
		if (a->has_until) {
			if (!roster_time_format(t, a->until))
				strcpy(t, "1970-01-01T00:00:00Z");	/* out of range */
			putf(b, " until %s", t);
		}
		puts_(b, "\n");
	}
}

char *roster_text_write(const struct roster *r, bool with_signature, size_t *len)
{
	char k[KEY_B64_LEN + 1], p[INET6_ADDRSTRLEN + 8], t[ROSTER_TIME_LEN + 1];
	struct buf b = { 0 };
	size_t i;

	putf(&b, "warren-roster %u\nnetwork %s\n", r->version, r->network);
	roster_prefix_format(p, sizeof(p), &r->cidr4);
	putf(&b, "cidr %s\n", p);
	if (r->has_cidr6) {
		roster_prefix_format(p, sizeof(p), &r->cidr6);
		putf(&b, "cidr6 %s\n", p);
	}
	if (!roster_time_format(t, r->issued))
		strcpy(t, "1970-01-01T00:00:00Z");	/* out of range: the parser will say so */
	key_to_base64(k, r->admin_key);
	putf(&b, "serial %llu\nissued %s\n", (unsigned long long)r->serial, t);
	if (r->has_expires) {
		if (!roster_time_format(t, r->expires))
			strcpy(t, "1970-01-01T00:00:00Z");
		putf(&b, "expires %s\n", t);
	}
	putf(&b, "admin %s\n", k);
	for (i = 0; i < r->n_endorsements; i++) {
		key_to_base64(k, r->endorsements[i].old_key);
		putf(&b, "endorse %s ", k);
		key_to_base64(k, r->endorsements[i].new_key);
		putf(&b, "%s ", k);
		put_b64(&b, r->endorsements[i].sig, ROSTER_SIG_LEN);
		puts_(&b, "\n");
	}
	if (r->has_engineer_ca) {
		char ca[SSH_ED25519_LINE_MAX];

		ssh_ed25519_line(ca, r->engineer_ca);
		putf(&b, "engineer-ca %s\n", ca);
	}
	for (i = 0; i < r->n_nodes; i++)
		put_node(&b, &r->nodes[i]);
	for (i = 0; i < r->n_engineers; i++)
		put_engineer(&b, &r->engineers[i]);
	if (r->policy_default_deny)
		puts_(&b, "policy default deny\n");
	for (i = 0; i < r->n_policy; i++) {
		char rule[ROSTER_POLICY_TEXT_MAX];

		roster_policy_rule_format(rule, &r->policy[i]);
		putf(&b, "policy %s\n", rule);
	}
	if (with_signature && r->has_signature) {
		puts_(&b, "signature ");
		put_b64(&b, r->signature, ROSTER_SIG_LEN);
		puts_(&b, "\n");
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}

char *roster_serialize(struct roster *r, bool with_signature, size_t *len)
{
	roster_sort(r);
	return roster_text_write(r, with_signature, len);
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int roster_save(struct roster *r, const char *path, unsigned mode)
{
	size_t len;
	char *text = roster_serialize(r, r->has_signature, &len);
	int ret;

	if (!text)
		return -ENOMEM;
	ret = roster_text_save(text, len, path, mode);
	free(text);
	return ret;
}

int roster_text_save(const char *text, size_t len, const char *path, unsigned mode)
{
	char *tmp = NULL, *dir = NULL, *slash;
	bool created = false;
	int fd = -1, dfd = -1, ret;

	dir = strdup(path);
	if (!dir || asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto out;
	}
	/* Temp file beside the target, so rename is atomic on the same filesystem. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	created = true;
	ret = 0;
	if (fchmod(fd, mode & 07777) < 0 || (ret = write_all(fd, text, len)) < 0 ||
	    fsync(fd) < 0) {
		ret = ret < 0 ? ret : -errno;
		goto out;
	}
	ret = close(fd);
	fd = -1;
	if (ret < 0 || rename(tmp, path) < 0) {
		ret = -errno;
		goto out;
	}
	created = false;
	/* The rename is durable only once the directory is. */
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (created)
		unlink(tmp);
	free(tmp);
	free(dir);
	return ret;
}
