/* libFuzzer target: config_parse_uapi_set, the body of a UAPI `set=1` request as any local
 * client of the control socket may send it.  Checks the contract as well as memory safety:
 * 0 or a positive errno, a reason for every error, an empty config after an error, and
 * well-formed prefixes after success.
 *
 * Then the incremental path the socket takes: the same bytes arrive in chunks of sizes drawn
 * from the input's first byte, are framed by uapi_frame_next as they come, and the lines go to
 * config_uapi_feed.  The framing must agree with a naive split on '\n' (every complete line
 * once, in order, long lines reported once and never buffered, every byte counted, the input
 * left holding at most a short partial line), and the incremental parse must reach the same
 * verdict, errors and config as the whole-buffer parse of the same lines. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "keys/lib/key.h"
#include "tunneld/config.h"
#include "tunneld/uapi.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_uapi_set: %s\n", what);
	abort();
}

static void check_prefixes(const struct config_prefix *x, size_t n)
{
	size_t i;

	if (n && !x)
		fail("prefix count without an array");
	for (i = 0; i < n; i++) {
		if (x[i].family != AF_INET && x[i].family != AF_INET6)
			fail("prefix with an unknown family");
		if (x[i].cidr > (x[i].family == AF_INET ? 32 : 128))
			fail("prefix length out of range");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	return 0;
}

static bool config_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->n_peers != b->n_peers || a->has_private_key != b->has_private_key ||
	    a->has_listen_port != b->has_listen_port || a->listen_port != b->listen_port ||
	    a->has_fwmark != b->has_fwmark || a->fwmark != b->fwmark ||
	    a->replace_peers != b->replace_peers ||
	    memcmp(a->private_key, b->private_key, sizeof(a->private_key)))
		return false;
	for (i = 0; i < a->n_peers; i++) {
		const struct config_peer *x = &a->peers[i], *y = &b->peers[i];

		if (memcmp(x->public_key, y->public_key, sizeof(x->public_key)) ||
		    x->n_allowed_ips != y->n_allowed_ips || x->remove != y->remove ||
		    x->update_only != y->update_only || x->has_endpoint != y->has_endpoint ||
		    (x->has_endpoint && memcmp(&x->endpoint, &y->endpoint, sizeof(x->endpoint))) ||
		    x->has_preshared_key != y->has_preshared_key ||
		    memcmp(x->preshared_key, y->preshared_key, sizeof(x->preshared_key)) ||
		    x->replace_allowed_ips != y->replace_allowed_ips ||
		    x->has_persistent_keepalive != y->has_persistent_keepalive ||
		    x->persistent_keepalive != y->persistent_keepalive ||
		    (x->n_allowed_ips && memcmp(x->allowed_ips, y->allowed_ips,
		    x->n_allowed_ips * sizeof(*x->allowed_ips))))
			return false;
	}
	return true;
}

/* The socket's path: chunked arrival, uapi_frame_next, config_uapi_feed. */
static void check_incremental(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();
	struct uapi_framer f = { 0 };
	struct config_errors errs_inc = { 0 }, errs_whole = { 0 };
	struct config c_inc, c_whole;
	struct config_uapi u;
	char line[CONFIG_UAPI_LINE_MAX];
	uint32_t rng;
	size_t off = 1, ref = 1, counted = 1, n, taken, blank_at = 0, nl_len;
	const uint8_t *nl;
	enum uapi_frame r;
	bool done = false, reported_partial = false;
	int ret_inc, ret_whole;

	if (!in || size < 1)
		abort();
	rng = data[0] * 2654435761u + 1;
	config_uapi_begin(&u, &c_inc, &errs_inc);
	while (off < size || !done) {
		if (off < size) {
			rng = rng * 1103515245u + 12345u;
			n = 1 + (rng >> 16) % 700;
			if (n > size - off)
				n = size - off;
			if (evbuffer_add(in, data + off, n) < 0)
				abort();
			off += n;
		}
		while ((r = uapi_frame_next(&f, in, line, &n, &taken)) != UAPI_FRAME_NONE || taken) {
			counted += taken;
			if (r == UAPI_FRAME_NONE)
				continue;
			/* The naive reference: the next line of the input. */
			if (ref >= size)
				fail("a line framed past the end of the input");
			nl = memchr(data + ref, '\n', size - ref);
			nl_len = nl ? (size_t)(nl - (data + ref)) : size - ref;
			if (reported_partial)
				fail("a line framed after an unterminated long line");
			if (r == UAPI_FRAME_LINE) {
				if (!nl || nl_len != n || memcmp(line, data + ref, n))
					fail("a framed line differs from the input's next line");
				if (n >= CONFIG_UAPI_LINE_MAX)
					fail("a long line framed as a line");
			} else {
				if (nl_len < CONFIG_UAPI_LINE_MAX)
					fail("a short line reported as too long");
				if (memcmp(line, data + ref, CONFIG_UAPI_LINE_MAX))
					fail("a long line's head differs from the input");
				if (!nl)
					reported_partial = true;
				n = CONFIG_UAPI_LINE_MAX;
			}
			ref += nl_len + (nl ? 1 : 0);
			if (!blank_at) {
				if (r == UAPI_FRAME_LINE && n == 0)
					blank_at = ref;
				else
					config_uapi_feed(&u, line, n);
			}
			if (evbuffer_get_length(in) >= CONFIG_UAPI_LINE_MAX + 700)
				fail("input buffered beyond a line and a chunk");
		}
		if (off >= size)
			done = true;
	}
	/* Every complete line was framed; what is left is one partial line, short or dropped. */
	if (memchr(data + ref, '\n', size - ref))
		fail("a complete line was not framed");
	if (reported_partial) {
		if (evbuffer_get_length(in) || counted != size)
			fail("a long partial line was kept, or its bytes not counted");
	} else if (ref > size || evbuffer_get_length(in) != size - ref || counted != ref) {
		fail("a short partial line must be kept whole, and only complete lines counted");
	}
	ret_inc = config_uapi_end(&u);
	/* The whole-buffer parse of the same lines (up to the blank line, or all complete ones). */
	n = blank_at ? blank_at - 1 : ref - 1;
	ret_whole = config_parse_uapi_set((const char *)data + 1, n, &c_whole, &errs_whole);
	if (ret_inc != ret_whole || errs_inc.count != errs_whole.count)
		fail("incremental and whole-buffer parses disagree on the verdict");
	for (size_t i = 0; i < errs_inc.count; i++)
		if (strcmp(errs_inc.msgs[i], errs_whole.msgs[i]))
			fail("incremental and whole-buffer parses give different errors");
	if (!config_equal(&c_inc, &c_whole))
		fail("incremental and whole-buffer parses give different configs");
	config_free(&c_inc);
	config_free(&c_whole);
	config_errors_free(&errs_inc);
	config_errors_free(&errs_whole);
	evbuffer_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct config c;
	size_t i;
	char *body;
	int ret;

	/* Exact-size heap copy, not NUL-terminated: the parser must honour len. */
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	ret = config_parse_uapi_set(body, size, &c, &errs);
	if (ret < 0)
		fail("negative return (must be 0 or a positive errno)");
	if (ret) {
		if (!errs.count)
			fail("error without a reason");
		if (c.n_peers || c.peers || c.has_private_key || c.has_listen_port)
			fail("config not empty after an error");
	} else {
		if (errs.count)
			fail("success with errors");
		if (c.n_peers && !c.peers)
			fail("peer count without an array");
		for (i = 0; i < c.n_peers; i++)
			check_prefixes(c.peers[i].allowed_ips, c.peers[i].n_allowed_ips);
	}
	for (i = 0; i < errs.count; i++)
		if (!errs.msgs[i] || !strlen(errs.msgs[i]))	/* strlen: ASan checks the terminator */
			fail("error message missing or empty");
	config_free(&c);
	config_errors_free(&errs);
	free(body);
	if (size)
		check_incremental(data, size);
	return 0;
}
