/* roster_gen: big signed rosters for the roster benchmark, fast (keys enroll in a loop rewrites
 * the whole roster per node: quadratic).  Built by bench_roster.sh against libkeys.
 *
 *   roster_gen gen BASE.signed ADMIN.key TOTAL OUT   BASE plus generated nodes up to TOTAL
 *                                                    nodes, serial + 1, signed, saved 0600
 *   roster_gen time FILE                             parse + verify (pinned = its own admin
 *                                                    key) in-process; prints "PARSE_MS VERIFY_MS"
 *   roster_gen change IN ADMIN.key OUT               IN (a generated roster) with five nodes
 *                                                    changed, serial + 1, signed: g00010's
 *                                                    endpoint port +1, g00011 re-keyed, g00012
 *                                                    removed, g00013 renamed h00013 (same key),
 *                                                    one node added (x00000); prints the keys
 *
 * Generated nodes: gNNNNN numbered from BASE's node count, a real X25519 key pair each (the private half is thrown away),
 * addresses from 100.64.1.0 up (the enrolled nodes live in 100.64.0.0/24), one endpoint. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keys/lib/key.h"
#include "keys/lib/roster.h"

enum { GEN_MAX = 60000 };	/* stays inside 100.64.1.0 - 100.64.255.255 */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void errors_print(const struct roster_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count && i < 5; i++)
		fprintf(stderr, "roster_gen: %s\n", errs->msgs[i]);
}

static bool add_nodes(struct roster *r, unsigned long total)
{
	uint8_t priv[KEY_LEN];
	char name[16];
	unsigned long i;
	bool ok = false;

	/* Numbered from the node count, so a roster generated from a generated one (a series of
	 * growing rosters) adds fresh names and addresses. */
	for (i = r->n_nodes; r->n_nodes < total; i++) {
		struct roster_node *n;
		unsigned a = 256 + (unsigned)i;	/* 100.64.1.0 onwards */

		snprintf(name, sizeof(name), "g%05lu", i);
		n = roster_node_add(r, name);
		if (!n)
			goto out;
		key_generate_private(priv);
		if (!key_public_from_private(n->key, priv))
			goto out;
		n->has_addr4 = true;
		n->addr4[0] = 100;
		n->addr4[1] = 64;
		n->addr4[2] = (uint8_t)(a >> 8);
		n->addr4[3] = (uint8_t)a;
		n->endpoints = calloc(1, sizeof(*n->endpoints));
		if (!n->endpoints)
			goto out;
		n->n_endpoints = 1;
		snprintf(n->endpoints[0].host, sizeof(n->endpoints[0].host), "198.18.%u.%u",
		    (a >> 8) & 0xff, a & 0xff);
		n->endpoints[0].port = 51820;
	}
	ok = true;
out:
	sodium_memzero(priv, sizeof(priv));
	return ok;
}

/* Loads the roster at path into r and the admin key at admin_path into secret. */
static bool load(const char *path, const char *admin_path, struct roster *r,
    uint8_t secret[ROSTER_ADMIN_SECRET_LEN])
{
	struct roster_errors errs = { 0 };
	char err[256];
	bool ok = false;

	if (!roster_load(path, r, &errs))
		errors_print(&errs);
	else if (roster_admin_key_read(admin_path, secret, err, sizeof(err)) != 0)
		fprintf(stderr, "roster_gen: %s: %s\n", admin_path, err);
	else
		ok = true;
	roster_errors_free(&errs);
	return ok;
}

/* The next serial, issued now, signed and saved 0600 at out_path. */
static bool next_save(struct roster *r, const uint8_t secret[ROSTER_ADMIN_SECRET_LEN],
    const char *out_path)
{
	int rc;

	r->serial++;
	r->issued = (int64_t)time(NULL);
	roster_sign(r, secret);
	rc = roster_save(r, out_path, 0600);
	if (rc < 0)
		fprintf(stderr, "roster_gen: %s: %s\n", out_path, strerror(-rc));
	return rc >= 0;
}

