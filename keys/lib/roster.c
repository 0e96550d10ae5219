/* The roster in memory: ownership, lookups, editing and canonical ordering. */
#include "keys/lib/roster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/mem.h"

void roster_init(struct roster *r)
{
	memset(r, 0, sizeof(*r));
	r->version = ROSTER_VERSION;
}

static void node_free(struct roster_node *n)
{
	free(n->subnets);
	free(n->endpoints);
	free(n->groups);
}

static void engineer_free(struct roster_engineer *e)
{
	size_t i;

	for (i = 0; i < e->n_ssh_keys; i++)
		roster_ssh_key_free(&e->ssh_keys[i]);
	free(e->ssh_keys);
	free(e->allows);
}

void roster_free(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->n_nodes; i++)
		node_free(&r->nodes[i]);
	for (i = 0; i < r->n_engineers; i++)
		engineer_free(&r->engineers[i]);
	free(r->nodes);
	free(r->engineers);
	free(r->endorsements);
	free(r->policy);
	roster_init(r);
}

void roster_errors_free(struct roster_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->count = 0;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct roster_node *)a)->name, ((const struct roster_node *)b)->name);
}

static int engineer_cmp(const void *a, const void *b)
{
	return strcmp(((const struct roster_engineer *)a)->name,
	    ((const struct roster_engineer *)b)->name);
}

static int prefix_qcmp(const void *a, const void *b)
{
	return roster_prefix_cmp(a, b);
}

static int group_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int allow_qcmp(const void *a, const void *b)
{
	return roster_allow_cmp(a, b);
}

static int policy_qcmp(const void *a, const void *b)
{
	return roster_policy_cmp(a, b);
}

void roster_sort(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->n_nodes; i++) {
		struct roster_node *n = &r->nodes[i];

		array_sort(n->subnets, n->n_subnets, sizeof(*n->subnets), prefix_qcmp);
		array_sort(n->groups, n->n_groups, sizeof(*n->groups), group_cmp);
	}
	for (i = 0; i < r->n_engineers; i++) {
		struct roster_engineer *e = &r->engineers[i];

		array_sort(e->allows, e->n_allows, sizeof(*e->allows), allow_qcmp);
	}
	array_sort(r->nodes, r->n_nodes, sizeof(*r->nodes), node_cmp);
	array_sort(r->engineers, r->n_engineers, sizeof(*r->engineers), engineer_cmp);
	array_sort(r->policy, r->n_policy, sizeof(*r->policy), policy_qcmp);
}

/* Binary search (parsed rosters are sorted: a hit is found in log n); any hit is a match. */
struct roster_node *roster_node_find(const struct roster *r, const char *name)
{
	size_t lo = 0, hi = r->n_nodes, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, r->nodes[mid].name);

		if (c == 0)
			return &r->nodes[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* A hand-built roster may be unsorted anywhere: confirm a miss by scanning. */
	for (i = 0; i < r->n_nodes; i++)
		if (strcmp(name, r->nodes[i].name) == 0)
			return &r->nodes[i];
	return NULL;
}

struct roster_node *roster_node_find_key(const struct roster *r, const uint8_t key[KEY_LEN])
{
	size_t i;

	for (i = 0; i < r->n_nodes; i++)
		if (sodium_memcmp(r->nodes[i].key, key, KEY_LEN) == 0)
			return &r->nodes[i];
	return NULL;
}

struct roster_engineer *roster_engineer_find(const struct roster *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_engineers; i++)
		if (strcmp(name, r->engineers[i].name) == 0)
			return &r->engineers[i];
	return NULL;
}

struct roster_node *roster_node_add(struct roster *r, const char *name)
{
	struct roster_node *nodes, *n;

	if (!roster_name_valid(name) || roster_node_find(r, name))
		return NULL;
	nodes = realloc(r->nodes, (r->n_nodes + 1) * sizeof(*nodes));
	if (!nodes)
		return NULL;
	r->nodes = nodes;
	n = &nodes[r->n_nodes++];
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	return n;
}

struct roster_engineer *roster_engineer_add(struct roster *r, const char *name)
{
	struct roster_engineer *engs, *e;

	if (!roster_name_valid(name) || roster_engineer_find(r, name))
		return NULL;
	engs = realloc(r->engineers, (r->n_engineers + 1) * sizeof(*engs));
	if (!engs)
		return NULL;
	r->engineers = engs;
	e = &engs[r->n_engineers++];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, name);
	return e;
}

bool roster_node_remove(struct roster *r, const char *name)
{
	struct roster_node *n = roster_node_find(r, name);
	size_t i;

	if (!n)
		return false;
	i = (size_t)(n - r->nodes);
	node_free(n);
	memmove(n, n + 1, (r->n_nodes - i - 1) * sizeof(*n));
	r->n_nodes--;
	return true;
}

bool roster_engineer_remove(struct roster *r, const char *name)
{
	struct roster_engineer *e = roster_engineer_find(r, name);
	size_t i;

	if (!e)
		return false;
	i = (size_t)(e - r->engineers);
	engineer_free(e);
	memmove(e, e + 1, (r->n_engineers - i - 1) * sizeof(*e));
	r->n_engineers--;
	return true;
}

bool roster_is_newer(const struct roster *running, const struct roster *candidate, char *why,
    size_t whylen)
{
	if (!running)
		return true;
	if (strcmp(running->network, candidate->network) != 0) {
		snprintf(why, whylen, "roster is for network '%s', not '%s'", candidate->network,
		    running->network);
		return false;
	}
	if (candidate->serial <= running->serial) {
		snprintf(why, whylen, "serial %llu is not newer than the running serial %llu",
		    (unsigned long long)candidate->serial, (unsigned long long)running->serial);
		return false;
	}
	return true;
}
