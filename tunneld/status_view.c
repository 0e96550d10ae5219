/* The node's own view as JSON (see status_view.h). */
#include "status_view.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/json.h"
#include "device.h"
#include "wg/engine.h"
#include "roster_sync.h"

/* The roster's name of the node holding key, or NULL. */
static const char *node_name(const struct roster_sync *rs, const uint8_t key[WG_KEY_LEN])
{
	const struct roster *r = &rs->running;

	if (!rs->has_roster)
		return NULL;
	for (size_t i = 0; i < r->n_nodes; i++)
		if (memcmp(r->nodes[i].key, key, WG_KEY_LEN) == 0)
			return r->nodes[i].name;
	return NULL;
}

static void endpoint_write(FILE *f, const struct peer *p)
{
	char a[INET6_ADDRSTRLEN];

	if (p->endpoint.addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &p->endpoint.addr.in4.sin_addr, a, sizeof(a));
		fprintf(f, "\"%s:%u\"", a, ntohs(p->endpoint.addr.in4.sin_port));
	} else if (p->endpoint.addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &p->endpoint.addr.in6.sin6_addr, a, sizeof(a));
		fprintf(f, "\"[%s]:%u\"", a, ntohs(p->endpoint.addr.in6.sin6_port));
	} else {
		fputs("null", f);
	}
}

void status_view_write(FILE *f, const struct roster_sync *rs, uint64_t now_s)
{
	char b64[KEY_B64_LEN + 1];
	const char *name;
	const struct peer *p;
	bool first = true;

	fputs("{\"name\": ", f);
	if (rs->self)
		json_string_write(f, rs->self->name);
	else
		fputs("null", f);
	fputs(", \"network\": ", f);
	json_string_write(f, rs->has_roster ? rs->running.network : "");
	fprintf(f, ", \"serial\": %llu, \"time\": %llu, \"peers\": [",
	    (unsigned long long)rs->text_serial, (unsigned long long)now_s);
	for (p = rs->dev->peers_head; p; p = p->next) {
		const uint8_t *key = wg_peer_public_key(p->wg);

		/* Our own key is a peer only to answer during a rotation: not a link. */
		if (rs->self && memcmp(key, rs->self->key, WG_KEY_LEN) == 0)
			continue;
		fputs(first ? "{\"name\": " : ", {\"name\": ", f);
		first = false;
		name = node_name(rs, key);
		if (name)
			json_string_write(f, name);
		else
			fputs("null", f);
		key_to_base64(b64, key);
		fprintf(f, ", \"key\": \"%s\", \"endpoint\": ", b64);
		endpoint_write(f, p);
		fprintf(f, ", \"last_handshake\": %llu, \"rx_bytes\": %llu, \"tx_bytes\": %llu}",
		    (unsigned long long)(wg_peer_last_handshake_wall_ns(p->wg) / 1000000000u),
		    (unsigned long long)p->rx_bytes, (unsigned long long)p->tx_bytes);
	}
	fputs("]}\n", f);
}
