/* A node's GET /v1/status answer, read strictly (see fleet.h and tunneld/status_view.h). */
#include <stdio.h>
#include <string.h>

#include "common/json_read.h"
#include "keys/fleet.h"

/* One element of "peers": counts it, and as live if its handshake is recent on the node's
 * own clock (time, read before "peers" by the writer's order; 0 if not).  A node lists each
 * other roster node at most once, so more than peers_max elements is no honest view. */
static bool peer_parse(struct json_read *r, struct fleet_node *f, size_t peers_max)
{
	struct json_read_members seen = { 0 };
	const char *key;
	uint64_t hs = 0;

	if (f->peers >= peers_max || !json_read_char(r, '{'))
		return false;
	if (!json_read_char(r, '}')) {
		do {
			if (!json_read_member(r, &seen, &key))
				return false;
			if (!strcmp(key, "last_handshake")) {
				if (!json_read_uint(r, &hs))
					return false;
			} else if (!json_read_skip(r)) {
				return false;
			}
		} while (json_read_char(r, ','));
		if (!json_read_char(r, '}'))
			return false;
	}
	f->peers++;
	if (hs && f->time >= hs && f->time - hs < FLEET_SESSION_LIVE)
		f->peers_live++;
	return true;
}

bool fleet_view_parse(struct fleet_node *f, const char *body, size_t len, size_t peers_max)
{
	struct json_read r;
	struct json_read_members seen = { 0 };
	const char *key;
	char name[ROSTER_NAME_MAX + 1] = "";
	bool has_serial = false, has_name = false;

	f->peers = f->peers_live = 0;
	f->time = 0;
	json_read_init(&r, body, len);
	if (!json_read_char(&r, '{'))
		goto bad;
	do {
		if (!json_read_member(&r, &seen, &key))
			goto bad;
		if (!strcmp(key, "serial")) {
			if (!json_read_uint(&r, &f->serial))
				goto bad;
			has_serial = true;
		} else if (!strcmp(key, "time")) {
			if (!json_read_uint(&r, &f->time))
				goto bad;
		} else if (!strcmp(key, "name")) {
			if (!json_read_null(&r) && !json_read_string(&r, name, sizeof(name)))
				goto bad;
			has_name = true;
		} else if (!strcmp(key, "peers")) {
			if (!json_read_char(&r, '['))
				goto bad;
			if (!json_read_char(&r, ']')) {
				do {
					if (!peer_parse(&r, f, peers_max))
						goto bad;
				} while (json_read_char(&r, ','));
				if (!json_read_char(&r, ']'))
					goto bad;
			}
		} else if (!json_read_skip(&r)) {
			goto bad;
		}
	} while (json_read_char(&r, ','));
	if (!json_read_char(&r, '}') || !json_read_end(&r) || !has_serial || !has_name)
		goto bad;
	/* Another node's answer at this address (a stale roster on either side). */
	if (strcmp(name, f->rn->name) != 0) {
		snprintf(f->error, sizeof(f->error), "answers as '%.40s'", name);
		return false;
	}
	return true;
bad:
	snprintf(f->error, sizeof(f->error), "invalid status answer");
	return false;
}