static int gen(const char *base, const char *admin_path, const char *total_s, const char *out_path)
{
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN];
	struct roster r;
	unsigned long total;
	char *end;
	int ret = 1;

	roster_init(&r);
	total = strtoul(total_s, &end, 10);
	if (*end || total < 1 || total > GEN_MAX) {
		fprintf(stderr, "roster_gen: TOTAL must be 1..%d\n", GEN_MAX);
		goto out;
	}
	if (!load(base, admin_path, &r, secret))
		goto out;
	if (total <= r.n_nodes || total - r.n_nodes > GEN_MAX) {
		fprintf(stderr, "roster_gen: TOTAL must exceed the %zu nodes of %s\n", r.n_nodes, base);
		goto out;
	}
	if (!add_nodes(&r, total)) {
		fprintf(stderr, "roster_gen: cannot add node %zu\n", r.n_nodes);
		goto out;
	}
	if (!next_save(&r, secret, out_path))
		goto out;
	printf("%zu nodes, serial %" PRIu64 "\n", r.n_nodes, r.serial);
	ret = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	roster_free(&r);
	return ret;
}

static void print_key(const char *what, const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	printf("%s %s\n", what, b64);
}

static struct roster_node *node_named(struct roster *r, const char *name)
{
	struct roster_node *n = roster_node_find(r, name);

	if (!n)
		fprintf(stderr, "roster_gen: no node %s\n", name);
	return n;
}

/* A node added as name with the fields of from (copied first: adding may move the array). */
static bool node_clone(struct roster *r, const char *name, const struct roster_node *from)
{
	struct roster_node copy = *from, *n;

	n = roster_node_add(r, name);
	if (!n)
		return false;
	memcpy(n->key, copy.key, KEY_LEN);
	n->has_addr4 = copy.has_addr4;
	memcpy(n->addr4, copy.addr4, 4);
	if (copy.n_endpoints) {
		n->endpoints = calloc(1, sizeof(*n->endpoints));
		if (!n->endpoints)
			return false;
		n->endpoints[0] = copy.endpoints[0];
		n->n_endpoints = 1;
	}
	return true;
}

static int change(const char *in, const char *admin_path, const char *out_path)
{
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN], priv[KEY_LEN] = { 0 };
	struct roster_node *n;
	struct roster r;
	int ret = 1;

	roster_init(&r);
	if (!load(in, admin_path, &r, secret))
		goto out;
	if (!(n = node_named(&r, "g00010")))
		goto out;
	n->endpoints[0].port++;
	if (!(n = node_named(&r, "g00011")))
		goto out;
	print_key("rekeyed-old", n->key);
	key_generate_private(priv);
	if (!key_public_from_private(n->key, priv))
		goto out;
	print_key("rekeyed-new", n->key);
	if (!(n = node_named(&r, "g00012")))
		goto out;
	print_key("removed", n->key);
	roster_node_remove(&r, "g00012");
	if (!(n = node_named(&r, "g00013")) || !node_clone(&r, "h00013", n) ||
	    !roster_node_remove(&r, "g00013"))
		goto out;
	if (!(n = node_named(&r, "g00014")) || !node_clone(&r, "x00000", n) ||
	    !(n = node_named(&r, "x00000")))
		goto out;
	key_generate_private(priv);
	if (!key_public_from_private(n->key, priv))
		goto out;
	n->addr4[2] = 255;	/* 100.64.255.x: past every generated node */
	print_key("added", n->key);
	if (next_save(&r, secret, out_path))
		ret = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(priv, sizeof(priv));
	roster_free(&r);
	return ret;
}

static int timing(const char *path)
{
	struct roster_errors errs = { 0 };
	uint8_t pinned[KEY_LEN], trusted[KEY_LEN];
	struct timespec t0;
	struct roster r;
	double parse_ms, verify_ms;
	char why[256];
	int ret = 1;

	roster_init(&r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!roster_load(path, &r, &errs)) {
		errors_print(&errs);
		goto out;
	}
	parse_ms = ms_since(&t0);
	memcpy(pinned, r.admin_key, KEY_LEN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!roster_verify(&r, pinned, trusted, why, sizeof(why))) {
		fprintf(stderr, "roster_gen: %s: %s\n", path, why);
		goto out;
	}
	verify_ms = ms_since(&t0);
	printf("%.3f %.3f\n", parse_ms, verify_ms);
	ret = 0;
out:
	roster_errors_free(&errs);
	roster_free(&r);
	return ret;
}

int main(int argc, char *argv[])
{
	if (!key_lib_init()) {
		fprintf(stderr, "roster_gen: libsodium init failed\n");
		return 1;
	}
	if (argc == 6 && !strcmp(argv[1], "gen"))
		return gen(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 3 && !strcmp(argv[1], "time"))
		return timing(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "change"))
		return change(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: roster_gen gen BASE.signed ADMIN.key TOTAL OUT | time FILE | "
	    "change IN ADMIN.key OUT\n");
	return 2;
}
