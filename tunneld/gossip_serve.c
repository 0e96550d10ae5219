/* The gossip server's decisions (see gossip_serve.h). */
#include "gossip_serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static bool node_has_addr(const struct roster_node *n, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return n->has_addr4 && memcmp(n->addr4,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4) == 0;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		/* A v4 node's address as seen on a dual-stack socket. */
		if (IN6_IS_ADDR_V4MAPPED(a))
			return n->has_addr4 && memcmp(n->addr4, a->s6_addr + 12, 4) == 0;
		return n->has_addr6 && memcmp(n->addr6, a->s6_addr, 16) == 0;
	}
	return false;
}

const struct roster_node *gossip_source_node(const struct roster_sync *rs,
    const struct sockaddr *sa)
{
	const struct roster *r = &rs->running;

	if (!rs->has_roster || !sa)
		return NULL;
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (&r->nodes[i] != rs->self && node_has_addr(&r->nodes[i], sa))
			return &r->nodes[i];
	}
	return NULL;
}

enum gossip_admit gossip_admit_check(const struct roster_sync *rs, const struct sockaddr *sa,
    unsigned from_source, unsigned total)
{
	if (!gossip_source_node(rs, sa))
		return GOSSIP_REFUSE_SOURCE;
	if (from_source >= GOSSIP_MAX_CONNS_PER_SOURCE)
		return GOSSIP_REFUSE_SOURCE_BUSY;
	if (total >= GOSSIP_MAX_CONNS)
		return GOSSIP_REFUSE_BUSY;
	return GOSSIP_ADMIT;
}

void gossip_addr_format(const struct sockaddr *sa, char out[static 48])
{
	strcpy(out, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		    48);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, 48);
}

static void answer(struct gossip_answer *ans, int code, const char *reason, const char *body,
    size_t len)
{
	ans->code = code;
	ans->reason = reason;
	ans->body = body;
	ans->len = len;
	ans->status = false;
}

void gossip_request_handle(const struct roster_sync *rs, gossip_offer_fn *offer,
    void *offer_ctx, const struct sockaddr *sa, enum evhttp_cmd_type cmd, const char *uri,
    const char *body, size_t len, struct gossip_answer *ans)
{
	char from[48], source[64], why[sizeof(ans->text) - 1];
	int n;

	answer(ans, 500, "Internal Server Error", NULL, 0);
	/* The connection was checked at accept; the roster may have changed since. */
	if (!gossip_source_node(rs, sa)) {
		answer(ans, 403, "Forbidden", NULL, 0);
		return;
	}
	/* Served: the last fully applied roster (text), nothing before there is one. */
	if (rs->revoked || !rs->has_roster || !rs->text) {
		answer(ans, 503, "Service Unavailable", NULL, 0);
		return;
	}
	if (!uri || (strcmp(uri, "/v1/serial") != 0 && strcmp(uri, "/v1/roster") != 0 &&
	    strcmp(uri, "/v1/status") != 0)) {
		answer(ans, 404, "Not Found", NULL, 0);
		return;
	}
	if (strcmp(uri, "/v1/status") == 0) {
		if (cmd != EVHTTP_REQ_GET)
			answer(ans, 405, "Method Not Allowed", NULL, 0);
		else
			answer(ans, 200, "OK", NULL, 0), ans->status = true;
		return;
	}
	if (cmd == EVHTTP_REQ_GET && strcmp(uri, "/v1/serial") == 0) {
		n = snprintf(ans->text, sizeof(ans->text), "%llu\n",
		    (unsigned long long)rs->text_serial);
		answer(ans, 200, "OK", ans->text, (size_t)n);
		return;
	}
	if (cmd == EVHTTP_REQ_GET && strcmp(uri, "/v1/roster") == 0) {
		answer(ans, 200, "OK", rs->text, rs->text_len);
		return;
	}
	if (cmd != EVHTTP_REQ_POST || strcmp(uri, "/v1/roster") != 0) {
		answer(ans, 405, "Method Not Allowed", NULL, 0);
		return;
	}
	if (len > ROSTER_MAX_BYTES || !body) {
		answer(ans, 413, "Payload Too Large", NULL, 0);
		return;
	}
	if (rs->text && len == rs->text_len && memcmp(body, rs->text, len) == 0) {
		answer(ans, 204, "No Content", NULL, 0);
		return;
	}
	gossip_addr_format(sa, from);
	snprintf(source, sizeof(source), "gossip from %s", from);
	why[0] = '\0';
	switch (offer(offer_ctx, body, len, source, why, sizeof(why))) {
	case ROSTER_OFFER_ACCEPTED:
	case ROSTER_OFFER_NOT_NEWER:
		answer(ans, 204, "No Content", NULL, 0);
		break;
	case ROSTER_OFFER_INVALID:
		n = snprintf(ans->text, sizeof(ans->text), "%s\n", why);
		answer(ans, 400, "Bad Request", ans->text,
		    n < 0 ? 0 : (size_t)n < sizeof(ans->text) ? (size_t)n : sizeof(ans->text) - 1);
		break;
	case ROSTER_OFFER_FAILED:
		answer(ans, 500, "Internal Server Error", NULL, 0);
		break;
	}
}
