/* libFuzzer target: the gossip server's decisions (tunneld/gossip_serve.c), what evhttp hands
 * over from a peer: the source address, the method, the request target and the body.  Each
 * input is one request (and one admission check) against a fixed running roster (the
 * "unsigned" roster seed: us = web-1, peer db-1 at 100.64.0.2 and fd00:5eed::2); a POSTed body
 * goes through roster_sync_check, the pure check the daemon runs (parse, network, serial,
 * signature against the seed's admin key).  Checks, besides memory safety, the contract
 * against a naive reference: only db-1's addresses (IPv4, IPv6, IPv4-mapped) are admitted or
 * served; a 200 only for the three GETs, with the running serial or roster, or for GET
 * /v1/status the mark that the caller writes the view (and no body); a body offered only
 * for a POST /v1/roster from db-1 while we run a roster and are not revoked, and never one
 * over ROSTER_MAX_BYTES or identical to the running roster.
 *
 * Input: byte 0 source (low 3 bits: db-1 v4, db-1 v6, db-1 v4-mapped, us, any v4 from the next
 * 4 bytes, any v6 from the next 16, AF_UNIX, none); byte 1 method (low 2 bits: GET, POST, PUT,
 * HEAD; bit 6 no roster, bit 7 revoked); byte 2 connections open from that source, byte 3 in
 * all; then the request target up to '\n', then the body. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "keys/lib/key.h"
#include "keys/lib/roster.h"
#include "tunneld/gossip_serve.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char running_text[] =
	"warren-roster 1\n"
	"network seed\n"
	"cidr 100.64.0.0/24\n"
	"cidr6 fd00:5eed::/64\n"
	"serial 2\n"
	"issued 2026-11-22T00:40:17Z\n"
	"admin Cq0kHyaIxquHQHODea1clCTheEl2UPQ3bk9pxKoNE8Y=\n"
	"node db-1\n"
	"\tkey m1i+c6G0Fd5wVxHRMRbTKa5IsUf0ulNx/pok99X/4EM=\n"
	"\taddress 100.64.0.2\n"
	"\taddress fd00:5eed::2\n"
	"\tendpoint [2001:db8::1]:51820\n"
	"\tgroup db\n"
	"node web-1\n"
	"\tkey G+JVt87A9yAZRw3MCT8IZdGMAuqjIs0CqDoaz3bBkzE=\n"
	"\taddress 100.64.0.1\n"
	"\taddress fd00:5eed::1\n"
	"\tsubnet 10.20.0.0/16\n"
	"\tendpoint 192.0.2.1:51820\n"
	"\tgroup web\n";

static struct roster_sync rs;
static uint8_t pinned[KEY_LEN];
static unsigned offers;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_gossip_request: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct roster_errors errs = { 0 };

	(void)argc;
	(void)argv;
	if (!key_lib_init() ||
	    !key_from_base64(pinned, "Cq0kHyaIxquHQHODea1clCTheEl2UPQ3bk9pxKoNE8Y="))
		abort();
	if (!roster_parse(running_text, sizeof(running_text) - 1, "running", &rs.running, &errs) ||
	    rs.running.n_nodes != 2)
		fail("the running roster does not parse");
	roster_errors_free(&errs);
	rs.text = (char *)running_text;
	rs.text_len = sizeof(running_text) - 1;
	rs.text_serial = rs.running.serial;
	rs.self = &rs.running.nodes[1];		/* web-1 */
	memcpy(rs.pinned, pinned, KEY_LEN);
	return 0;
}

