/* libFuzzer target: config_parse_uapi_set, the body of a UAPI `set=1` request as any local
 * client of the control socket may send it.  Checks the contract as well as memory safety:
 * 0 or a positive errno, a reason for every error, an empty config after an error, and
 * well-formed prefixes after success. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keys/lib/key.h"
#include "tunneld/config.h"

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
	return 0;
}
