/* Shared by tests/fuzz/fuzz_roster_offer.c and its seed generator (tests/fuzz/gen_corpus.c):
 * the fixed admin keys (A pinned, B endorsed by A) and the small roster the seeds are made
 * of.  Deterministic: the same keys and bytes on every run. */
#ifndef TESTS_SUPPORT_FUZZ_ROSTER_H
#define TESTS_SUPPORT_FUZZ_ROSTER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/lib/roster.h"

/* The harness's input: one mode byte, then the roster text. */
enum {
	FUZZ_ROSTER_SIGN_A = 1,		/* the harness appends a signature by A */
	FUZZ_ROSTER_SIGN_B = 2,		/* ... by B (reached through an endorse line) */
	FUZZ_ROSTER_RUNNING = 4,	/* checked against a running roster (serial 5) */
};

static inline void fuzz_roster_keys(uint8_t sec_a[ROSTER_ADMIN_SECRET_LEN],
    uint8_t pub_a[KEY_LEN], uint8_t sec_b[ROSTER_ADMIN_SECRET_LEN], uint8_t pub_b[KEY_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, 0xa1, sizeof(seed));
	crypto_sign_seed_keypair(pub_a, sec_a, seed);
	memset(seed, 0xb2, sizeof(seed));
	crypto_sign_seed_keypair(pub_b, sec_b, seed);
	sodium_memzero(seed, sizeof(seed));
}

/* Network "prod", three nodes (addresses, a subnet, endpoints, groups), admin key pub.
 * false on allocation failure. */
static inline bool fuzz_roster_build(struct roster *r, uint64_t serial,
    const uint8_t admin[KEY_LEN])
{
	static const char *names[3] = { "db-1", "gw", "web-1" };
	struct roster_node *n;

	roster_init(r);
	r->version = ROSTER_VERSION;
	memcpy(r->network, "prod", 5);
	r->cidr4.family = AF_INET;
	inet_pton(AF_INET, "100.64.0.0", r->cidr4.addr);
	r->cidr4.cidr = 16;
	r->has_cidr6 = true;
	r->cidr6.family = AF_INET6;
	inet_pton(AF_INET6, "fd00:1234::", r->cidr6.addr);
	r->cidr6.cidr = 48;
	r->serial = serial;
	r->issued = 1795305600;
	memcpy(r->admin_key, admin, KEY_LEN);
	for (unsigned i = 0; i < 3; i++) {
		if (!(n = roster_node_add(r, names[i])))
			return false;
		memset(n->key, 0x21 + (int)i, KEY_LEN);
		n->has_addr4 = true;
		inet_pton(AF_INET, i == 0 ? "100.64.0.1" : i == 1 ? "100.64.0.2" : "100.64.0.3",
		    n->addr4);
		n->has_addr6 = i != 2;
		inet_pton(AF_INET6, i == 0 ? "fd00:1234::1" : "fd00:1234::2", n->addr6);
		n->endpoints = calloc(1, sizeof(*n->endpoints));
		n->groups = calloc(1, sizeof(*n->groups));
		if (!n->endpoints || !n->groups)
			return false;
		n->n_endpoints = 1;
		snprintf(n->endpoints[0].host, sizeof(n->endpoints[0].host), "%s",
		    i == 2 ? "web-1.example.com" : "192.0.2.1");
		n->endpoints[0].port = (uint16_t)(51820 + i);
		n->n_groups = 1;
		snprintf(n->groups[0], sizeof(n->groups[0]), "%s", i == 1 ? "gw" : "app");
		if (i == 1) {
			n->subnets = calloc(1, sizeof(*n->subnets));
			if (!n->subnets)
				return false;
			n->n_subnets = 1;
			n->subnets[0].family = AF_INET;
			inet_pton(AF_INET, "10.20.0.0", n->subnets[0].addr);
			n->subnets[0].cidr = 16;
		}
	}
	return true;
}

#endif