/* The daemon's offer, minus persisting and applying. */
static enum roster_offer_result offer(void *ctx, const char *text, size_t len,
    const char *source, char *why, size_t whylen)
{
	struct roster out;
	uint8_t trusted[KEY_LEN];
	enum roster_offer_result res;

	(void)ctx;
	offers++;
	if (len > ROSTER_MAX_BYTES)
		fail("offered a body over ROSTER_MAX_BYTES");
	if (len == rs.text_len && memcmp(text, rs.text, len) == 0)
		fail("offered the running roster itself");
	res = roster_sync_check(&rs.running, pinned, text, len, source, &out, trusted, why, whylen);
	if (res == ROSTER_OFFER_ACCEPTED)
		roster_free(&out);
	else if (!why[0])
		fail("a rejection without a reason");
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t db4[4] = { 100, 64, 0, 2 };
	static const uint8_t db6[16] = { 0xfd, 0x00, 0x5e, 0xed, [15] = 2 };
	static const uint8_t web4[4] = { 100, 64, 0, 1 };
	static const enum evhttp_cmd_type cmds[4] = {
		EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PUT, EVHTTP_REQ_HEAD,
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	const uint8_t *p = data + 4, *end = data + size, *nl;
	struct gossip_answer ans;
	enum gossip_admit verdict;
	enum evhttp_cmd_type cmd;
	char *uri = NULL, *body = NULL;
	bool is_peer = false, is_post_roster, is_status, serving;
	size_t body_len;
	unsigned before;

	if (size < 4)
		return 0;
	memset(&ss, 0, sizeof(ss));
	switch (data[0] & 7) {
	case 0:
		in4->sin_family = AF_INET;
		memcpy(&in4->sin_addr, db4, 4);
		break;
	case 1:
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, db6, 16);
		break;
	case 2:
		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&in6->sin6_addr.s6_addr[12], db4, 4);
		break;
	case 3:
		in4->sin_family = AF_INET;
		memcpy(&in4->sin_addr, web4, 4);
		break;
	case 4:
		if (end - p < 4)
			return 0;
		in4->sin_family = AF_INET;
		memcpy(&in4->sin_addr, p, 4);
		p += 4;
		break;
	case 5:
		if (end - p < 16)
			return 0;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, p, 16);
		p += 16;
		break;
	case 6:
		ss.ss_family = AF_UNIX;
		break;
	case 7:
		sa = NULL;
		break;
	}
	/* The reference: db-1's addresses, written out. */
	if (sa && ss.ss_family == AF_INET)
		is_peer = memcmp(&in4->sin_addr, db4, 4) == 0;
	else if (sa && ss.ss_family == AF_INET6)
		is_peer = memcmp(&in6->sin6_addr, db6, 16) == 0 ||
		    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    memcmp(&in6->sin6_addr.s6_addr[12], db4, 4) == 0);
	cmd = cmds[data[1] & 3];
	rs.has_roster = !(data[1] & 0x40);
	rs.revoked = data[1] & 0x80;

	if (sa) {
		verdict = gossip_admit_check(&rs, sa, data[2] % 8, data[3] % 40);
		if ((verdict == GOSSIP_REFUSE_SOURCE) != (!is_peer || !rs.has_roster))
			fail("admission disagrees with the reference about the source");
		if (verdict == GOSSIP_ADMIT && (data[2] % 8 >= GOSSIP_MAX_CONNS_PER_SOURCE ||
		    data[3] % 40 >= GOSSIP_MAX_CONNS))
			fail("admitted beyond a connection cap");
		if (verdict != GOSSIP_ADMIT && verdict != GOSSIP_REFUSE_SOURCE &&
		    data[2] % 8 < GOSSIP_MAX_CONNS_PER_SOURCE && data[3] % 40 < GOSSIP_MAX_CONNS)
			fail("refused below the caps");
	}

	/* Exact-size heap copies (the target NUL-terminated, as evhttp gives it; the body not). */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl) {
		uri = malloc((size_t)(nl - p) + 1);
		if (!uri)
			return 0;
		memcpy(uri, p, (size_t)(nl - p));
		uri[nl - p] = '\0';
		p = nl + 1;
	}
	body_len = (size_t)(end - p);
	body = malloc(body_len ? body_len : 1);
	if (!body) {
		free(uri);
		return 0;
	}
	memcpy(body, p, body_len);

	before = offers;
	gossip_request_handle(&rs, offer, NULL, sa, cmd, uri, body, body_len, &ans);

	serving = is_peer && rs.has_roster && !rs.revoked;
	is_post_roster = cmd == EVHTTP_REQ_POST && uri && strcmp(uri, "/v1/roster") == 0;
	if (!is_peer || !rs.has_roster) {
		if (ans.code != 403)
			fail("a source that is not a roster node was not refused");
	} else if (rs.revoked && ans.code != 503) {
		fail("served while revoked");
	}
	if (offers != before && !(serving && is_post_roster))
		fail("offered a body that is not a roster node's POST /v1/roster");
	if (serving && is_post_roster && offers == before && ans.code != 204 &&
	    !(ans.code == 413 && body_len > ROSTER_MAX_BYTES))
		fail("a POST answered without an offer, not as 'the running roster'");
	if (ans.code == 200) {
		if (!serving || cmd != EVHTTP_REQ_GET || !uri)
			fail("200 for something that is not a served GET");
		if (strcmp(uri, "/v1/roster") == 0 &&
		    (ans.body != rs.text || ans.len != rs.text_len))
			fail("GET /v1/roster did not give the running roster");
		if (strcmp(uri, "/v1/serial") == 0 &&
		    (ans.len != 2 || memcmp(ans.body, "2\n", 2) != 0))
			fail("GET /v1/serial did not give the running serial");
	}
	is_status = uri && strcmp(uri, "/v1/status") == 0;
	if (ans.status && (!serving || cmd != EVHTTP_REQ_GET || !is_status || ans.code != 200 ||
	    ans.len))
		fail("the status view for something that is not a served GET /v1/status");
	if (serving && cmd == EVHTTP_REQ_GET && is_status && !ans.status)
		fail("a served GET /v1/status without the view");
	if (serving && cmd != EVHTTP_REQ_GET && is_status && ans.code != 405)
		fail("another method on /v1/status not answered 405");
	if (ans.len && ans.body != rs.text && ans.len >= sizeof(ans.text))
		fail("an answer longer than its buffer");
	if (!ans.reason || ans.code < 200 || ans.code > 599)
		fail("not an HTTP status");
	free(uri);
	free(body);
	return 0;
}
